"""The small interface every few-shot latency method implements (baselines and Bayesian models alike).

Protocol::

    method = SomeMethod(**options)
    method.fit(sources, space)                 # source devices: full latency tables (ms)
    adapted = method.adapt(archs, latency_ms, rng=seed)   # n target measurements (n may be 0)
    pred = adapted.predict(query_archs)         # Prediction (ms): mean, optional interval / draws

``fit`` is called once per source set; ``adapt`` many times (targets x n x seeds) and must not mutate
the fitted method.  The evaluation harness (:mod:`latxfer.evaluate`) only talks to this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

__all__ = ["Prediction", "FewShotMethod", "Adapted"]


@dataclass
class Prediction:
    """Predicted target latency for a set of architectures (all in milliseconds).

    Attributes
    ----------
    archs : numpy.ndarray
        Architecture indices, int64.
    mean_ms : numpy.ndarray
        Point prediction used for ranking (posterior mean for Bayesian methods; for rank-only methods
        any monotone score is fine, e.g. the proxy's latency or FLOPs).
    lower_ms, upper_ms : numpy.ndarray, optional
        Central predictive interval at probability ``interval`` (methods that give uncertainty).
    interval : float, optional
        Probability of ``[lower_ms, upper_ms]``.
    draws_ms : numpy.ndarray, optional
        ``(n_samples, n_archs)`` predictive draws (for posterior rank metrics).
    info : dict
        Anything worth reporting (timings, chosen hyper-parameters...).
    """

    archs: np.ndarray
    mean_ms: np.ndarray
    lower_ms: np.ndarray | None = None
    upper_ms: np.ndarray | None = None
    interval: float | None = None
    draws_ms: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def has_interval(self) -> bool:
        """True when the method gave a predictive interval."""
        return self.lower_ms is not None and self.upper_ms is not None


class Adapted(ABC):
    """A method adapted to one target device."""

    @abstractmethod
    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        """Predict target latency (ms) of ``archs``."""


class FewShotMethod(ABC):
    """A latency-transfer method: fit on source devices, adapt on n target measurements, predict.

    Attributes
    ----------
    name : str
        Short name used in result tables.
    gives_intervals : bool
        Whether predictions carry calibrated-or-not intervals (coverage is scored only then).
    """

    name: str = "method"
    gives_intervals: bool = False

    @abstractmethod
    def fit(self, sources: xr.Dataset, space=None) -> FewShotMethod:
        """Fit on the source devices' tables (latency Dataset, ms); return self."""

    @abstractmethod
    def adapt(self, archs: np.ndarray, latency_ms: np.ndarray, *, device: str = "target",
              rng: np.random.Generator | int | None = None) -> Adapted:
        """Condition on target measurements (``latency_ms`` of ``archs``, n >= 0); return an Adapted."""
