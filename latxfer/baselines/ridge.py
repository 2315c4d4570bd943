"""Target-only ridge: a linear op-level model fitted on the n target samples alone (no source device).

``latency_ms = intercept + X . beta`` on the reference-coded (default) op encoding, linear milliseconds
(an additive per-operator cost model, as AdaProxy), penalty by exact leave-one-out CV on the n samples
(grid :data:`~latxfer.baselines._common.LAMBDA_GRID`, relative to the feature scale).  Needs n >= 3
(``min_n``); below that the harness reports it as not applicable.  Intervals: ``mean +- z * loo_rmse``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from latxfer.baselines._common import LAMBDA_GRID, check_adapt_input, ridge_loo
from latxfer.errors import ConfigError, InsufficientDataError
from latxfer.methods import Adapted, FewShotMethod, Prediction

__all__ = ["TargetRidge"]


class _Adapted(Adapted):
    def __init__(self, space, coding, coef, sd, info):
        self.space, self.coding, self.coef, self.sd, self.info = space, coding, coef, sd, info

    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        archs = np.asarray(archs, dtype=np.int64)
        mean = self.coef[0] + self.space.encode(archs, self.coding) @ self.coef[1:]
        h = stats.norm.ppf(0.5 + interval / 2) * self.sd
        return Prediction(archs, mean, mean - h, mean + h, interval, info=dict(self.info))


class TargetRidge(FewShotMethod):
    """Ridge regression of target latency (ms) on op features, from the n target samples only.

    Parameters
    ----------
    coding : {"reference", "sum_to_zero", "onehot"}
        Op encoding (one-hot is fine here: the intercept is unpenalised but the penalty makes it
        identifiable).
    lambdas : sequence of float
        Relative penalties tried by leave-one-out CV.
    """

    name = "target-ridge"
    gives_intervals = True
    needs_space = True
    min_n = 3

    def __init__(self, *, coding: str = "reference", lambdas=LAMBDA_GRID, name: str | None = None):
        self.coding, self.lambdas = coding, tuple(lambdas)
        if name:
            self.name = name

    def fit(self, sources: xr.Dataset, space=None) -> TargetRidge:
        if space is None:
            raise ConfigError("TargetRidge needs the search space (its op encoding): fit(sources, space)")
        self._space = space
        return self

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        archs, y = check_adapt_input(archs, latency_ms)
        if y.size < self.min_n:
            raise InsufficientDataError(f"target-only ridge needs at least {self.min_n} target "
                                        f"measurements, got {y.size}")
        X = self._space.encode(archs, self.coding)
        A = np.column_stack([np.ones(y.size), X])
        coef, cv = ridge_loo(A, y, 1, self.lambdas, allow_inf=True)
        return _Adapted(self._space, self.coding, coef, cv["loo_rmse"],
                        {"lambda": cv["lambda"], "loo_rmse_ms": cv["loo_rmse"]})
