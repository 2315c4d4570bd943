"""Own-data learners: what a user gets from the new device's n measurements alone, with no source device.

Both model the log latency on the op encoding *with pairwise terms*: the one-hot encoding of every
position (edge, layer, block) and the products of the one-hots of pairs of positions (every pair when
that makes at most :data:`MAX_PAIR_COLUMNS` columns, else neighbouring positions only), so an op's cost
may depend on the op beside it.  Latency is modelled on the log scale (multiplicative effects; the
intervals stay positive); ``OwnRidge(log=False)`` models milliseconds (additive costs).

``OwnRidge``
    ridge regression; the penalty and the weight of the pairwise block (:data:`PAIR_WEIGHTS`, 0 = first
    order only) are chosen by exact leave-one-out CV on the n samples
    (:func:`latxfer.baselines._common.ridge_loo`).  Intervals: ``exp(mean +- z * loo_rmse)``.
``OwnGP``
    a Gaussian process with the kernel of those features (a first-order and a pairwise variance, a noise
    variance and a constant), hyper-parameters by type-II maximum likelihood on the n samples
    (``scipy.optimize.minimize``, a few starts).  Intervals: the GP's predictive distribution.

They are the reference a transfer method must beat ("at no n below the own-data learners") and, fitted on
75% of a device's table, the ceiling of what the device's own data allow (``benchmarks/transfer.py``).
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr
from scipy import optimize, stats

from latxfer.baselines._common import check_adapt_input, ridge_loo
from latxfer.errors import ConfigError, InsufficientDataError
from latxfer.methods import Adapted, FewShotMethod, Prediction

__all__ = ["MAX_PAIR_COLUMNS", "OwnGP", "OwnRidge", "PAIR_WEIGHTS", "pairwise_features"]

#: Above this many pairwise columns over all position pairs, only neighbouring positions are paired.
MAX_PAIR_COLUMNS = 2000

#: Relative weights of the pairwise block tried by ``OwnRidge``'s leave-one-out CV (0: first order only).
PAIR_WEIGHTS = (0.0, 0.3, 1.0)


def pairwise_features(space, archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order and pairwise features of ``archs``: ``(X1, X2)``.

    ``X1`` ``(n, F)`` is the one-hot encoding of every position divided by ``sqrt(n_positions)`` and
    ``X2`` the products of the one-hots of position pairs divided by ``sqrt(n_pairs)``, so that both
    blocks' inner products lie in [0, 1] (the share of positions, and of pairs, where two architectures
    agree).
    """
    blocks = space.onehot_blocks(np.asarray(archs, dtype=np.int64))
    n = len(blocks[0]) if blocks else len(archs)
    L = len(blocks)
    pairs = list(itertools.combinations(range(L), 2))
    width = sum(blocks[i].shape[1] * blocks[j].shape[1] for i, j in pairs)
    if width > MAX_PAIR_COLUMNS:
        pairs = [(i, i + 1) for i in range(L - 1)]
    X1 = np.concatenate(blocks, axis=1) / np.sqrt(L)
    if not pairs:
        return X1, np.zeros((n, 0))
    X2 = np.concatenate([(blocks[i][:, :, None] * blocks[j][:, None, :]).reshape(n, -1)
                         for i, j in pairs], axis=1) / np.sqrt(len(pairs))
    return X1, X2


class _Adapted(Adapted):
    def __init__(self, space, predict, info, log: bool = True):
        self.space, self._predict, self.info, self.log = space, predict, info, log

    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        """Point prediction (ms; on the log scale the median ``exp(mean)``) and central ``interval``."""
        archs = np.asarray(archs, dtype=np.int64)
        mean, sd = self._predict(pairwise_features(self.space, archs))
        h = stats.norm.ppf(0.5 + interval / 2) * sd
        if not self.log:
            return Prediction(archs, mean, mean - h, mean + h, interval, info=dict(self.info))
        return Prediction(archs, np.exp(mean), np.exp(mean - h), np.exp(mean + h), interval,
                          info=dict(self.info))


class _Own(FewShotMethod):
    gives_intervals = True
    needs_space = True
    min_n = 3

    def fit(self, sources: xr.Dataset, space=None):
        """Keep the search space (no source is used)."""
        if space is None:
            raise ConfigError(f"{type(self).__name__} needs the search space (its op encoding): fit(sources, space)")
        self._space = space
        return self

    def _samples(self, archs, latency_ms):
        archs, y = check_adapt_input(archs, latency_ms)
        if y.size < self.min_n:
            raise InsufficientDataError(f"{self.name} needs at least {self.min_n} target measurements, got {y.size}")
        return archs, np.log(y)


