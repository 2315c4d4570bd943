"""Pareto sets and their scores on tabular spaces: exact fronts, 2-D hypervolume, IGD+."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from latxfer.errors import InsufficientDataError, UnknownArchitectureError
from latxfer.nas.inputs import _arch_values, load_accuracy

__all__ = ["pareto_mask", "hypervolume_2d", "igd_plus", "TrueFront", "true_pareto_front", "evaluate_front"]


# ============================================================================= Pareto metrics
def pareto_mask(latency_ms, accuracy) -> np.ndarray:
    """Boolean mask of the non-dominated points (minimise latency, maximise accuracy).

    A point is dominated when another is no slower and no less accurate and strictly better in one.
    Exact duplicates are all kept.  ``O(n log n)``.
    """
    lat = np.asarray(latency_ms, float)
    acc = np.asarray(accuracy, float)
    n = lat.size
    if n == 0:
        return np.zeros(0, bool)
    order = np.lexsort((-acc, lat))  # latency ascending, accuracy descending within ties
    ls, as_ = lat[order], acc[order]
    # first index of each equal-latency group; best accuracy of strictly faster points
    new_group = np.r_[True, ls[1:] != ls[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    cummax = np.maximum.accumulate(as_)
    best_faster = np.where(group_start > 0, cummax[np.maximum(group_start - 1, 0)], -np.inf)
    group_best = as_[group_start]  # sorted by accuracy desc within a group
    nd = (as_ > best_faster) & (as_ >= group_best)
    out = np.zeros(n, bool)
    out[order] = nd
    return out


def _front_order(latency_ms: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Positions of the Pareto set (min latency, max accuracy), latency ascending, accuracy descending."""
    idx = np.flatnonzero(pareto_mask(latency_ms, accuracy))
    return idx[np.lexsort((-accuracy[idx], latency_ms[idx]))]


def hypervolume_2d(latency_ms, accuracy, ref: tuple[float, float]) -> float:
    """Exact 2-D hypervolume (area) dominated by the points, bounded by ``ref = (latency_ms, accuracy)``.

    Latency is minimised, accuracy maximised; points not strictly better than ``ref`` in both contribute
    nothing.  Units: ms x percentage points.
    """
    lat = np.asarray(latency_ms, float).ravel()
    acc = np.asarray(accuracy, float).ravel()
    rl, ra = float(ref[0]), float(ref[1])
    ok = (lat < rl) & (acc > ra)
    lat, acc = lat[ok], acc[ok]
    if lat.size == 0:
        return 0.0
    order = np.lexsort((-acc, lat))
    lat, acc = lat[order], acc[order]
    best = np.maximum.accumulate(acc)
    # slabs: between consecutive latencies the best accuracy so far is dominated
    widths = np.diff(np.r_[lat, rl])
    return float(np.sum(widths * (best - ra)))


def igd_plus(found_lat, found_acc, front_lat, front_acc, *, scale: tuple[float, float] = (1.0, 1.0)) -> float:
    """IGD+ (Ishibuchi et al. 2015) of a found set against a reference front (lower is better).

    Mean over reference-front points ``z`` of ``min_a || max(a - z, 0) ||`` in minimisation space
    (latency, -accuracy), each objective divided by ``scale``.  An empty found set gives ``inf``.
    """
    fl, fa = np.asarray(found_lat, float), np.asarray(found_acc, float)
    zl, za = np.asarray(front_lat, float), np.asarray(front_acc, float)
    if zl.size == 0:
        return 0.0
    if fl.size == 0:
        return float("inf")
    dl = np.maximum(fl[None, :] - zl[:, None], 0.0) / scale[0]
    da = np.maximum(za[:, None] - fa[None, :], 0.0) / scale[1]
    return float(np.sqrt(dl ** 2 + da ** 2).min(axis=1).mean())


