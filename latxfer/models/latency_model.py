"""The hierarchical Bayesian latency model: fit on source devices, adapt to a new one, save, load.

Typical use::

    model = LatencyModel("hier").fit(sources)              # sources: latency Dataset (device, arch), ms
    post = model.adapt(archs, latency_ms, device="new")    # n >= 0 target measurements -> AdaptedLatency
    post.posterior.summary()                               # mean / sd / 90% interval per architecture (ms)
    model.posterior_srcc(proxy_ms, post.posterior)         # posterior of SRCC(proxy, target)
    model.save("m.zarr"); LatencyModel.load("m.zarr")

The model, its identifiability choices and the fast / exact adaptation paths are described in
:mod:`latxfer.models.graphs`, :mod:`latxfer.models.basis` and :mod:`latxfer.models.conjugate`, and in
``docs/bayes.md``.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import (
    ConfigError,
    ConvergenceWarning,
    EmptyDataError,
    InsufficientDataError,
    InvalidLatencyError,
    LatxferWarning,
    ModelFileError,
    ModelVersionError,
    UndefinedCorrelationError,
)
from latxfer.methods import Adapted, FewShotMethod, Prediction
from latxfer.models.basis import (
    FactorBasis,
    build_basis,
    noise_scale,
    novelty_directions,
    scale_sources,
)
from latxfer.models.config import config_hash, load_config
from latxfer.models.conjugate import adapt_draws, design_eig, lowrank
from latxfer.models.graphs import build_graph
from latxfer.models.posterior import DevicePosterior

__all__ = ["LatencyModel", "AdaptedLatency", "SRCCPosterior", "load_model", "MODEL_TYPE",
           "MODEL_FORMAT_VERSION", "PSRCC_DISCREPANCY", "widen_srcc"]

MODEL_TYPE = "latxfer.LatencyModel"
MODEL_FORMAT_VERSION = "1"


#: Population draws that estimate the evidence of each novelty sd (the mixture weights).
_EVIDENCE_DRAWS = 60

#: Model discrepancy of :meth:`LatencyModel.posterior_srcc`: the sd, on the Fisher-z scale, of the error
#: between the true SRCC(proxy, target) and what the model's posterior of it does not see (see
#: :func:`widen_srcc`).  The model's own posterior is too narrow on new devices whose ranking departs from
#: the sources' structure, and more so as measurements narrow it (phones left out of the sources: its 90%
#: interval held 71% of their true SRCCs, 90-100% on GPUs and Xeons).  The value is the 90th percentile, over
#: cases on devices that are not targets (HELP NB201 validation devices and three phones each left out of
#: the sources, n = 5, 10, 20), of the discrepancy each case needed for its 90% interval to hold the true
#: SRCC; chosen by docs/results/experiments/psrcc_nontarget.py (docs/bayes.md, "Calibration of
#: posterior_srcc").
PSRCC_DISCREPANCY = 0.09


def _package_version() -> str:
    from latxfer import __version__

    return __version__


@dataclass
class SRCCPosterior:
    """Posterior distribution of a Spearman rank correlation.

    Attributes
    ----------
    draws : numpy.ndarray
        SRCC per posterior draw (for ``posterior_srcc``: with the model discrepancy, see
        :func:`widen_srcc`).
    threshold : float
        The monotonicity threshold (default 0.9).
    prob : float
        Interval probability.
    raw_draws : numpy.ndarray, optional
        The model's own draws, before the discrepancy was added (None when none was).
    """

    draws: np.ndarray
    threshold: float = 0.9
    prob: float = 0.9
    info: dict = field(default_factory=dict)
    raw_draws: np.ndarray | None = None

    @property
    def mean(self) -> float:
        """Posterior mean SRCC."""
        return float(np.mean(self.draws))

    @property
    def interval(self) -> tuple[float, float]:
        """Central ``prob`` credible interval."""
        lo, hi = np.quantile(self.draws, [(1 - self.prob) / 2, (1 + self.prob) / 2])
        return float(lo), float(hi)

    @property
    def p_above(self) -> float:
        """P(SRCC >= threshold)."""
        return float(np.mean(self.draws >= self.threshold))

    @property
    def prior_only(self) -> bool:
        """True when the target has no measurement: the posterior is the population prior."""
        return self.info.get("n_measured", 1) == 0

    def decision(self, confidence: float = 0.9) -> str:
        """``"reuse"`` if P(SRCC >= threshold) >= confidence, ``"adapt"`` if <= 1 - confidence, else
        ``"measure more"``.

        With no target measurement the answer is always ``"measure more"``: the population prior says
        how a *random* new device relates to the proxy, not this one (on FBNet's mixed GPU/CPU/phone
        sources it is confidently below 0.9 for pixel3, while eyeriss is at 0.976)."""
        if self.prior_only:
            return "measure more"
        if self.p_above >= confidence:
            return "reuse"
        if self.p_above <= 1 - confidence:
            return "adapt"
        return "measure more"

    def to_dict(self, confidence: float = 0.9) -> dict:
        """JSON-friendly summary (with ``raw_draws``: also the model's own interval, ``model_lower`` /
        ``model_upper``)."""
        lo, hi = self.interval
        out = {"mean": self.mean, "lower": lo, "upper": hi, "interval": self.prob,
               "threshold": self.threshold, "p_above_threshold": self.p_above,
               "decision": self.decision(confidence), "confidence": confidence, **self.info}
        if self.raw_draws is not None:
            out["model_lower"], out["model_upper"] = self.model_posterior().interval
        return out

    def model_posterior(self) -> SRCCPosterior:
        """The model's own posterior (``raw_draws``, before the discrepancy) with the same threshold and
        interval probability; this one itself when no discrepancy was added."""
        if self.raw_draws is None:
            return self
        return SRCCPosterior(self.raw_draws, self.threshold, self.prob, self.info)


def widen_srcc(draws: np.ndarray, discrepancy: float) -> np.ndarray:
    """Add a model discrepancy of sd ``discrepancy`` on the Fisher-z scale to draws of a rank correlation.

    ``z = arctanh(r)`` is spread about its mean so that its variance becomes ``var(z) + discrepancy**2``:
    each draw becomes ``tanh(mean(z) + (z - mean(z)) * sqrt(1 + discrepancy**2 / var(z)))``.  The draws keep
    their order and shape and stay inside (-1, 1); a small posterior sd is widened more than a large one.
    ``discrepancy = 0`` (or draws that are all equal) returns the draws unchanged.
    """
    discrepancy = float(discrepancy)
    if not np.isfinite(discrepancy) or discrepancy < 0:
        raise ConfigError(f"the SRCC discrepancy must be a number >= 0, got {discrepancy!r}")
    draws = np.asarray(draws, float)
    z = np.arctanh(np.clip(draws, -1 + 1e-9, 1 - 1e-9))
    var = float(np.nanvar(z))
    if discrepancy == 0 or not var > 0:
        return draws
    zc = np.nanmean(z)
    return np.tanh(zc + (z - zc) * np.sqrt(1 + discrepancy**2 / var))


def _ranks_rows(M: np.ndarray) -> np.ndarray:
    """Ranks along the last axis (ties broken arbitrarily; for continuous draws)."""
    order = np.argsort(M, axis=-1)
    ranks = np.empty_like(order, dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(M.shape[-1], dtype=np.float64)[None, :], axis=-1)
    return ranks


def _srcc_rows(fixed_ranks: np.ndarray, M: np.ndarray) -> np.ndarray:
    """SRCC between one ranked vector and each row of M (Pearson of ranks)."""
    r = _ranks_rows(M)
    a = fixed_ranks - fixed_ranks.mean()
    r = r - r.mean(axis=1, keepdims=True)
    den = np.sqrt((a**2).sum() * (r**2).sum(axis=1))
    return (r @ a) / den


class AdaptedLatency(Adapted):
    """A latency model adapted to one target device; wraps its :class:`DevicePosterior`."""

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
        Named configuration in ``models/`` (default ``"hier"`` values), a TOML path or a dict.
    **overrides
        Section overrides, e.g. ``sampler={"draws": 200}``.
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
    def _space_and_encoding(self, sources: xr.Dataset, space):
        from latxfer.data.datasets import load_space

        name = sources.attrs.get("space", "unknown")
        if space is None and name != "unknown":
            try:
                space = load_space(name)
            except Exception:  # noqa: BLE001 - fall back to the dataset's own architectures
                space = None
        if space is not None:
            archs = space.enumerate()
            X = space.encode(archs, coding=self.config["model"]["coding"])
            # every SearchSpace counts its op types (the novelty directions need them)
            return space.name, archs, X, np.asarray(space.op_counts(archs), dtype=float)
        return (name, np.asarray(sources[D.ARCH].values, np.int64), np.zeros((sources.sizes[D.ARCH], 0)),
                None)

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
        """
        t0 = time.perf_counter()
        sources.latx.validate()
        if sources.latx.has_layers:
            sources = sources.assign({D.LATENCY: sources.latx.end_to_end()})
            sources = sources.drop_vars([v for v in sources.data_vars if D.LAYER in sources[v].dims])
        cfg = self.config
        K = cfg["model"]["n_factors"]
        devices = sources.latx.devices
        if len(devices) < 2 and cfg["model"]["variant"] == "hierarchical":
            raise InsufficientDataError(
                f"the hierarchical model needs at least 2 source devices to learn a population, got "
                f"{devices}; use the 'pooled' configuration for a single source"
            )
        if K > len(devices):
            raise InsufficientDataError(
                f"n_factors={K} needs at least {K} source devices, got {len(devices)}: {devices}"
            )
        rng = np.random.default_rng(seed)
        self.space_name, archs, X, counts = self._space_and_encoding(sources, space)
        Yds = sources.latx.latency_matrix()
        ds_archs = np.asarray(sources[D.ARCH].values, np.int64)
        pos = np.searchsorted(archs, ds_archs)
        if np.any(pos >= len(archs)) or np.any(archs[np.minimum(pos, len(archs) - 1)] != ds_archs):
            raise InvalidLatencyError("the source Dataset has architectures outside its search space")
        Y = np.full((len(devices), len(archs)), np.nan)
        Y[:, pos] = Yds
        n_src = cfg["model"]["source_archs"]
        if n_src:
            for d in range(len(devices)):
                meas = np.where(np.isfinite(Y[d]))[0]
                if len(meas) > n_src:
                    drop = np.setdiff1d(meas, rng.choice(meas, n_src, replace=False))
                    Y[d, drop] = np.nan
        scales = scale_sources(Y)
        Ys = Y / scales[:, None]
        basis = build_basis(Ys, X, archs, K)
        if counts is not None:
            basis.generic = novelty_directions(basis, counts)
        basis.noise, noise_power, noise_per_source = noise_scale(Ys, basis, cfg["model"]["noise_power"])
        # observations of the NUTS likelihood: a random subset of each device's measured archs
        n_fit = cfg["model"]["fit_archs"]
        dev_idx, arch_pos = [], []
        for d in range(len(devices)):
            meas = np.where(np.isfinite(Ys[d]))[0]
            if n_fit and len(meas) > n_fit:
                meas = np.sort(rng.choice(meas, n_fit, replace=False))
            dev_idx.append(np.full(len(meas), d))
            arch_pos.append(meas)
        dev_idx = np.concatenate(dev_idx)
        arch_pos = np.concatenate(arch_pos)
        self._fit_data = {
            "devices": devices, "dev_idx": dev_idx, "F_rows": basis.F[arch_pos],
            "Q_rows": basis.Q[arch_pos], "y_scaled": Ys[dev_idx, arch_pos],
            "log_scales": np.log(scales),
            "noise_rows": None if basis.noise is None else basis.noise[arch_pos],
        }
        self.basis, self.source_devices, self.source_scales = basis, devices, scales
        self._layer_map_cache = self._op_proj_cache = None
        self.source_latency = Y  # (D, A) ms over basis.archs, NaN = not measured / not used
        model = build_graph(cfg["model"]["variant"], priors=cfg["priors"], **self._fit_data)
        t1 = time.perf_counter()
        tree = self._sample(model, seed=seed, progress=progress)
        self.posterior_tree = tree
        self.population = self._extract_population(tree)
        self.diagnostics = self._check_convergence(tree)
        self.fit_info = {
            "seed": seed, "n_sources": len(devices), "n_obs": int(len(dev_idx)),
            "n_archs": int(len(archs)), "fit_seconds": time.perf_counter() - t0,
            "sample_seconds": time.perf_counter() - t1, "dataset": sources.attrs.get("name", ""),
            "explained": basis.explained.tolist(), "noise_power": noise_power,
            **({"noise_power_per_source": {devices[d]: round(g, 3) for d, g in noise_per_source.items()}}
               if noise_per_source else {}),
        }
        return self

    def _sample(self, model, *, seed, progress, var_names=None):
        import pymc as pm

        s = self.config["sampler"]
        with model:
            if s["name"] in ("nutpie", "pymc", "numpyro"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    warnings.simplefilter("ignore", UserWarning)
                    return pm.sample(
                        draws=s["draws"], tune=s["tune"], chains=s["chains"], cores=min(s["chains"], 2),
                        nuts_sampler=s["name"], random_seed=seed, progressbar=progress,
                        target_accept=s["target_accept"], compute_convergence_checks=False,
                        var_names=var_names,
                    )
            if s["name"] == "advi":
                approx = pm.fit(s["advi_iterations"], method="advi", random_seed=seed,
                                progressbar=progress)
                return approx.sample(s["draws"] * s["chains"], random_seed=seed)
            # map: a single point, repeated so downstream code sees draws
            point = pm.find_MAP(progressbar=progress, seed=seed)
            import arviz as az

            post = {k: np.asarray(v)[None, None] for k, v in point.items()
                    if not k.endswith(("__", "_log__", "_interval__", "_cholesky-cov-packed__"))}
            return az.from_dict({"posterior": post})

    def _extract_population(self, tree) -> dict[str, np.ndarray]:
        post = tree["posterior"] if "posterior" in tree.children else tree
        out = {}
        for name in post.data_vars if hasattr(post, "data_vars") else post.ds.data_vars:
            da = post[name]
            da = da.stack(sample=(D.CHAIN, D.DRAW)).transpose("sample", ...)
            out[name] = np.asarray(da.values)
        return out

    def _check_convergence(self, tree) -> dict:
        s = self.config["sampler"]
        if s["name"] not in ("nutpie", "pymc", "numpyro") or s["chains"] < 2:
            return {"checked": False, "reason": f"sampler {s['name']!r} with {s['chains']} chain(s)"}
        import arviz as az

        post = tree["posterior"]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant entries (zeros of a Cholesky)
            rhat = az.rhat(tree)
            ess_b = az.ess(tree, method="bulk")
            ess_t = az.ess(tree, method="tail")
        bad, worst_rhat, min_ess = [], 1.0, np.inf
        for v in post.data_vars:
            r = np.asarray(rhat[v].values, float)
            eb = np.asarray(ess_b[v].values, float)
            et = np.asarray(ess_t[v].values, float)
            r, eb, et = r[np.isfinite(r)], eb[np.isfinite(eb)], et[np.isfinite(et)]
            if r.size:
                worst_rhat = max(worst_rhat, float(r.max()))
            if eb.size:
                min_ess = min(min_ess, float(eb.min()), float(et.min()) if et.size else np.inf)
            if (r.size and r.max() > s["rhat_max"]) or (eb.size and eb.min() < s["ess_min"]) or (
                    et.size and et.min() < s["ess_min"]):
                bad.append(f"{v} (r_hat {r.max() if r.size else np.nan:.3f}, "
                           f"ess_bulk {eb.min() if eb.size else np.nan:.0f}, "
                           f"ess_tail {et.min() if et.size else np.nan:.0f})")
        div = 0
        if "sample_stats" in tree.children and "diverging" in tree["sample_stats"].data_vars:
            div = int(np.asarray(tree["sample_stats"]["diverging"].values).sum())
        diag = {"checked": True, "max_rhat": worst_rhat, "min_ess": min_ess, "divergences": div,
                "failing": bad, "converged": not bad and div == 0}
        if bad or div:
            warnings.warn(
                "the sampler did not converge: "
                + (f"{div} divergent transition(s); " if div else "")
                + (f"parameters beyond r_hat <= {s['rhat_max']} / ESS >= {s['ess_min']}: "
                   + "; ".join(bad[:8]) if bad else "")
                + ". Increase sampler.tune/draws or check the data.",
                ConvergenceWarning, stacklevel=3,
            )
        return diag

    # ------------------------------------------------------------------------------- adaptation
    def _require_fit(self):
        if self.population is None or self.basis is None:
            raise ConfigError("the model is not fitted: call fit(sources) or LatencyModel.load(path)")

    def _prior_blocks(self, sel: np.ndarray, novelty_sd: float = 0.0) -> tuple:
        """Prior mean ``(S, M)`` and covariance factor ``(S, M, R)`` of a new device's coefficients."""
        pop, K, P = self.population, self.basis.K, self.basis.P
        S, M = len(sel), 1 + K + P
        variant = self.config["model"]["variant"]
        mean = np.zeros((S, M))
        chol = np.zeros((S, M, M))
        mean[:, 0] = pop["intercept_mu"][sel]
        chol[:, 0, 0] = pop["intercept_sd"][sel]
        if variant == "hierarchical":
            if K:
                mean[:, 1:1 + K] = pop["loading_mu"][sel]
                chol[:, 1:1 + K, 1:1 + K] = pop["loading_chol"][sel].reshape(S, K, K)
            if P:
                mean[:, 1 + K:] = pop["op_cost_mu"][sel]
                idx = np.arange(1 + K, M)
                tau = pop["op_cost_tau"][sel]
                chol[:, idx, idx] = tau[:, None] if tau.ndim == 1 else tau
        elif variant == "pooled":
            if K:
                mean[:, 1:1 + K] = pop["loading"][sel]
            if P:
                mean[:, 1 + K:] = pop["op_cost"][sel]
        else:
            pr = self.config["priors"]
            idx = np.arange(1, 1 + K)
            chol[:, idx, idx] = pr["unpooled_loading_sd"]
            idx = np.arange(1 + K, M)
            chol[:, idx, idx] = pr["unpooled_op_cost_sd"]
        W = self._novelty(novelty_sd)
        if W is not None:
            # prior covariance L L' + sd^2 W W': a (non-square) factor [L, sd W] is all the update needs
            chol = np.concatenate([chol, np.broadcast_to(W, (S,) + W.shape)], axis=-1)
        return mean, chol

    def _novelty_grid(self) -> list[float]:
        """The configured novelty sds (``priors.op_count_sd``); ``[0.0]`` when the basis has none."""
        nov = self.config["priors"].get("op_count_sd", 0.0)
        grid = [float(v) for v in (nov if isinstance(nov, list) else [nov])]
        if self.basis is None or self.basis.generic is None:
            return [0.0]
        return grid

    def _novelty(self, sd: float) -> np.ndarray | None:
        """``sd * W`` (see :func:`~latxfer.models.basis.novelty_directions`), or None if off."""
        if sd <= 0 or self.basis is None or self.basis.generic is None:
            return None
        return sd * self.basis.generic

    def _run_fast(self, draws, sd, Z, y, rng, evidence_only=False) -> dict:
        return self._update(draws, *self._prior_blocks(draws, sd), Z, y, rng, evidence_only)

    def _update(self, draws, mean, chol, Z, y, rng, evidence_only=False, eig=None) -> dict:
        """The fast path's conditional update from the prior ``N(mean, chol chol')`` for population ``draws``
        (``eig``: :func:`~latxfer.models.conjugate.design_eig` of ``Z`` and this prior, if known)."""
        pop = self.population
        return adapt_draws(
            Z, y, mean, chol, pop["log_scale_mu"][draws], pop["log_scale_sd"][draws],
            pop["log_sigma_mu"][draws], pop["log_sigma_sd"][draws], rng,
            grid_scale=self.config["adapt"]["grid_scale"], grid_noise=self.config["adapt"]["grid_noise"],
            sigma_floor=self._sigma_floor, evidence_only=evidence_only, eig=eig,
        )

    def novelty_weights(self, archs, latency_ms, *, rng=None,
                        n_draws: int = _EVIDENCE_DRAWS) -> dict[float, float]:
        """Posterior weights of the novelty grid ``priors.op_count_sd`` given a target's measurements.

        A uniform hyperprior over the grid, updated by the marginal likelihood of the measurements
        (averaged over ``n_draws`` population draws).  Large weight on a large sd says the target is
        unlike every source device.
        """
        self._require_fit()
        _, y, pos = self._check_target(archs, latency_ms)
        grid = self._novelty_grid()
        if len(grid) == 1:
            return {grid[0]: 1.0}
        rng = np.random.default_rng(rng)
        comps = [("population", sd, 1.0 / len(grid)) for sd in grid]
        Z, yw = self._weighted(pos, y)
        log_z = self._component_log_z(self._evidence_draws(rng, n_draws), comps, Z, yw, rng)
        w = np.exp(log_z - log_z.max())
        return dict(zip(grid, (w / w.sum()).tolist(), strict=True))

    def _evidence_draws(self, rng, n: int = _EVIDENCE_DRAWS) -> np.ndarray:
        """A random, sorted subset of ``n`` population draws over which component evidence is averaged."""
        S_all = len(self.population["intercept_mu"])
        return np.sort(rng.permutation(S_all)[:min(n, S_all)])

    def _source_theta(self, sel, d: int) -> np.ndarray:
        """``(S, 1 + K + P)`` coefficients of source ``d`` at population draws ``sel``."""
        pop, K, P = self.population, self.basis.K, self.basis.P
        theta = np.zeros((len(sel), 1 + K + P))
        theta[:, 0] = pop["intercept"][sel, d]
        lo, oc = pop["loading"][sel], pop["op_cost"][sel]
        if K:
            theta[:, 1:1 + K] = lo[:, d] if lo.ndim == 3 else lo
        if P:
            theta[:, 1 + K:] = oc[:, d] if oc.ndim == 3 else oc
        return theta

    def _source_prior(self, sel, d: int, linear: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Prior of a new device *near source d*: centred on d's coefficients (or, ``linear``, on those of
        d's op-linear part, :meth:`op_linear_map`), population covariance shrunk."""
        _, chol = self._prior_blocks(sel, 0.0)
        theta = self._source_theta(sel, d)
        if linear:
            theta = theta @ self.op_linear_map().T
        return theta, float(self.config["priors"]["source_shrink"]) * chol

    def _op_projection(self) -> dict:
        """The least-squares projection of the design ``Z = [1, F, Q]`` on ``[1, X]`` (the op encoding in the
        model's coding), cached until the next fit: ``B`` with ``[1, X] B`` the additive part of every column
        of ``Z`` (``"additive"``), and the space.  Shared by :meth:`op_linear_map` and :meth:`layer_map`."""
        if getattr(self, "_op_proj_cache", None) is None:
            from latxfer.data.datasets import load_space

            space = load_space(self.space_name)
            X1 = np.c_[np.ones(len(self.basis.archs)), space.encode(self.basis.archs, self.config["model"]["coding"])]
            B, *_ = np.linalg.lstsq(X1, self.basis.design(), rcond=None)
            self._op_proj_cache = {"B": B, "additive": X1 @ B, "space": space}
        return self._op_proj_cache

    def op_linear_map(self) -> np.ndarray:
        """``(M, M)`` map from a device's coefficients to those of its op-linear part.

        A device's latency function is ``Z theta`` (``Z = [1, F, Q]``).  Its op-linear part is the
        least-squares projection of ``Z theta`` on ``[1, X]`` (the op encoding), which lies in the span of
        ``Z``; this returns ``P`` with ``Z P theta`` = that projection.  The factors ``F`` carry structure
        the sources share; a new device near a source in its op costs but not in that shared structure is
        near ``P theta_d``, not ``theta_d``.
        """
        self._require_fit()
        proj = self._op_projection()
        if "P" not in proj:
            proj["P"], *_ = np.linalg.lstsq(self.basis.design(), proj["additive"], rcond=None)
        return proj["P"]

    def _components(self) -> list[tuple[str, float | int, float]]:
        """Prior components of a new device: ``(kind, parameter, prior weight)``.

        ``("population", sd, w)``: a draw from the source population with novelty sd ``sd`` (the grid
        ``priors.op_count_sd``); ``("source", d, w)``: a device near source ``d`` (``priors.source_shrink`` x
        the population covariance around d's coefficients), total weight ``priors.source_weight``, of which
        ``priors.source_linear`` goes to ``("source-linear", d, w)``: the same around d's op-linear part
        (:meth:`op_linear_map`).
        """
        grid = self._novelty_grid()
        shrink = float(self.config["priors"].get("source_shrink", 0.0))
        w_src = float(self.config["priors"].get("source_weight", 0.0)) if shrink > 0 else 0.0
        if self.config["model"]["variant"] != "hierarchical":
            w_src = 0.0
        D = len(self.source_devices)
        comps = [("population", sd, (1.0 - w_src) / len(grid)) for sd in grid]
        if w_src > 0:
            lin = float(self.config["priors"].get("source_linear", 0.0))
            if lin < 1:
                comps += [("source", d, (1 - lin) * w_src / D) for d in range(D)]
            if lin > 0:
                comps += [("source-linear", d, lin * w_src / D) for d in range(D)]
        return comps

    def _run_component(self, draws, comp, Z, y, rng, evidence_only=False, eig=None) -> dict:
        """The fast update under one prior component; ``eig`` (near-source components only): the shared
        :func:`~latxfer.models.conjugate.design_eig` of ``Z`` and the component's prior."""
        kind, par, _ = comp
        if kind == "population":
            return self._run_fast(draws, par, Z, y, rng, evidence_only)
        return self._update(draws, *self._source_prior(draws, par, kind == "source-linear"), Z, y, rng,
                            evidence_only, eig)

    def _component_log_z(self, sub, comps, Z, y, rng) -> np.ndarray:
        """log(prior weight x marginal likelihood averaged over population draws ``sub``) per component."""
        eig = None
        if len(y) and any(c[0] != "population" for c in comps):
            base = self._prior_blocks(sub, 0.0)[1]
            if not lowrank(len(y), base.shape[-1]):
                # the near-source components' covariance is source_shrink^2 x the population's (novelty sd 0):
                # one eigendecomposition of the measured rows' prior covariance serves all of them
                lam, U = design_eig(Z, base)
                eig = (float(self.config["priors"]["source_shrink"]) ** 2 * lam, U)
        return np.array([np.log(c[2]) + np.logaddexp.reduce(self._run_component(
            sub, c, Z, y, rng, True, None if c[0] == "population" else eig)["log_evidence"]) for c in comps])

    def _weighted(self, pos, y) -> tuple[np.ndarray, np.ndarray]:
        """Design rows and latencies of end-to-end measurements at ``pos``, divided by their relative noise
        sd (``basis.noise``): the fast path's likelihood is then homoscedastic (weighted least squares)."""
        w = self.basis.noise_at(pos)
        return self.basis.design(pos) / w[:, None], np.asarray(y, float) / w

    def _adapt_fast(self, Z, y, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Conjugate update over posterior draws, averaged over the prior components by evidence.

        ``Z`` holds one design row per observation: ``[1, F, Q]`` of an architecture for an end-to-end
        latency (divided, with ``y``, by the row's relative noise sd: :meth:`_weighted`), a row of
        :meth:`layer_map` for a layer-wise one.
        """
        S_all = len(self.population["intercept_mu"])
        S = min(self.config["adapt"]["n_draws"], S_all)
        sel = rng.permutation(S_all)[:S]
        comps = self._components()
        if len(comps) == 1:
            res = self._run_component(np.sort(sel), comps[0], Z, y, rng)
            return res["theta"], res["scale"], res["sigma"], {}
        # Bayesian model averaging over the components: each gets a share of the draws proportional to its
        # posterior weight (prior weight x marginal likelihood, averaged over population draws)
        log_z = self._component_log_z(np.sort(sel[:min(S, _EVIDENCE_DRAWS)]), comps, Z, y, rng)
        w = np.exp(log_z - log_z.max())
        w /= w.sum()
        counts = rng.multinomial(S, w)
        parts, start = [], 0
        for comp, c in zip(comps, counts, strict=True):
            if c:
                parts.append(self._run_component(np.sort(sel[start:start + c]), comp, Z, y, rng))
                start += c
        cat = {k: np.concatenate([p[k] for p in parts]) for k in ("theta", "scale", "sigma")}
        pw = {f"{c[1]:g}": float(x) for c, x in zip(comps, w, strict=True) if c[0] == "population"}
        tot = sum(pw.values())
        info = {"novelty_weights": {k: round(v / tot, 4) if tot > 0 else 0.0 for k, v in pw.items()}}
        for kind in ("source", "source-linear"):
            if any(c[0] == kind for c in comps):
                info[f"{kind.replace('-', '_')}_weights"] = {
                    self.source_devices[c[1]]: round(float(x), 4)
                    for c, x in zip(comps, w, strict=True) if c[0] == kind}
        if any(c[0] != "population" for c in comps):
            info["population_weight"] = round(tot, 4)
        return cat["theta"], cat["scale"], cat["sigma"], info

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

    @property
    def _sigma_floor(self) -> float:
        return float(self.config["priors"]["sigma_floor"])

    def _noise_sd(self, log_sigma: np.ndarray) -> np.ndarray:
        """Noise sd (scaled units) from log sigma, with the configured floor (as in the graph)."""
        return np.sqrt(np.exp(2 * np.asarray(log_sigma)) + self._sigma_floor**2)

    def _predictive(self, theta, scale, sigma, device, archs_meas, y_meas, rng, label, info, design=None):
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
              method: str = "fast", progress: bool = False) -> AdaptedLatency:
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
        method : {"fast", "exact"}
            ``fast``: exact conditional update given the fitted population, vectorised over posterior
            draws (< 1 s).  ``exact``: joint NUTS re-fit of sources + target (slow; for checking).
        progress : bool
            Progress bar of the exact path's sampler.

        Returns
        -------
        AdaptedLatency
            ``.posterior`` is a :class:`DevicePosterior` over every architecture of the space; with n = 0
            it is the population prior, labelled ``"prior (no target measurement)"``.
        """
        self._require_fit()
        rng = np.random.default_rng(rng)
        archs, y, pos = self._check_target(archs, latency_ms)
        t0 = time.perf_counter()
        label = "posterior" if len(y) else "prior (no target measurement)"
        extra: dict = {}
        if method == "fast":
            theta, scale, sigma, extra = self._adapt_fast(*self._weighted(pos, y), rng)
        elif method == "exact":
            theta, scale, sigma = self._adapt_exact(pos, y, rng, progress)
        else:
            raise ConfigError(f"unknown adaptation method {method!r}; expected 'fast' or 'exact'")
        info = {"model": self.name, "method": method, "n": int(len(y)),
                "adapt_seconds": time.perf_counter() - t0, **extra}
        post = self._predictive(theta, scale, sigma, device, archs, y, rng, label, info)
        post.info["total_seconds"] = time.perf_counter() - t0
        return AdaptedLatency(post)

    def _adapt_exact(self, pos, y, rng, progress):
        if self._fit_data is None:
            raise ConfigError(
                "exact adaptation re-fits sources and target jointly and needs the source data: it is "
                "available on a model fitted in this session, not on one loaded from a file"
            )
        # the exact path re-fits with one prior component: the one of highest evidence (type-II ML) among
        # the population's novelty sds and the near-source components
        Z = self.basis.design(pos)
        comps = self._components()
        kind, par, _ = comps[int(np.argmax(self._component_log_z(self._evidence_draws(rng), comps,
                                                                 *self._weighted(pos, y), rng)))]
        W = self._novelty(par) if kind == "population" else None
        target = {"F": self.basis.F[pos], "Q": self.basis.Q[pos], "y": y,
                  "w": None if self.basis.noise is None else self.basis.noise[pos],
                  "G": None if W is None else Z @ W,
                  "near": None if kind == "population" else
                  (par, float(self.config["priors"]["source_shrink"]),
                   self.op_linear_map() if kind == "source-linear" else None)}
        model = build_graph(self.config["model"]["variant"], priors=self.config["priors"],
                            target=target, **self._fit_data)
        seed = int(rng.integers(2**31))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tree = self._sample(model, seed=seed, progress=progress)
        pop = self._extract_population(tree)
        S = len(pop["target_log_scale"])
        K, P = self.basis.K, self.basis.P
        theta = np.zeros((S, 1 + K + P))
        theta[:, 0] = pop["target_intercept"]
        variant = self.config["model"]["variant"]
        lk = "loading" if variant == "pooled" else "target_loading"
        ok = "op_cost" if variant == "pooled" else "target_op_cost"
        if K:
            theta[:, 1:1 + K] = pop[lk]
        if P:
            theta[:, 1 + K:] = pop[ok]
        if W is not None:
            theta += pop["target_novelty"] @ W.T
        n_keep = min(self.config["adapt"]["n_draws"], S)
        keep = np.sort(rng.choice(S, n_keep, replace=False))
        return theta[keep], np.exp(pop["target_log_scale"][keep]), self._noise_sd(pop["target_log_sigma"][keep])

    # ------------------------------------------------------------------------ layer-wise targets
    def layer_map(self) -> tuple[np.ndarray, np.ndarray]:
        """Linear map from a device's coefficients to its per-layer op costs.

        A device's latency function over the space is ``Z theta`` (``Z = [1, F, Q]``, scaled units).  Its
        additive part is ``c + sum_l beta(l, op_l)`` with ``beta`` in the space's reference coding (each
        layer's cost relative to its reference op: ``skip`` for FBNet, the convention of the layer tables).
        ``[c, beta] = B theta`` with ``B`` the least-squares projection of ``Z`` on ``[1, X]``; since the
        encoding lies in the span of ``Z``, ``B`` is exact for every additive device.

        Returns
        -------
        B : numpy.ndarray
            ``(1 + n_features, 1 + K + P)``: row 0 maps to the intercept ``c``, row ``1 + j`` to feature ``j``.
        col : numpy.ndarray
            ``(n_positions, n_codes)`` feature index of (layer, op code); -1 for the reference op (cost 0).
        """
        self._require_fit()
        if getattr(self, "_layer_map_cache", None) is None:
            from latxfer.data.datasets import load_space

            space = load_space(self.space_name)
            if not hasattr(space, "position_dim") or space.position_dim != D.LAYER:
                raise ConfigError(f"layer-wise measurements need a layer-structured space; "
                                  f"{self.space_name!r} is not one")
            coding = self.config["model"]["coding"]
            if coding != "reference":
                raise ConfigError(f"layer-wise adaptation needs the reference coding, the model uses {coding!r}")
            proj = self._op_projection()  # in the reference coding, checked above
            factors = space._factors()
            n_codes = 1 + max(max(f.levels) for f in factors)
            col = np.full((len(factors), n_codes), -1, np.int64)
            j = 0
            for i, f in enumerate(factors):
                for code in f.levels:
                    if code != f.reference:
                        col[i, code] = j
                        j += 1
            self._layer_map_cache = {"B": proj["B"], "col": col, "space": space, "additive": proj["additive"]}
        return self._layer_map_cache["B"], self._layer_map_cache["col"]

    def _layer_rows(self, archs, layer_ms, intercept_ms):
        """Design rows and values of layer-wise measurements (reference-op rows checked and dropped)."""
        archs = np.atleast_1d(np.asarray(archs, np.int64))
        Y = np.atleast_2d(np.asarray(layer_ms, float))
        B, col = self.layer_map()
        space = self._layer_map_cache["space"]
        if Y.shape != (len(archs), col.shape[0]):
            raise ConfigError(f"layer latencies must be (n_archs, {col.shape[0]} layers); got {Y.shape} for "
                              f"{len(archs)} architecture(s)")
        self.basis.positions(archs)  # UnknownArchitectureError naming them
        codes = space._factor_codes(archs)
        lay_idx = np.broadcast_to(np.arange(col.shape[0]), Y.shape)
        feat = col[lay_idx, codes]
        obs = np.isfinite(Y)
        bad = obs & (np.abs(Y) > 1e3 * np.finfo(float).eps * np.nanmax(np.abs(Y), initial=1.0)) & (feat < 0)
        if bad.any():
            a, lay_i = np.argwhere(bad)[0]
            raise InvalidLatencyError(
                f"layer-wise latencies are relative to each layer's reference op (the layer tables' "
                f"convention: end-to-end = sum of layers + intercept); architecture {archs[a]} layer {lay_i} has "
                f"the reference op but {Y[a, lay_i]:g} ms ({int(bad.sum())} such cell(s))"
            )
        use = obs & (feat >= 0)
        Z = B[1 + feat[use]]
        y = Y[use]
        if intercept_ms is not None:
            if not np.isfinite(intercept_ms):
                raise InvalidLatencyError(f"the intercept must be finite, got {intercept_ms}")
            Z, y = np.vstack([B[:1], Z]), np.r_[float(intercept_ms), y]
        return archs, Y, Z, y

    def adapt_layers(self, archs, layer_ms, *, intercept_ms: float | None = None, device: str = "target",
                     rng=None) -> AdaptedLatency:
        """Posterior of a new device from layer-wise measurements (fast path).

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

        Notes
        -----
        Every observed non-reference layer cell is an observation ``y / s = B[feature] theta + noise`` of
        the device's coefficients (see :meth:`layer_map`), so n architectures give up to ``n x n_layers``
        observations; the update is the fast path's, in coefficient space.  Layer tables are additive by
        definition, so the predicted latency function is the additive part ``[1, X] B theta``.  An architecture counts as
        *measured* when all its layers and the intercept are known (its end-to-end latency is then known).
        """
        rng = np.random.default_rng(rng)
        t0 = time.perf_counter()
        archs, Y, Z, y = self._layer_rows(archs, layer_ms, intercept_ms)
        if intercept_ms is None and len(y):
            warnings.warn(LatxferWarning(
                "layer-wise measurements without the device's intercept (end-to-end minus the sum of layers): "
                "the ranking uses the layers, but the absolute latency level comes from the population prior "
                "and its intervals are only as good as that prior (pass intercept_ms / --intercept-ms)"),
                stacklevel=2)
        theta, scale, sigma, extra = self._adapt_fast(Z, y, rng)
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
            return self.adapt_layers(lat[D.ARCH].values[keep], lat.values[keep], intercept_ms=inter,
                                     device=device, **kw)
        long = target.latx.select([device]).latx.to_long()
        if len(long) == 0:
            raise EmptyDataError(f"no measurement of device {device!r} in the target data")
        return self.adapt(long["arch_index"].to_numpy(), long["latency_ms"].to_numpy(), device=device,
                          **kw)

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
        theta = self._source_theta(sel, d)
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
        """Posterior of SRCC(proxy, target) over architectures.

        Parameters
        ----------
        proxy_ms : numpy.ndarray
            The proxy's measured latency (ms) over ``post.archs`` (NaN = not measured; skipped), or a
            ``(arch_index -> ms)`` pandas Series.
        post : DevicePosterior
            The target's posterior; measured architectures enter with their measured value.
        threshold, prob : float
            Monotonicity threshold and interval probability.
        archs : array of int, optional
            Restrict to these architectures (default: every one the proxy measured).
        discrepancy : float, optional
            Model discrepancy added on the Fisher-z scale (:func:`widen_srcc`), times the share of the
            architectures that are not measured (a measured one is known exactly); default
            :data:`PSRCC_DISCREPANCY`, chosen on devices that are not targets.  ``0`` gives the model's own
            posterior (kept as ``raw_draws`` of the result either way).
        """
        from scipy.stats import rankdata

        discrepancy = PSRCC_DISCREPANCY if discrepancy is None else discrepancy
        proxy = self._align(proxy_ms, post)
        use = np.isfinite(proxy)
        if archs is not None:
            use &= np.isin(post.archs, np.asarray(archs))
        if use.sum() < 3:
            raise InsufficientDataError(f"only {int(use.sum())} architectures with a proxy latency; need >= 3")
        if np.ptp(proxy[use]) == 0:
            raise UndefinedCorrelationError("the proxy latencies are constant: SRCC is undefined")
        T = post.draws_ms[:, use].copy()
        meas = post.measured[use]
        T[:, meas] = post.measured_ms[use][meas]
        r = _srcc_rows(rankdata(proxy[use]), T + 1e-12 * np.random.default_rng(0).random(T.shape))
        discrepancy = float(discrepancy) * float(np.mean(~meas))
        return SRCCPosterior(widen_srcc(r, discrepancy), threshold, prob,
                             {"n_archs": int(use.sum()), "n_measured": post.n_measured,
                              "discrepancy": discrepancy}, raw_draws=r)

    def expected_rank_quality(self, post: DevicePosterior, *, prob: float = 0.9) -> SRCCPosterior:
        """Posterior of SRCC(posterior-mean ranking, true target latency) on unmeasured architectures."""
        from scipy.stats import rankdata

        un = ~post.measured
        score = post.mean(noise_free=True)[un]
        r = _srcc_rows(rankdata(score), post.draws_ms[:, un])
        return SRCCPosterior(r, 0.95, prob, {"n_archs": int(un.sum()), "n_measured": post.n_measured})

    @staticmethod
    def _align(proxy_ms, post: DevicePosterior) -> np.ndarray:
        if hasattr(proxy_ms, "index") and hasattr(proxy_ms, "to_numpy"):
            out = np.full(len(post.archs), np.nan)
            idx = np.asarray(proxy_ms.index, np.int64)
            keep = np.isin(idx, post.archs)
            out[post.positions(idx[keep])] = np.asarray(proxy_ms.to_numpy(), float)[keep]
            return out
        proxy = np.asarray(proxy_ms, float)
        if proxy.shape != post.archs.shape:
            raise ConfigError(f"proxy latencies must have one value per architecture ({len(post.archs)}), "
                              f"got shape {proxy.shape}")
        return proxy

    # ----------------------------------------------------------------------------- persistence
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Save the fitted model as a zarr store (model type, version and config hash included)."""
        self._require_fit()
        path = Path(path)
        if path.exists() and not overwrite:
            raise ConfigError(f"{path} already exists; refusing to overwrite it (pass overwrite=True)")
        pop = xr.Dataset({k: (("sample",) + tuple(f"{k}_dim{i}" for i in range(v.ndim - 1)), v)
                          for k, v in self.population.items()})
        basis = xr.Dataset(
            {"F": ((D.ARCH, "factor"), self.basis.F), "Q": ((D.ARCH, "feature"), self.basis.Q),
             "observed": (D.ARCH, self.basis.observed), "explained": ("factor", self.basis.explained)},
            coords={D.ARCH: self.basis.archs},
        )
        if self.basis.generic is not None:
            basis["generic"] = (("coef", "op_type"), self.basis.generic)
        if self.basis.noise is not None:
            basis["noise"] = (D.ARCH, self.basis.noise)
        src = xr.Dataset({"scale_ms": (D.DEVICE, self.source_scales),
                          "latency_ms": ((D.DEVICE, D.ARCH), self.source_latency)},
                         coords={D.DEVICE: np.asarray(self.source_devices, dtype=str),
                                 D.ARCH: self.basis.archs})
        attrs = {
            "latxfer_model_type": MODEL_TYPE, "latxfer_format_version": MODEL_FORMAT_VERSION,
            "latxfer_version": _package_version(), "config": json.dumps(self.config),
            "config_hash": config_hash(self.config), "space": self.space_name,
            "diagnostics": json.dumps(self.diagnostics, default=float),
            "fit_info": json.dumps(self.fit_info, default=float),
        }
        tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), "/population": pop, "/basis": basis,
                                      "/sources": src})
        tmp = path.with_name(path.name + ".tmp-latxfer")
        import shutil

        if tmp.exists():
            shutil.rmtree(tmp)
        tree.to_zarr(tmp, mode="w", consolidated=False)
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        tmp.rename(path)
        return path

    @classmethod
    def load(cls, path, *, config=None) -> LatencyModel:
        """Load a model saved by :meth:`save`.

        Raises
        ------
        ModelFileError
            Not a latxfer model (or unreadable).
        ModelVersionError
            Saved by another format version of latxfer, or with a configuration other than ``config``
            (when given), or whose stored configuration does not match its hash.
        """
        path = Path(path)
        if not path.exists():
            from latxfer.errors import DataFileNotFoundError

            raise DataFileNotFoundError(f"{path}: no such model file")
        try:
            tree = xr.open_datatree(path, engine="zarr", consolidated=False)
            attrs = dict(tree.attrs)
        except Exception as exc:  # noqa: BLE001
            raise ModelFileError(f"{path} is not a latxfer model: cannot be read as zarr "
                                 f"({type(exc).__name__})") from None
        if attrs.get("latxfer_model_type") != MODEL_TYPE:
            raise ModelFileError(f"{path} is not a latxfer model (no '{MODEL_TYPE}' marker)")
        if attrs.get("latxfer_format_version") != MODEL_FORMAT_VERSION:
            raise ModelVersionError(
                f"{path} was saved in model format {attrs.get('latxfer_format_version')!r} by latxfer "
                f"{attrs.get('latxfer_version')!r}; this latxfer {_package_version()} reads format "
                f"{MODEL_FORMAT_VERSION!r}: re-fit the model"
            )
        cfg = json.loads(attrs["config"])
        if config_hash(cfg) != attrs.get("config_hash"):
            raise ModelVersionError(f"{path}: stored configuration does not match its hash (file edited?)")
        if config is not None:
            want = load_config(config)
            if config_hash(want) != attrs["config_hash"]:
                raise ModelVersionError(
                    f"{path} was fitted with configuration {cfg['model']['name']!r} "
                    f"(hash {attrs['config_hash']}), not the requested {want['model']['name']!r} "
                    f"(hash {config_hash(want)})"
                )
        m = cls(cfg)
        pop = tree["population"].to_dataset().load()
        m.population = {k: np.asarray(v.values) for k, v in pop.data_vars.items()}
        b = tree["basis"].to_dataset().load()
        m.basis = FactorBasis(np.asarray(b[D.ARCH].values, np.int64), np.asarray(b["F"].values),
                              np.asarray(b["Q"].values), np.asarray(b["observed"].values),
                              np.asarray(b["explained"].values),
                              np.asarray(b["generic"].values) if "generic" in b else None,
                              np.asarray(b["noise"].values) if "noise" in b else None)
        s = tree["sources"].to_dataset().load()
        m.source_devices = [str(d) for d in s[D.DEVICE].values]
        m.source_scales = np.asarray(s["scale_ms"].values)
        m.source_latency = np.asarray(s["latency_ms"].values)
        m.space_name = attrs.get("space", "unknown")
        m.diagnostics = json.loads(attrs.get("diagnostics", "{}"))
        m.fit_info = json.loads(attrs.get("fit_info", "{}"))
        return m


def load_model(path, *, config=None) -> LatencyModel:
    """Load a fitted :class:`LatencyModel` from ``path`` (see :meth:`LatencyModel.load`)."""
    return LatencyModel.load(path, config=config)