class OwnRidge(_Own):
    """Ridge regression of log latency on first-order + pairwise op features, from the n samples only.

    Parameters
    ----------
    pair_weights : sequence of float
        Weights of the pairwise block tried by leave-one-out CV (0: first order only).
    log : bool
        Model log latency (default) or latency in ms (additive costs, as a lookup table; intervals
        ``mean +- z * loo_rmse``).
    name : str, optional
        Result-table name (default ``"own-ridge"``).
    """

    name = "own-ridge"

    def __init__(self, *, pair_weights=PAIR_WEIGHTS, log: bool = True, name: str | None = None):
        self.pair_weights = tuple(float(w) for w in pair_weights)
        self.log = bool(log)
        if name:
            self.name = name

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        """Fit on the n samples; the penalty and pairwise weight by leave-one-out CV."""
        archs, z = self._samples(archs, latency_ms)
        if not self.log:
            z = np.exp(z)
        X1, X2 = pairwise_features(self._space, archs)
        best = None
        for w in self.pair_weights:
            if w > 0 and not X2.shape[1]:
                continue
            A = np.column_stack([np.ones(z.size), X1] + ([np.sqrt(w) * X2] if w > 0 else []))
            coef, cv = ridge_loo(A, z, 1, allow_inf=True)
            if best is None or cv["loo_rmse"] < best[2]["loo_rmse"]:
                best = (w, coef, cv)
        w, coef, cv = best

        def predict_log(feats):
            F1, F2 = feats
            A = np.column_stack([np.ones(len(F1)), F1] + ([np.sqrt(w) * F2] if w > 0 else []))
            return A @ coef, np.full(len(F1), cv["loo_rmse"])

        info = {"lambda": cv["lambda"], "pair_weight": w, "loo_rmse": cv["loo_rmse"], "log": self.log}
        return _Adapted(self._space, predict_log, info, log=self.log)


class OwnGP(_Own):
    """Gaussian process on log latency with the first-order + pairwise op kernel, from the n samples only.

    ``k(a, b) = c + s1^2 x1(a).x1(b) + s2^2 x2(a).x2(b)`` (:func:`pairwise_features`), noise ``sn^2``;
    ``c``, ``s1``, ``s2``, ``sn`` by type-II maximum likelihood (L-BFGS-B on their logs from
    ``n_starts`` starts); the mean is the samples' mean.

    Parameters
    ----------
    n_starts : int
        Starting points of the marginal-likelihood optimisation.
    name : str, optional
        Result-table name (default ``"own-gp"``).
    """

    name = "own-gp"

    def __init__(self, *, n_starts: int = 3, name: str | None = None):
        self.n_starts = int(n_starts)
        if name:
            self.name = name

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        """Fit the kernel's variances by maximum marginal likelihood on the n samples."""
        archs, z = self._samples(archs, latency_ms)
        X1, X2 = pairwise_features(self._space, archs)
        K1, K2 = X1 @ X1.T, X2 @ X2.T
        mu, sd = float(z.mean()), float(z.std()) or 1.0
        y = (z - mu) / sd
        n = y.size

        def nll(t):
            c, s1, s2, sn = np.exp(t)
            C = c + s1 * K1 + s2 * K2 + (sn + 1e-8) * np.eye(n)
            try:
                L = np.linalg.cholesky(C)
            except np.linalg.LinAlgError:
                return 1e10
            a = np.linalg.solve(L, y)
            return 0.5 * a @ a + np.log(np.diag(L)).sum()

        starts = [np.log([0.1, 1.0, 0.1, 0.1]), np.log([0.1, 1.0, 1.0, 0.01]), np.log([0.1, 0.3, 0.01, 0.5])]
        bounds = [(np.log(1e-4), np.log(10.0)), (np.log(1e-4), np.log(100.0)), (np.log(1e-5), np.log(100.0)),
                  (np.log(1e-5), np.log(10.0))]
        fits = [optimize.minimize(nll, s, method="L-BFGS-B", bounds=bounds) for s in starts[:max(1, self.n_starts)]]
        t = min(fits, key=lambda r: r.fun).x
        c, s1, s2, sn = np.exp(t)
        L = np.linalg.cholesky(c + s1 * K1 + s2 * K2 + (sn + 1e-8) * np.eye(n))
        alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))

        def predict_log(feats):
            F1, F2 = feats
            Ks = c + s1 * (F1 @ X1.T) + s2 * (F2 @ X2.T)  # (m, n)
            mean = Ks @ alpha
            V = np.linalg.solve(L, Ks.T)
            prior = c + s1 * np.einsum("ij,ij->i", F1, F1) + s2 * np.einsum("ij,ij->i", F2, F2)
            var = np.maximum(prior - np.einsum("ij,ij->j", V, V), 0.0) + sn
            return mu + sd * mean, sd * np.sqrt(var)

        return _Adapted(self._space, predict_log, {"const": c, "first_order_var": s1, "pairwise_var": s2,
                                                   "noise_var": sn})