@dataclass
class TrueFront:
    """The true Pareto front of a target on a tabular space, with the fixed reference points.

    Attributes
    ----------
    archs, accuracy, latency_ms : numpy.ndarray
        The whole table (every architecture with a true latency and an accuracy).
    front_archs : numpy.ndarray
        True Pareto-optimal architectures, sorted by latency.
    ref : (float, float)
        Reference point ``(max true latency over the space, min accuracy over the space)``: fixed per
        target, the same for every method.
    ref_nadir : (float, float)
        Tighter reference: the true front's nadir ``(latency of its most accurate point, accuracy of its
        fastest point)`` (more discriminative; points beyond it count nothing).
    hv, hv_nadir : float
        Hypervolume of the true front at each reference point.
    """

    archs: np.ndarray
    accuracy: np.ndarray
    latency_ms: np.ndarray
    front_archs: np.ndarray
    ref: tuple[float, float]
    ref_nadir: tuple[float, float]
    hv: float
    hv_nadir: float

    def lookup(self, archs) -> tuple[np.ndarray, np.ndarray]:
        """True (latency_ms, accuracy) of ``archs``."""
        archs = np.asarray(archs, np.int64)
        pos = pd.Index(self.archs).get_indexer(archs)
        if (pos < 0).any():
            raise UnknownArchitectureError(
                f"architecture(s) {archs[pos < 0][:8].tolist()} have no true latency / accuracy in this table"
            )
        return self.latency_ms[pos], self.accuracy[pos]


def true_pareto_front(true_latency_ms, accuracy, *, archs=None, space: str = "nb201", data_dir=None,
                      budget_ms: float | None = None) -> TrueFront:
    """The exact Pareto front by exhaustive enumeration of a tabular space (true target latency in ms).

    With ``budget_ms`` the table is first restricted to architectures whose true latency is within it, and
    the latency reference is the budget.
    """
    a, lat = _arch_values(true_latency_ms, "true_latency_ms", archs)
    keep = np.isfinite(lat)
    a, lat = a[keep], lat[keep]
    acc = load_accuracy(accuracy, a, space=space, data_dir=data_dir).to_numpy()
    if budget_ms is not None:
        w = lat <= budget_ms
        if not w.any():
            raise InsufficientDataError(f"no architecture has a true latency within the budget {budget_ms} ms")
        a, lat, acc = a[w], lat[w], acc[w]
    f = _front_order(lat, acc)
    fa, fl, fc = a[f], lat[f], acc[f]
    ref = (float(budget_ms) if budget_ms is not None else float(lat.max()), float(acc.min()))
    ref_nadir = (float(fl[np.argmax(fc)]), float(fc[np.argmin(fl)]))
    return TrueFront(a, acc, lat, fa, ref, ref_nadir, hypervolume_2d(fl, fc, ref), hypervolume_2d(fl, fc, ref_nadir))


def evaluate_front(found_archs, truth: TrueFront) -> dict:
    """Score a found architecture set against the true front, re-scored on TRUE target latency.

    Returns
    -------
    dict
        ``hv_ratio`` (hypervolume of the found set's true points over the true front's, reference
        ``truth.ref``), ``hv_ratio_nadir`` (same at the nadir reference), ``igd_plus`` (objectives scaled
        by the reference box: latency by ``ref_lat - min latency``, accuracy by ``max accuracy - ref_acc``),
        ``n_found``, ``n_front`` (true Pareto archs), ``n_recovered`` (true Pareto archs in the found set),
        ``recovered_share``, ``n_over_budget`` (found archs outside the table, e.g. over a budget).
    """
    found = np.unique(np.asarray(found_archs, np.int64))
    inside = pd.Index(truth.archs).get_indexer(found) >= 0
    n_out = int((~inside).sum())
    found = found[inside]
    fl, fa = truth.lookup(found)
    zl, za = truth.lookup(truth.front_archs)
    scale = (max(truth.ref[0] - float(truth.latency_ms.min()), 1e-12),
             max(float(truth.accuracy.max()) - truth.ref[1], 1e-12))
    hv = hypervolume_2d(fl, fa, truth.ref)
    hvn = hypervolume_2d(fl, fa, truth.ref_nadir)
    rec = int(np.isin(truth.front_archs, found).sum())
    return {
        "hv_ratio": hv / truth.hv if truth.hv > 0 else float("nan"),
        "hv_ratio_nadir": hvn / truth.hv_nadir if truth.hv_nadir > 0 else float("nan"),
        "igd_plus": igd_plus(fl, fa, zl, za, scale=scale),
        "n_found": int(found.size), "n_front": int(truth.front_archs.size), "n_recovered": rec,
        "recovered_share": rec / truth.front_archs.size, "n_over_budget": n_out,
    }
