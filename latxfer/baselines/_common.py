"""Shared pieces of the baselines: source tables, proxy choice, ridge with leave-one-out CV."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from latxfer.data.tensor import positions
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    InvalidLatencyError,
    UnknownDeviceError,
)
from latxfer.ranks import srcc

__all__ = ["SourceTable", "ridge_loo", "positive_scaling", "LAMBDA_GRID", "srcc_or_nan"]

#: Relative ridge penalties tried by leave-one-out CV (times the mean squared column norm of the
#: penalised features on the n samples, so the grid does not depend on units).  Chosen a priori, not
#: tuned on any device.
LAMBDA_GRID = tuple(10.0 ** np.arange(-4.0, 4.01, 0.5))


class SourceTable:
    """End-to-end source latency (ms) as a matrix ``(device, arch)`` with fast arch look-ups."""

    def __init__(self, sources: xr.Dataset):
        self.ds = sources
        self.devices = sources.latx.devices
        self.archs = np.asarray(sources.latx.archs, dtype=np.int64)
        self.matrix = sources.latx.latency_matrix()
        self._central: str | None = None

    def positions(self, archs) -> np.ndarray:
        """Column of each architecture (-1 when the source table does not hold it)."""
        return positions(self.archs, np.asarray(archs, dtype=np.int64), missing="mark")

    def row(self, device: str) -> np.ndarray:
        if device not in self.devices:
            raise UnknownDeviceError(
                f"proxy {device!r} is not among the source devices; known: {', '.join(self.devices)}"
            )
        return self.matrix[self.devices.index(device)]

    def values(self, device: str, archs) -> np.ndarray:
        """Latency (ms) of ``archs`` on source ``device`` (NaN where not held)."""
        pos = self.positions(archs)
        row = self.row(device)
        out = np.full(pos.shape, np.nan)
        ok = pos >= 0
        out[ok] = row[pos[ok]]
        return out

    def central(self, max_archs: int = 2000) -> str:
        """The source with the highest mean SRCC to the other sources (the choice when n < 3).

        Uses no target information; computed on up to ``max_archs`` common architectures (fixed seed).
        """
        if self._central is None:
            if len(self.devices) == 1:
                self._central = self.devices[0]
            else:
                ok = np.all(np.isfinite(self.matrix), axis=0)
                idx = np.flatnonzero(ok)
                if idx.size > max_archs:
                    idx = np.sort(np.random.default_rng(0).choice(idx, max_archs, replace=False))
                if idx.size < 3:
                    self._central = self.devices[0]
                else:
                    r = stats.spearmanr(self.matrix[:, idx], axis=1).statistic
                    r = np.atleast_2d(r)
                    self._central = self.devices[int(np.argmax(np.nanmean(r - np.eye(len(r)), axis=1)))]
        return self._central

    def best_by_srcc(self, archs, latency_ms, candidates=None) -> tuple[str, dict]:
        """The source whose latency ranks the n target samples best (n < 3: :meth:`central`)."""
        candidates = self.devices if candidates is None else list(candidates)
        y = np.asarray(latency_ms, float)
        if y.size < 3 or np.all(y == y[0]):
            return self.central(), {}
        scores = {}
        for d in candidates:
            x = self.values(d, archs)
            ok = np.isfinite(x)
            scores[d] = srcc_or_nan(x[ok], y[ok])
        best = max(candidates, key=lambda d: -np.inf if np.isnan(scores[d]) else scores[d])
        return best, scores


def srcc_or_nan(x, y) -> float:
    """SRCC with average ranks; NaN when undefined (fewer than 3 values, or constant)."""
    return srcc(x, y)


def ridge_loo(A: np.ndarray, y: np.ndarray, n_free: int, lambdas=LAMBDA_GRID, allow_inf: bool = True,
              accept=None):
    """Ridge regression with the first ``n_free`` columns unpenalised; penalty chosen by exact LOO CV.

    Parameters
    ----------
    A : (n, p) design; columns ``[:n_free]`` are not penalised.
    y : (n,) response.
    lambdas : relative penalties (times the mean squared norm of the penalised columns).
    allow_inf : also try lambda = infinity (penalised coefficients fixed at 0).
    accept : optional ``coef -> bool``; fits it rejects are skipped (e.g. a negative proxy scale).

    Returns
    -------
    coef : (p,) coefficients
    info : dict with ``lambda`` (relative; ``inf`` possible), ``loo_rmse`` and ``scores``.
    """
    n, p = A.shape
    if n < n_free + 1:
        raise InsufficientDataError(f"leave-one-out CV needs at least {n_free + 1} samples, got {n}")
    U, Z = A[:, :n_free], A[:, n_free:]
    scale = float(np.mean(np.sum(Z * Z, axis=0))) if Z.shape[1] else 1.0
    scale = scale if scale > 0 else 1.0
    # one SVD serves every penalty: profile out the free columns, then ridge on the residualised Z
    Q, R = np.linalg.qr(U)
    dR = np.abs(np.diag(R))
    if dR.size and dR.min() <= 1e-10 * max(1.0, dR.max()):
        raise InsufficientDataError("the unpenalised columns are collinear on these samples")
    hq = np.sum(Q * Q, axis=1)
    Zt = Z - Q @ (Q.T @ Z)
    yt = y - Q @ (Q.T @ y)
    if Z.shape[1]:
        V, sv, Wt = np.linalg.svd(Zt, full_matrices=False)
        keep = sv > 1e-12 * max(sv.max(initial=0.0), 1e-300)
        V, sv, Wt = V[:, keep], sv[keep], Wt[keep]
        Vy = V.T @ yt
    cands = [float(lam) for lam in lambdas] + ([np.inf] if allow_inf and Z.shape[1] else [])
    best = (np.inf, None, None)
    scores = {}
    for lam in cands:
        if np.isinf(lam) or not Z.shape[1]:
            b = np.zeros(p - n_free)
            h = hq
        else:
            shrink = sv * sv / (sv * sv + lam * scale)
            b = Wt.T @ (Vy * sv / (sv * sv + lam * scale))
            h = hq + (V * V) @ shrink
        c = np.linalg.solve(R, Q.T @ (y - Z @ b)) if n_free else np.zeros(0)
        coef = np.r_[c, b]
        resid = y - A @ coef
        denom = 1.0 - h
        if np.any(denom < 1e-10) or not np.all(np.isfinite(coef)):
            scores[lam] = np.inf
            continue
        if accept is not None and not accept(coef):
            scores[lam] = np.inf
            continue
        mse = float(np.mean((resid / denom) ** 2))
        scores[lam] = mse
        if mse < best[0]:
            best = (mse, coef, lam)
    if best[1] is None:
        raise InsufficientDataError(
            f"no ridge penalty gives a finite leave-one-out error with {n} samples (design rank-deficient)"
        )
    return best[1], {"lambda": best[2], "loo_rmse": float(np.sqrt(best[0])), "scores": scores}


def positive_scaling(score: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(a, c)`` with ``y ~ a * score + c`` by least squares, forced to keep the order (a > 0).

    n = 0: (1, 0); n = 1 or a non-positive slope: ratio of means (c = 0).  Used by rank-only baselines
    to return millisecond-scale predictions without changing their ranking.
    """
    score, y = np.asarray(score, float), np.asarray(y, float)
    ok = np.isfinite(score) & np.isfinite(y)
    score, y = score[ok], y[ok]
    if y.size == 0:
        return 1.0, 0.0
    if y.size >= 2 and np.ptp(score) > 0:
        a, c = np.polyfit(score, y, 1)
        if a > 0:
            return float(a), float(c)
    s = float(np.mean(score))
    return (float(np.mean(y)) / s if s > 0 else 1.0), 0.0


def check_adapt_input(archs, latency_ms) -> tuple[np.ndarray, np.ndarray]:
    """Validate the n target measurements given to ``adapt``."""
    archs = np.atleast_1d(np.asarray(archs, dtype=np.int64))
    y = np.atleast_1d(np.asarray(latency_ms, dtype=np.float64))
    if archs.shape != y.shape:
        raise ConfigError(f"archs and latency_ms must have the same length, got {archs.size} and {y.size}")
    if y.size and (not np.all(np.isfinite(y)) or np.any(y <= 0)):
        raise InvalidLatencyError("target latencies must be finite and > 0 ms")
    return archs, y
