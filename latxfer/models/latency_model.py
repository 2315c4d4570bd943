"""The hierarchical Bayesian latency model: fit on source devices, adapt to a new one, save, load.

Typical use::

    model = LatencyModel("hier").fit(sources)              # sources: latency Dataset (device, arch), ms
    post = model.adapt(archs, latency_ms, device="new")    # n >= 0 target measurements -> AdaptedLatency
    post.posterior.summary()                               # mean / sd / 90% interval per architecture (ms)
    model.posterior_srcc(proxy_ms, post.posterior)         # posterior of SRCC(proxy, target)
    model.save("m.zarr"); load_model("m.zarr")

:class:`LatencyModel` holds the configuration and the fitted state and delegates: the source data to
:mod:`~latxfer.models.fitdata`, the graph to :mod:`~latxfer.models.graphs`, PyMC sampling and the exact
path to :mod:`~latxfer.models.sampling`, the prior mixture and fast path to :mod:`~latxfer.models.mixture`
(over :mod:`~latxfer.models.conjugate`), layer-wise data to :mod:`~latxfer.models.layerwise`, the SRCC
posterior to :mod:`~latxfer.models.srcc` and files to :mod:`~latxfer.models.io`.  The model is described
in ``docs/guide/model.md`` and ``docs/validation/``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import ConfigError, EmptyDataError, InvalidLatencyError, LatxferWarning
from latxfer.methods import Adapted, FewShotMethod, Prediction
from latxfer.models import layerwise, mixture, srcc
from latxfer.models.basis import FactorBasis
from latxfer.models.config import load_config
from latxfer.models.posterior import DevicePosterior
from latxfer.models.srcc import SRCCPosterior

# the old import path of these names (``from latxfer.models.latency_model import ...``) keeps working;
# new code imports them from :mod:`latxfer.models`
from latxfer.models.srcc import PSRCC_DISCREPANCY, widen_srcc  # noqa: E402, F401  isort: skip

__all__ = ["LatencyModel", "AdaptedLatency", "load_model"]


class AdaptedLatency(Adapted):
    """A latency model adapted to one target device; wraps its :class:`DevicePosterior`.

    Parameters
    ----------
    posterior : DevicePosterior
        The target's posterior.
    """

    def __init__(self, posterior: DevicePosterior):
        self.posterior = posterior

    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        """Posterior mean of the latency function and central predictive interval (ms)."""
        p = self.posterior.positions(archs)
        mean = self.posterior.mean(noise_free=True)[p]
        lo, hi = np.quantile(self.posterior.draws_ms[:, p], [(1 - interval) / 2, (1 + interval) / 2],
                             axis=0)
        return Prediction(np.asarray(archs, np.int64), mean, lo, hi, interval,
                          draws_ms=self.posterior.draws_ms[:, p], info=dict(self.posterior.info))


class LatencyModel(FewShotMethod):
    """Hierarchical Bayesian model of latency across devices (see module docstring).

    Parameters
    ----------
    config : str, path or dict, optional
        Named configuration in ``models/`` (default ``"hier"``), a TOML path or a dict of overrides of
        ``hier``.
    **overrides
        Section overrides, e.g. ``sampler={"draws": 200}``.

    Attributes
    ----------
    config : dict
        The full configuration.
    basis : FactorBasis
        Factor basis over every architecture of the space (after ``fit`` / ``load``).
    population : dict of str to numpy.ndarray
        Posterior draws (chains stacked on the first axis) of the population parameters.
    posterior_tree : xarray.DataTree
        The sampler's output (``/posterior``, ``/sample_stats``), as ArviZ reads it.
    source_devices : list of str
        Source device names.
    source_scales, source_latency : numpy.ndarray
        ``(D,)`` device scales (ms) and ``(D, A)`` latency tables (ms; NaN = not used).
    diagnostics, fit_info : dict
        Convergence diagnostics and provenance of the fit.
    """

    gives_intervals = True

    def __init__(self, config=None, **overrides):
        self.config = load_config(config, **overrides)
        self.name = self.config["model"]["name"]
        self.basis: FactorBasis | None = None
        self._layer_map_cache = self._op_proj_cache = None
        self.population: dict[str, np.ndarray] | None = None
        self.posterior_tree = None
        self.source_devices: list[str] = []
        self.source_scales: np.ndarray | None = None
        self.source_latency: np.ndarray | None = None
        self.space_name = "unknown"
        self.diagnostics: dict = {}
        self.fit_info: dict = {}
        self._fit_data: dict | None = None

    # ------------------------------------------------------------------------------------ fitting
    def fit(self, sources: xr.Dataset, space=None, *, seed: int | None = 0,
            progress: bool = False) -> LatencyModel:
        """Fit on source devices.

        Parameters
        ----------
        sources : xarray.Dataset
            Latency Dataset of the source devices (ms; NaN = not measured).
        space : SearchSpace, optional
            Default: ``load_space(sources.attrs["space"])``.
        seed : int, optional
            Seeds architecture sub-sampling and the sampler.
        progress : bool
            Show the sampler's progress bar.

        Returns
        -------
        LatencyModel
            This model, fitted.
        """
        from latxfer.models.fitdata import prepare_sources
        from latxfer.models.graphs import build_graph
        from latxfer.models.sampling import check_convergence, extract_population, sample

        t0 = time.perf_counter()
        sources.latx.validate()
        if sources.latx.has_layers:
            sources = sources.assign({D.LATENCY: sources.latx.end_to_end()})
            sources = sources.drop_vars([v for v in sources.data_vars if D.LAYER in sources[v].dims])
        cfg = self.config
        src = prepare_sources(cfg, sources, space, np.random.default_rng(seed))
        self.space_name, self._fit_data = src.space_name, src.fit_data
        self.basis, self.source_devices, self.source_scales = src.basis, src.devices, src.scales
        self._layer_map_cache = self._op_proj_cache = None
        self.source_latency = src.latency
        model = build_graph(cfg["model"]["variant"], priors=cfg["priors"], **src.fit_data)
        t1 = time.perf_counter()
        tree = sample(model, cfg["sampler"], seed=seed, progress=progress)
        self.posterior_tree = tree
        self.population = extract_population(tree)
        self.diagnostics = check_convergence(tree, cfg["sampler"])
        self.fit_info = {
            "seed": seed, "n_sources": len(src.devices), "n_obs": int(len(src.fit_data["dev_idx"])),
            "n_archs": int(len(src.basis.archs)), "fit_seconds": time.perf_counter() - t0,
            "sample_seconds": time.perf_counter() - t1, "dataset": sources.attrs.get("name", ""),
            "explained": src.basis.explained.tolist(), "noise_power": src.noise_power,
            **({"noise_power_per_source": {src.devices[d]: round(g, 3) for d, g in src.noise_per_source.items()}}
               if src.noise_per_source else {}),
        }
        return self

    # ------------------------------------------------------------------------------- adaptation
    def _require_fit(self):
        if self.population is None or self.basis is None:
            raise ConfigError("the model is not fitted: call fit(sources) or LatencyModel.load(path)")

    @property
    def _sigma_floor(self) -> float:
        return float(self.config["priors"]["sigma_floor"])

    def _noise_sd(self, log_sigma: np.ndarray) -> np.ndarray:
        """Noise sd (scaled units) from log sigma, with the configured floor (as in the graph)."""
        return np.sqrt(np.exp(2 * np.asarray(log_sigma)) + self._sigma_floor**2)

    def _check_target(self, archs, latency_ms):
        archs = np.atleast_1d(np.asarray(archs, dtype=np.int64))
        y = np.atleast_1d(np.asarray(latency_ms, dtype=float))
        if archs.shape != y.shape:
            raise ConfigError(f"{len(archs)} architectures but {len(y)} latencies")
        bad = ~np.isfinite(y) | (y <= 0)
        if bad.any():
            raise InvalidLatencyError(
                f"target latencies must be finite and > 0 ms; got {y[bad][:8].tolist()} for "
                f"architecture(s) {archs[bad][:8].tolist()}"
            )
        pos = self.basis.positions(archs)
        # repeated measurements of one architecture: keep them all (each is an observation)
        return archs, y, pos

    def _weighted(self, pos, y) -> tuple[np.ndarray, np.ndarray]:
        """Design rows and latencies of end-to-end measurements at ``pos``, divided by their relative noise
        sd (``basis.noise``): the fast path's likelihood is then homoscedastic (weighted least squares)."""
        w = self.basis.noise_at(pos)
        return self.basis.design(pos) / w[:, None], np.asarray(y, float) / w

    def _predictive(self, theta, scale, sigma, device, archs_meas, y_meas, rng, label, info, design=None):
        """Posterior predictive draws (ms) over every architecture from coefficient draws."""
        Z = self.basis.design() if design is None else design
        fn = scale[:, None] * (theta @ Z.T)  # (S, A) ms, noise-free latency function
        noise = (scale * sigma)[:, None] * self.basis.noise_at()[None, :]  # (S, A) ms
        draws = fn + noise * rng.standard_normal(fn.shape)
        floor = self.config["adapt"]["floor_ms"]
        np.maximum(draws, floor, out=draws)
        np.maximum(fn, floor, out=fn)
        measured = np.full(len(self.basis.archs), np.nan)
        if len(archs_meas):
            # repeated measurements of an architecture: their median is "the measured value"
            import pandas as pd

            med = pd.Series(y_meas).groupby(archs_meas).median()
            measured[self.basis.positions(med.index.to_numpy())] = med.to_numpy()
        return DevicePosterior(device, self.basis.archs, draws, measured, fn, label, info)

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None,
              method: str = "fast", progress: bool = False, allow_implausible: bool = False) -> AdaptedLatency:
        """Posterior of a new device given its measurements.

        Parameters
        ----------
        archs : array of int
            Measured architecture indices (n >= 0; repeats allowed).
        latency_ms : array of float
            Their latency in ms.
        device : str
            Name of the new device (labels only).
        rng : int or numpy.random.Generator, optional
            Seed of the draws.
        method : {"fast", "exact"}
            ``fast``: exact conditional update given the fitted population, vectorised over posterior
            draws (< 1 s).  ``exact``: joint NUTS re-fit of sources + target (slow; for checking).
        progress : bool
            Progress bar of the exact path's sampler.
        allow_implausible : bool
            Accept measurements that :func:`latxfer.data.check_plausible` flags against the sources (orders
            of magnitude off, conflicting repeats, no variation, a ranking like no source's) with an
            :class:`~latxfer.errors.ImplausibleLatencyWarning`; default: an
            :class:`~latxfer.errors.ImplausibleLatencyError` naming the values.

        Returns
        -------
        AdaptedLatency
            ``.posterior`` is a :class:`DevicePosterior` over every architecture of the space; with n = 0
            it is the population prior, labelled ``"prior (no target measurement)"``.
        """
        self._require_fit()
        rng = np.random.default_rng(rng)
        archs, y, pos = self._check_target(archs, latency_ms)
        if len(y):
            from latxfer.data.plausibility import check_plausible

            check_plausible({"device": device, "arch_index": archs, "latency_ms": y},
                            reference=self.reference_dataset(), allow_implausible=allow_implausible)
        t0 = time.perf_counter()
        label = "posterior" if len(y) else "prior (no target measurement)"
        extra: dict = {}
        if method == "fast":
            theta, scale, sigma, extra = mixture.adapt_fast(self, *self._weighted(pos, y), rng)
        elif method == "exact":
            from latxfer.models.sampling import adapt_exact

            theta, scale, sigma = adapt_exact(self, pos, y, rng, progress)
        else:
            raise ConfigError(f"unknown adaptation method {method!r}; expected 'fast' or 'exact'")
        info = {"model": self.name, "method": method, "n": int(len(y)),
                "adapt_seconds": time.perf_counter() - t0, **extra}
        post = self._predictive(theta, scale, sigma, device, archs, y, rng, label, info)
        post.info["total_seconds"] = time.perf_counter() - t0
        return AdaptedLatency(post)

    def novelty_weights(self, archs, latency_ms, *, rng=None,
                        n_draws: int = mixture.EVIDENCE_DRAWS) -> dict[float, float]:
        """Posterior weights of the novelty grid ``priors.op_count_sd`` given a target's measurements.

        A uniform hyperprior over the grid, updated by the marginal likelihood of the measurements
        (averaged over ``n_draws`` population draws).  Large weight on a large sd says the target is
        unlike every source device.
        """
        self._require_fit()
        _, y, pos = self._check_target(archs, latency_ms)
        return mixture.novelty_weights(self, pos, y, np.random.default_rng(rng), n_draws)

    def op_linear_map(self) -> np.ndarray:
        """``(M, M)`` map from a device's coefficients to those of its op-linear part
        (:func:`latxfer.models.mixture.op_linear_map`)."""
        self._require_fit()
        return mixture.op_linear_map(self)

    def layer_map(self) -> tuple[np.ndarray, np.ndarray]:
        """Linear map from a device's coefficients to its per-layer op costs
        (:func:`latxfer.models.layerwise.layer_map`)."""
        self._require_fit()
        return layerwise.layer_map(self)

    def adapt_layers(self, archs, layer_ms, *, intercept_ms: float | None = None, device: str = "target",
                     rng=None) -> AdaptedLatency:
        """Posterior of a new device from layer-wise measurements (fast path).

        Every observed non-reference layer cell is an observation ``y / s = B[feature] theta + noise`` of
        the device's coefficients (see :meth:`layer_map`), so n architectures give up to ``n x n_layers``
        observations.  Layer tables are additive by definition, so the predicted latency function is the
        additive part ``[1, X] B theta``.  An architecture counts as *measured* when all its layers and the
        intercept are known (its end-to-end latency is then known).

        Parameters
        ----------
        archs : array of int
            ``(n,)`` measured architectures.
        layer_ms : array
            ``(n, n_layers)`` per-layer latency in ms, relative to each layer's reference op (FBNet:
            ``skip``), as in ``fbnet-layers``; NaN = layer not measured.  Reference-op cells must be 0.
        intercept_ms : float, optional
            The device's end-to-end latency minus the sum of its layers (``intercept_ms`` of the layer
            tables).  Without it the ranking is as good, but absolute latency leans on the population prior.
        device : str
            Name of the new device.
        rng : int or numpy.random.Generator, optional
            Seed of the draws.

        Returns
        -------
        AdaptedLatency
        """
        self._require_fit()
        rng = np.random.default_rng(rng)
        t0 = time.perf_counter()
        archs, Y, Z, y = layerwise.layer_rows(self, archs, layer_ms, intercept_ms)
        if intercept_ms is None and len(y):
            warnings.warn(LatxferWarning(
                "layer-wise measurements without the device's intercept (end-to-end minus the sum of layers): "
                "the ranking uses the layers, but the absolute latency level comes from the population prior "
                "and its intervals are only as good as that prior (pass intercept_ms / --intercept-ms)"),
                stacklevel=2)
        theta, scale, sigma, extra = mixture.adapt_fast(self, Z, y, rng)
        full = np.isfinite(Y).all(axis=1) if intercept_ms is not None else np.zeros(len(archs), bool)
        e2e = Y[full].sum(axis=1) + (intercept_ms if intercept_ms is not None else 0.0)
        info = {"model": self.name, "method": "fast", "n": int(len(archs)), "n_layer_obs": int(len(y)),
                "observations": "layer-wise", "adapt_seconds": time.perf_counter() - t0, **extra}
        label = ("prior (no target measurement)" if not len(y) else "posterior (layer-wise measurements)"
                 if intercept_ms is not None else "posterior (layer-wise measurements; level from the prior)")
        # layer tables are additive by definition (end-to-end = sum of layers + intercept), so the device's
        # latency function is the additive part of Z theta: [1, X] B theta
        post = self._predictive(theta, scale, sigma, device, archs[full], e2e, rng, label, info,
                                design=self._layer_map_cache["additive"])
        post.info["total_seconds"] = time.perf_counter() - t0
        return AdaptedLatency(post)

    def adapt_dataset(self, target: xr.Dataset, device: str | None = None, **kw) -> AdaptedLatency:
        """:meth:`adapt` from a latency Dataset holding (at least) the target device.

        Layer-wise data (a ``layer`` dim, as ``fbnet-layers`` or a CSV with ``layer, op`` columns) go to
        :meth:`adapt_layers`, with the Dataset's ``intercept_ms`` when it has one.

        Parameters
        ----------
        target : xarray.Dataset
            Latency Dataset (ms).
        device : str, optional
            The target device (default: the Dataset's only device).
        **kw
            Passed to :meth:`adapt` / :meth:`adapt_layers`.

        Returns
        -------
        AdaptedLatency
        """
        devs = target.latx.devices
        if device is None:
            if len(devs) != 1:
                raise ConfigError(f"the target data hold {len(devs)} devices {devs}; name one")
            device = devs[0]
        if target.latx.has_layers:
            if kw.get("method", "fast") != "fast":
                raise ConfigError("layer-wise target measurements use the fast path (method='fast'); the exact "
                                  "re-fit takes end-to-end latencies")
            lat = target[D.LATENCY].sel({D.DEVICE: device})
            keep = np.isfinite(lat.values).any(axis=1)
            if not keep.any():
                raise EmptyDataError(f"no layer-wise measurement of device {device!r} in the target data")
            inter = None
            if "intercept_ms" in target:
                inter = float(target["intercept_ms"].sel({D.DEVICE: device}))
            kw.pop("method", None)
            kw.pop("progress", None)
            kw.pop("allow_implausible", None)  # layer-wise values are relative to a reference op
            return self.adapt_layers(lat[D.ARCH].values[keep], lat.values[keep], intercept_ms=inter,
                                     device=device, **kw)
        long = target.latx.select([device]).latx.to_long()
        if len(long) == 0:
            raise EmptyDataError(f"no measurement of device {device!r} in the target data")
        return self.adapt(long["arch_index"].to_numpy(), long["latency_ms"].to_numpy(), device=device,
                          **kw)

    def reference_dataset(self) -> xr.Dataset:
        """The source devices' latency (ms) as a latency Dataset: the plausibility checks' reference.

        Built once per model from ``source_latency`` (NaN cells, e.g. architectures not used in the fit,
        are left out).
        """
        self._require_fit()
        if getattr(self, "_reference_ds", None) is None:
            import pandas as pd

            from latxfer.data.tensor import from_long

            d, a = np.nonzero(np.isfinite(self.source_latency))
            long = pd.DataFrame({"device": np.asarray(self.source_devices, dtype=object)[d],
                                 "arch_index": self.basis.archs[a], "latency_ms": self.source_latency[d, a]})
            self._reference_ds = from_long(long, space=self.space_name, name="model sources")
        return self._reference_ds

    def source_latency_ms(self, device: str) -> np.ndarray:
        """The source device's latency table (ms over ``basis.archs``; NaN where not used)."""
        self._require_fit()
        if device not in self.source_devices:
            from latxfer.errors import UnknownDeviceError

            raise UnknownDeviceError(
                f"{device!r} is not a source device of this model; its sources are: "
                f"{', '.join(self.source_devices)}"
            )
        return self.source_latency[self.source_devices.index(device)]

    def known_device(self, device: str, *, rng=None) -> AdaptedLatency:
        """Posterior predictive of a *source* device from its own fitted parameters (no adaptation)."""
        self._require_fit()
        self.source_latency_ms(device)  # validates the name
        d = self.source_devices.index(device)
        pop = self.population
        rng = np.random.default_rng(rng)
        S_all = len(pop["intercept"])
        S = min(self.config["adapt"]["n_draws"], S_all)
        sel = np.sort(rng.choice(S_all, S, replace=False))
        theta = mixture.source_theta(self, sel, d)
        scale = np.full(S, self.source_scales[d])
        sigma = self._noise_sd(pop["log_sigma"][sel, d])
        y = self.source_latency[d]
        meas = np.isfinite(y)
        post = self._predictive(theta, scale, sigma, device, self.basis.archs[meas], y[meas], rng,
                                "source device (fitted, not adapted)", {"model": self.name, "method": "known"})
        return AdaptedLatency(post)

    # ------------------------------------------------------------------------ monotonicity
    def posterior_srcc(self, proxy_ms, post: DevicePosterior, *, threshold: float = 0.9,
                       prob: float = 0.9, archs=None, discrepancy: float | None = None) -> SRCCPosterior:
        """Posterior of SRCC(proxy, target): :func:`latxfer.models.srcc.posterior_srcc` (needs no model)."""
        return srcc.posterior_srcc(proxy_ms, post, threshold=threshold, prob=prob, archs=archs,
                                   discrepancy=discrepancy)

    def expected_rank_quality(self, post: DevicePosterior, *, prob: float = 0.9) -> SRCCPosterior:
        """Posterior of SRCC(posterior-mean ranking, true target latency) on unmeasured architectures
        (:func:`latxfer.models.srcc.expected_rank_quality`)."""
        return srcc.expected_rank_quality(post, prob=prob)

    # ----------------------------------------------------------------------------- persistence
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Save the fitted model (see :func:`latxfer.models.io.save_model`)."""
        from latxfer.models.io import save_model

        self._require_fit()
        return save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path, *, config=None) -> LatencyModel:
        """Load a model saved by :meth:`save` (see :func:`latxfer.models.io.load_model`)."""
        from latxfer.models.io import load_model as _load

        return _load(path, config=config, cls=cls)


def load_model(path, *, config=None) -> LatencyModel:
    """Load a fitted :class:`LatencyModel` from ``path`` (see :func:`latxfer.models.io.load_model`).

    Parameters
    ----------
    path : str or os.PathLike
        A store written by :meth:`LatencyModel.save`.
    config : str, path or dict, optional
        Refuse the model unless it was fitted with this configuration.

    Returns
    -------
    LatencyModel
    """
    return LatencyModel.load(path, config=config)
