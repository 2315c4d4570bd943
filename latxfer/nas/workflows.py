"""The paper's workflows (reuse, adapt, oracle) and the source devices' fronts as a warm start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latxfer import dims as D
from latxfer.errors import ConfigError
from latxfer.nas.inputs import load_accuracy
from latxfer.nas.pareto import _front_order
from latxfer.nas.problem import NASProblem
from latxfer.nas.search import SearchResult, _search

__all__ = ["WorkflowResult", "reuse_workflow", "adapt_workflow", "oracle_search", "source_fronts"]


def source_fronts(source_latency_ms, accuracy, *, archs=None, space: str = "nb201", data_dir=None) -> np.ndarray:
    """Union of the source devices' exact Pareto sets (accuracy vs their measured latency): a warm start.

    Source data only: no target measurement is used.  The paper's observation that Pareto sets transfer
    between devices with monotonic latency makes them a good first population for a search on a new
    device; :func:`run_search` (``warm_start=``) evaluates them first.

    Parameters
    ----------
    source_latency_ms : DataArray over (device, arch), array (devices x archs) with ``archs``, or a fitted
        :class:`~latxfer.models.LatencyModel` (its stored source tables).  NaN = not measured.
    accuracy
        Anything :func:`load_accuracy` takes.

    Returns
    -------
    numpy.ndarray of arch indices, interleaved over devices (each device's set from fast to slow), so a
    truncated warm start still covers every device and the fast end first.
    """
    if hasattr(source_latency_ms, "source_latency") and hasattr(source_latency_ms, "basis"):
        lat, archs = np.asarray(source_latency_ms.source_latency, float), source_latency_ms.basis.archs
    elif hasattr(source_latency_ms, "dims"):
        da = source_latency_ms.transpose(D.DEVICE, D.ARCH)
        lat, archs = np.asarray(da.values, float), da[D.ARCH].values
    else:
        lat = np.atleast_2d(np.asarray(source_latency_ms, float))
        if archs is None:
            raise ConfigError("source_fronts: pass archs= with a latency array")
    archs = np.asarray(archs, np.int64)
    if lat.ndim != 2 or lat.shape[1] != archs.size:
        raise ConfigError(f"source_fronts: latency of shape {lat.shape} does not match {archs.size} architectures")
    acc_s = load_accuracy(accuracy, space=space, data_dir=data_dir)
    acc = acc_s.reindex(archs).to_numpy(float)
    fronts = []
    for row in lat:
        ok = np.isfinite(row) & np.isfinite(acc)
        if not ok.any():
            continue
        fronts.append(archs[ok][_front_order(row[ok], acc[ok])])
    if not fronts:
        return np.zeros(0, np.int64)
    inter = [f[k] for k in range(max(map(len, fronts))) for f in fronts if k < len(f)]
    return pd.unique(np.asarray(inter, np.int64))


# ============================================================================= workflows
@dataclass
class WorkflowResult:
    """The architectures a workflow returns, with what it cost.

    Attributes
    ----------
    name : str
        ``"reuse"``, ``"adapt"`` or ``"oracle"``.
    archs : numpy.ndarray
        The returned (non-dominated) architecture set.
    accuracy, latency_ms : numpy.ndarray
        Their accuracy (%) and the latency (ms) the workflow judged them by: re-measured target latency
        (reuse), the posterior objective (adapt), the true target latency (oracle).
    n_measurements : int
        Target measurements used: re-measurements of the proxy-Pareto set (reuse), the measurements the
        posterior conditions on (adapt), every evaluated architecture (oracle).
    search : SearchResult
    info : dict
    """

    name: str
    archs: np.ndarray
    accuracy: np.ndarray
    latency_ms: np.ndarray
    n_measurements: int
    search: SearchResult
    info: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """arch_index, accuracy, latency_ms of the returned set."""
        return pd.DataFrame({"arch_index": self.archs, "accuracy": self.accuracy, "latency_ms": self.latency_ms})


def _search_kwargs(sampler, seed, storage, study_name, progress, population_size) -> dict:
    return {"sampler": sampler, "seed": seed, "storage": storage, "study_name": study_name,
            "progress": progress, "population_size": population_size}


def reuse_workflow(proxy_latency_ms, accuracy, measure_target: Callable[[np.ndarray], np.ndarray], *,
                   archs=None, n_trials: int | None = 500, budget_ms: float | None = None, sampler="nsga2",
                   seed: int | None = 0, storage=None, study_name=None, progress=False, population_size=None,
                   space: str = "nb201", proxy: str = "proxy", data_dir=None) -> WorkflowResult:
    """Workflow 1 (reuse): search on the proxy, re-measure its Pareto set on the target, keep the best.

    Parameters
    ----------
    proxy_latency_ms : DataArray over arch, Series, or array (+ ``archs``)
        The proxy device's measured latency (ms).
    accuracy
        Anything :func:`load_accuracy` takes.
    measure_target : callable
        ``measure_target(arch_indices) -> latency_ms`` measures architectures on the target; every
        architecture passed is counted as one measurement.
    n_trials : int or None
        Optuna trials; ``None`` = exhaustive proxy front.
    budget_ms : float, optional
        A latency budget: applied to the proxy latency during the search (deterministic) and to the
        re-measured target latency afterwards.
    """
    problem = NASProblem.from_latency(proxy_latency_ms, accuracy, archs=archs, budget_ms=budget_ms, space=space,
                                      device=proxy, latency_source=f"measured on proxy {proxy}",
                                      data_dir=data_dir)
    res = _search(problem, n_trials, _search_kwargs(sampler, seed, storage, study_name, progress, population_size))
    cand = res.pareto_archs
    meas = np.asarray(measure_target(cand), float)
    if meas.shape != cand.shape:
        raise ConfigError(f"measure_target returned {meas.shape} latencies for {cand.size} architectures")
    pos = problem.positions(cand)
    acc = problem.accuracy[pos]
    ok = np.isfinite(meas) & ((meas <= budget_ms) if budget_ms is not None else True)
    keep = np.flatnonzero(ok)[_front_order(meas[ok], acc[ok])] if ok.any() else np.zeros(0, np.int64)
    return WorkflowResult("reuse", cand[keep], acc[keep], meas[keep],
                          n_measurements=int(cand.size), search=res,
                          info={"proxy": proxy, "proxy_pareto": cand, "proxy_pareto_target_ms": meas})


def adapt_workflow(posterior, accuracy, *, objective: str = "mean", budget_ms: float | None = None,
                   delta: float = 0.05, n_trials: int | None = 500, sampler="nsga2", seed: int | None = 0,
                   storage=None, study_name=None, progress=False, population_size=None, space: str = "nb201",
                   ops=None, data_dir=None, warm_start=None) -> WorkflowResult:
    """Workflow 2 (adapt): search on the adapted posterior of the target's latency.

    ``posterior`` is a :class:`~latxfer.models.DevicePosterior` (e.g. ``fitted.adapt(target)``); the
    latency objective is its mean or a quantile (``objective="q0.9"``), the budget a probabilistic
    constraint ``P(latency <= budget_ms) >= 1 - delta``.  ``n_trials=None`` enumerates exhaustively.
    ``warm_start``: architectures the search evaluates first, e.g. ``source_fronts(fitted, accuracy)``
    (see :func:`run_search`; ignored by the exhaustive search).
    """
    problem = NASProblem.from_posterior(posterior, accuracy, objective=objective, budget_ms=budget_ms,
                                        delta=delta, ops=ops, space=space, data_dir=data_dir)
    kw = _search_kwargs(sampler, seed, storage, study_name, progress, population_size)
    if n_trials is not None and warm_start is not None:
        kw["warm_start"] = warm_start
    res = _search(problem, n_trials, kw)
    pos = problem.positions(res.pareto_archs) if res.pareto_archs.size else np.zeros(0, np.int64)
    return WorkflowResult("adapt", res.pareto_archs, problem.accuracy[pos], problem.latency_ms[pos],
                          n_measurements=int(posterior.n_measured), search=res,
                          info={"objective": problem.objective, "label": posterior.label})


def oracle_search(true_latency_ms, accuracy, *, archs=None, n_trials: int | None = 500,
                  budget_ms: float | None = None, sampler="nsga2", seed: int | None = 0, storage=None,
                  study_name=None, progress=False, population_size=None, space: str = "nb201",
                  device: str = "target", data_dir=None) -> WorkflowResult:
    """Per-device NAS on the target's true latency (the yardstick); every evaluated arch is a measurement."""
    problem = NASProblem.from_latency(true_latency_ms, accuracy, archs=archs, budget_ms=budget_ms, space=space,
                                      device=device, latency_source="true target latency", data_dir=data_dir)
    res = _search(problem, n_trials, _search_kwargs(sampler, seed, storage, study_name, progress, population_size))
    pos = problem.positions(res.pareto_archs) if res.pareto_archs.size else np.zeros(0, np.int64)
    return WorkflowResult("oracle", res.pareto_archs, problem.accuracy[pos], problem.latency_ms[pos],
                          n_measurements=res.n_unique, search=res)
