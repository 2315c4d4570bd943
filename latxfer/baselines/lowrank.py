"""Low-rank baseline: SVD of the source log-latency matrix, target loadings by ridge on the n samples.

On the architectures every source measured, ``Y[a, d] = log latency_ms`` is centred per device; its
row mean ``m[a]`` (the consensus profile) is split off and the rest ``E = Y_c - m`` decomposed,
``E = U S V^T``, giving architecture factors ``F = U_k S_k``.  The target's log latency is modelled as
``c + s * m[a] + F[a] . beta`` with ``c, s`` free and ``beta`` ridge-penalised; the rank ``k`` and the
penalty are chosen jointly by exact leave-one-out CV on the n samples (log scale); fits with
``s <= 0`` (reversing the consensus order) are rejected, as in AdaProxy.  Predictions are
``exp`` of that (ms); architectures outside the sources' common set get NaN.

Small n: n = 0 predicts the consensus profile ``exp(m)`` (times the sources' typical scale); n = 1, 2
shift it by the mean residual of the samples; CV needs n >= 3.  Intervals (n >= 3):
``exp(mean_log +- z * loo_rmse_log)``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from latxfer.baselines._common import LAMBDA_GRID, SourceTable, check_adapt_input, ridge_loo
from latxfer.errors import InsufficientDataError
from latxfer.methods import Adapted, FewShotMethod, Prediction

__all__ = ["LowRankSVD"]


class _Adapted(Adapted):
    def __init__(self, m: LowRankSVD, coef, k, sd, info):
        self.m, self.coef, self.k, self.sd, self.info = m, coef, k, sd, info

    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        archs = np.asarray(archs, dtype=np.int64)
        D = self.m._design(archs, self.k)
        mu = D @ self.coef
        if self.sd is None:
            return Prediction(archs, np.exp(mu), info=dict(self.info))
        h = stats.norm.ppf(0.5 + interval / 2) * self.sd
        return Prediction(archs, np.exp(mu), np.exp(mu - h), np.exp(mu + h), interval, info=dict(self.info))


class LowRankSVD(FewShotMethod):
    """Target = consensus source profile + low-rank correction, loadings fitted on the n samples.

    Parameters
    ----------
    ranks : sequence of int
        Candidate ranks ``k`` for the CV (capped at ``n_sources - 1``; 0 = consensus only).
    lambdas : sequence of float
        Relative ridge penalties for the CV.
    """

    name = "lowrank-svd"
    gives_intervals = True
    min_n = 0

    def __init__(self, *, ranks=(0, 1, 2, 3, 5, 8), lambdas=LAMBDA_GRID, name: str | None = None):
        self.ranks, self.lambdas = tuple(ranks), tuple(lambdas)
        if name:
            self.name = name

    def fit(self, sources: xr.Dataset, space=None) -> LowRankSVD:
        t = SourceTable(sources)
        ok = np.all(np.isfinite(t.matrix), axis=0) & np.all(t.matrix > 0, axis=0)
        if ok.sum() < 3:
            raise InsufficientDataError(
                f"the low-rank baseline needs architectures measured on every source; only {int(ok.sum())}"
            )
        Y = np.log(t.matrix[:, ok].T)  # (archs, devices)
        self._dev_mean = Y.mean(axis=0)
        Yc = Y - self._dev_mean
        self._m = Yc.mean(axis=1)
        E = Yc - self._m[:, None]
        U, S, _ = np.linalg.svd(E, full_matrices=False)
        kmax = max(0, min(max(self.ranks), Y.shape[1] - 1))
        self._F = U[:, :kmax] * S[:kmax]
        self._kmax = kmax
        self._table = t
        self._cols = np.full(t.archs.size, -1)
        self._cols[np.flatnonzero(ok)] = np.arange(ok.sum())
        self.singular_values_ = S
        return self

    def _design(self, archs, k) -> np.ndarray:
        pos = self._table.positions(archs)
        col = np.where(pos >= 0, self._cols[np.maximum(pos, 0)], -1)
        good = col >= 0
        D = np.full((archs.size, 2 + k), np.nan)
        D[good, 0] = 1.0
        D[good, 1] = self._m[col[good]]
        D[good, 2:] = self._F[col[good], :k]
        return D

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        archs, y = check_adapt_input(archs, latency_ms)
        n = y.size
        ly = np.log(y)
        base = float(np.mean(self._dev_mean))
        if n < 3:
            D = self._design(archs, 0)
            c = float(np.nanmean(ly - D[:, 1])) if n else base
            return _Adapted(self, np.array([c, 1.0]), 0, None, {"rank": 0, "n": n})
        best = (np.inf, None, None, None)
        for k in sorted({min(r, self._kmax) for r in self.ranks}):
            D = self._design(archs, k)
            if np.isnan(D).any():
                raise InsufficientDataError("some target samples are not in the sources' common architectures")
            try:
                coef, cv = ridge_loo(D, ly, 2, self.lambdas if k else (1.0,), allow_inf=bool(k),
                                     accept=lambda c: c[1] > 0)
            except InsufficientDataError:
                continue
            if cv["loo_rmse"] < best[0]:
                best = (cv["loo_rmse"], coef, k, cv["lambda"])
        if best[1] is None:  # e.g. n = 3 with collinear consensus: shift only
            D = self._design(archs, 0)
            c = float(np.mean(ly - D[:, 1]))
            return _Adapted(self, np.array([c, 1.0]), 0, None, {"rank": 0, "n": n})
        rmse, coef, k, lam = best
        return _Adapted(self, coef, k, rmse, {"rank": k, "lambda": lam, "loo_rmse_log": rmse, "n": n})
