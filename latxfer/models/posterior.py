"""DevicePosterior: what adaptation to one target device returns, and what everything downstream takes.

A DevicePosterior holds posterior (predictive) draws of the target device's end-to-end latency in
**milliseconds** over architectures, together with which architectures were measured.  Planning, NAS and
monotonicity work on it (or on its draws) and never reach into a PyMC graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import ConfigError, UnknownArchitectureError

__all__ = ["DevicePosterior"]


@dataclass
class DevicePosterior:
    """Posterior of one target device's latency over architectures.

    Attributes
    ----------
    device : str
        Target device name.
    archs : numpy.ndarray
        Architecture indices (int64), the columns of ``draws_ms``.
    draws_ms : numpy.ndarray
        ``(n_samples, n_archs)`` posterior predictive draws of latency in ms (what a new measurement of
        the architecture would read).  Measured architectures may hold the measured value in every draw
        (``measured_as_observed=True``) or draws of a fresh measurement.
    measured_ms : numpy.ndarray
        ``(n_archs,)`` the target measurement where measured, NaN elsewhere.
    mean_fn_ms : numpy.ndarray, optional
        ``(n_samples, n_archs)`` draws of the noise-free latency (the device's expected latency); the
        default for ranking summaries when present.
    label : str
        ``"posterior"`` or ``"prior (no target measurement)"``: n = 0 is allowed and labelled.
    info : dict
        Free-form provenance (model name, n, seed, timings...).
    """

    device: str
    archs: np.ndarray
    draws_ms: np.ndarray
    measured_ms: np.ndarray | None = None
    mean_fn_ms: np.ndarray | None = None
    label: str = "posterior"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.archs = np.asarray(self.archs, dtype=np.int64)
        self.draws_ms = np.asarray(self.draws_ms, dtype=np.float64)
        if self.draws_ms.ndim != 2 or self.draws_ms.shape[1] != len(self.archs):
            raise ConfigError(
                f"draws_ms must have shape (n_samples, {len(self.archs)}), got {self.draws_ms.shape}"
            )
        if self.measured_ms is None:
            self.measured_ms = np.full(len(self.archs), np.nan)
        self.measured_ms = np.asarray(self.measured_ms, dtype=np.float64)
        self._pos = None

    # -- indexing --------------------------------------------------------------------------------
    def positions(self, archs) -> np.ndarray:
        """Column positions of architecture indices ``archs`` (UnknownArchitectureError if absent)."""
        archs = np.atleast_1d(np.asarray(archs, dtype=np.int64))
        if self._pos is None:
            self._pos = np.argsort(self.archs)
        sorted_archs = self.archs[self._pos]
        i = np.searchsorted(sorted_archs, archs)
        i = np.minimum(i, len(sorted_archs) - 1)
        bad = sorted_archs[i] != archs
        if bad.any():
            raise UnknownArchitectureError(
                f"architecture(s) {archs[bad][:8].tolist()} are not in this posterior "
                f"({len(self.archs)} architectures)"
            )
        return self._pos[i]

    @property
    def n_samples(self) -> int:
        """Number of posterior draws."""
        return self.draws_ms.shape[0]

    @property
    def measured(self) -> np.ndarray:
        """Boolean mask over ``archs``: measured on the target."""
        return np.isfinite(self.measured_ms)

    @property
    def n_measured(self) -> int:
        """Number of target measurements the posterior conditions on."""
        return int(self.measured.sum())

    def _src(self, noise_free: bool) -> np.ndarray:
        return self.mean_fn_ms if (noise_free and self.mean_fn_ms is not None) else self.draws_ms

    # -- summaries -------------------------------------------------------------------------------
    def mean(self, noise_free: bool = False) -> np.ndarray:
        """Posterior mean latency (ms) per architecture."""
        return self._src(noise_free).mean(axis=0)

    def sd(self, noise_free: bool = False) -> np.ndarray:
        """Posterior standard deviation (ms) per architecture."""
        return self._src(noise_free).std(axis=0, ddof=1) if self.n_samples > 1 else np.zeros(len(self.archs))

    def quantile(self, q: float, noise_free: bool = False) -> np.ndarray:
        """Posterior ``q``-quantile (ms) per architecture (e.g. 0.9 for a risk-averse objective)."""
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"quantile must be in [0, 1], got {q}")
        return np.quantile(self._src(noise_free), q, axis=0)

    def interval(self, prob: float = 0.9, noise_free: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Central (equal-tailed) ``prob`` interval (ms) per architecture."""
        if not 0.0 < prob < 1.0:
            raise ConfigError(f"interval probability must be in (0, 1), got {prob}")
        lo, hi = np.quantile(self._src(noise_free), [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        return lo, hi

    def prob_below(self, budget_ms: float) -> np.ndarray:
        """P(latency <= budget_ms) per architecture (posterior predictive)."""
        return (self.draws_ms <= budget_ms).mean(axis=0)

    def summary(self, prob: float = 0.9) -> xr.Dataset:
        """Mean, sd, central interval and measured value over ``arch`` (all in ms)."""
        lo, hi = self.interval(prob)
        return xr.Dataset(
            {
                "mean_ms": (D.ARCH, self.mean()),
                "sd_ms": (D.ARCH, self.sd()),
                "lower_ms": (D.ARCH, lo),
                "upper_ms": (D.ARCH, hi),
                "measured_ms": (D.ARCH, self.measured_ms),
                "measured": (D.ARCH, self.measured),
            },
            coords={D.ARCH: self.archs},
            attrs={"device": self.device, "interval": prob, "label": self.label, "units": "ms",
                   "n_measured": self.n_measured},
        )

    def to_dataarray(self) -> xr.DataArray:
        """Draws as a DataArray over ``(sample, arch)`` in ms."""
        return xr.DataArray(self.draws_ms, dims=(D.SAMPLE, D.ARCH), coords={D.ARCH: self.archs},
                            name=D.LATENCY, attrs={"units": "ms", "device": self.device})

    def subset(self, archs) -> DevicePosterior:
        """The posterior restricted to ``archs``."""
        p = self.positions(archs)
        return DevicePosterior(self.device, self.archs[p], self.draws_ms[:, p], self.measured_ms[p],
                               None if self.mean_fn_ms is None else self.mean_fn_ms[:, p], self.label,
                               dict(self.info))

    @classmethod
    def from_gaussian(cls, device: str, archs, mean_log_ms, sd_log_ms, *, n_samples: int = 500,
                      rng=None, measured_ms=None, label: str = "posterior") -> DevicePosterior:
        """Independent log-normal draws (for baselines that give a log-scale mean and sd)."""
        rng = np.random.default_rng(rng)
        mu = np.asarray(mean_log_ms, float)
        sd = np.broadcast_to(np.asarray(sd_log_ms, float), mu.shape)
        draws = np.exp(mu + sd * rng.standard_normal((n_samples, mu.size)))
        return cls(device, archs, draws, measured_ms, label=label)
