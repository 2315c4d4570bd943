"""Rank helpers: the one place latxfer computes ranks and Spearman rank correlations (SRCC).

Free functions on plain arrays, usable without a model.  Ties in a *fixed* vector (integer-ms phones,
simulated devices) get average ranks (``scipy.stats.rankdata``); rows of posterior draws are continuous,
so their ranks break ties by position (a stable argsort, 2-3x faster than ``rankdata`` on 4,000 x 15,625).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ranks", "srcc", "srcc_rows"]


def ranks(M: np.ndarray) -> np.ndarray:
    """Ranks (0-based, float64) along the last axis; ties broken by position (for continuous values).

    The ranks of a stable argsort (NaN last, in position order).  Computed with numpy's default (SIMD)
    argsort, 2-3x faster on rows of posterior draws; rows where that could differ from the stable order
    (equal values or more than one NaN) are sorted again with the stable one, so the result is the same.

    Parameters
    ----------
    M : numpy.ndarray
        Values, any shape; ranked along the last axis.

    Returns
    -------
    numpy.ndarray
        Same shape as ``M``.
    """
    M = np.asarray(M)
    order = np.argsort(M, axis=-1)
    if M.shape[-1] > 1:
        s = np.take_along_axis(M, order, axis=-1)
        # sorted: a tie is a step that does not go up; NaN sorts last, so two NaNs put one next to last
        redo = (s[..., 1:] <= s[..., :-1]).any(axis=-1) | np.isnan(s[..., -2])
        if redo.any():
            order[redo] = np.argsort(M[redo], axis=-1, kind="stable")
    r = np.empty(M.shape, dtype=np.float64)
    np.put_along_axis(r, order, np.broadcast_to(np.arange(M.shape[-1], dtype=np.float64), M.shape), axis=-1)
    return r


def srcc(a, b) -> float:
    """Spearman rank correlation of two vectors (average ranks for ties); NaN pairs are dropped.

    Returns NaN when fewer than 3 finite pairs remain or either side is constant.
    """
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra @ rb) / den) if den > 0 else float("nan")


def srcc_rows(a, M) -> np.ndarray:
    """SRCC between the vector ``a`` (average ranks for ties) and every row of the 2-D ``M``.

    Rows of ``M`` are ranked with :func:`ranks` (continuous draws).  A constant row gives NaN.

    Parameters
    ----------
    a : array_like
        ``(A,)`` values (e.g. a proxy device's latency in ms).
    M : numpy.ndarray
        ``(S, A)`` rows (e.g. posterior draws of a target's latency in ms).

    Returns
    -------
    numpy.ndarray
        ``(S,)`` rank correlations.
    """
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a, dtype=float))
    ra = ra - ra.mean()
    r = ranks(np.atleast_2d(M))
    r = r - r.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum() * (r**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (r @ ra) / den
