"""The few-shot evaluation harness: methods x targets x n x seeds, scored on unmeasured architectures.

Protocol
--------
1. Each method is fitted **once** on the source devices (full tables, or ``source_archs_per_device``
   architectures per source device) and reused for every target, n and seed.
2. For target ``t`` and seed ``s`` the target's measured architectures are shuffled once with
   ``numpy.random.default_rng([seed, crc32(t)])``; the n measured architectures are the first n of that
   order, so samples are **nested across n** and **shared by every method**.
3. ``adapt`` sees only those n (architecture, latency) pairs; all CV inside a method uses only them.
4. Every other architecture measured on the target (the *query set*) is predicted and scored:
   ``srcc`` (Spearman, average ranks), ``kendall`` (tau-b), ``srcc_trimmed`` (HELP's protocol: query set
   cut to the ``trim`` percentiles of the *true* target latency of the query set), ``top{k}`` (overlap
   of the k fastest predicted and the k truly fastest, divided by k), and ``coverage`` (share of query
   architectures whose measured latency falls in the method's central ``interval``).

NaN appears only where ``status`` says why: ``"no interval"`` (coverage of a method without intervals, or
of an adaptation that gave none, e.g. n < 3 for the CV-based baselines), ``"n < min_n"`` (the method
needs more target measurements), ``"constant prediction"`` (a rank correlation is undefined).
Architectures a method cannot predict (NaN, e.g. a proxy that did not measure them) are left out of its
scores and counted in ``n_unpredicted``.

Latencies are milliseconds throughout.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from latxfer import dims as D
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    LeakageError,
    UndefinedCorrelationError,
)
from latxfer.methods import FewShotMethod
from latxfer.ranks import srcc

__all__ = ["evaluate", "summarize", "to_table", "measured_sample", "score", "subsample_sources"]

METHOD, TARGET, N, SEED = "method", "target", "n", "seed"


def measured_sample(pool: np.ndarray, target: str, n: int, seed: int) -> np.ndarray:
    """The n architectures measured on ``target`` for ``seed`` (sorted; nested in n; method-independent)."""
    pool = np.sort(np.asarray(pool, dtype=np.int64))
    if n > pool.size:
        raise InsufficientDataError(
            f"asked for n = {n} target measurements but device {target!r} measured only {pool.size} "
            "architectures"
        )
    order = np.random.default_rng([int(seed), zlib.crc32(target.encode())]).permutation(pool.size)
    return np.sort(pool[order[:n]])


def subsample_sources(sources: xr.Dataset, n: int, seed: int = 0) -> xr.Dataset:
    """Keep ``n`` random measured architectures per source device (others set to NaN), independently per device."""
    lat = sources[D.LATENCY].copy()
    M = sources.latx.latency_matrix()
    keep = np.zeros(M.shape, dtype=bool)
    for i, d in enumerate(sources.latx.devices):
        fin = np.flatnonzero(np.isfinite(M[i]))
        if n > fin.size:
            raise InsufficientDataError(
                f"source_archs_per_device = {n} but source {d!r} measured only {fin.size} architectures"
            )
        rng = np.random.default_rng([int(seed), zlib.crc32(d.encode())])
        keep[i, rng.choice(fin, n, replace=False)] = True
    mask = xr.DataArray(keep, dims=(D.DEVICE, D.ARCH))
    out = sources.copy()
    out[D.LATENCY] = lat.where(mask)
    out.attrs["source_archs_per_device"] = n
    return out


def _topk(pred: np.ndarray, true: np.ndarray, k: int) -> float:
    if k > true.size:
        return float("nan")
    p = np.argsort(pred, kind="stable")[:k]
    t = np.argsort(true, kind="stable")[:k]
    return float(np.intersect1d(p, t).size / k)


def score(pred, true, *, trim=(0.1, 0.9), topk=(10, 50), lower=None, upper=None) -> dict:
    """Scores of one prediction on a query set (all ms); see the module docstring.

    Raises
    ------
    UndefinedCorrelationError
        The true latencies are constant (nothing to rank).
    """
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    if true.size < 3:
        raise InsufficientDataError(f"need at least 3 query architectures to score, got {true.size}")
    if np.all(true == true[0]):
        raise UndefinedCorrelationError("the target's latencies are constant on the query set: SRCC undefined")
    out: dict = {}
    ok = np.isfinite(pred)
    out["n_unpredicted"] = int((~ok).sum())
    p, t = pred[ok], true[ok]
    const = p.size < 3 or np.all(p == p[0])
    if const:
        out.update(srcc=np.nan, kendall=np.nan, srcc_trimmed=np.nan, status="constant prediction")
    else:
        out["srcc"] = srcc(p, t)
        out["kendall"] = float(stats.kendalltau(p, t).statistic)
        lo, hi = np.quantile(true, trim)
        sel = (t >= lo) & (t <= hi)
        pt, tt = p[sel], t[sel]
        out["srcc_trimmed"] = srcc(pt, tt)  # NaN below 3 architectures or when one side is constant
        out["status"] = "ok"
    for k in topk:
        out[f"top{k}"] = _topk(np.where(ok, pred, np.inf), true, k)
    if lower is not None and upper is not None:
        lw, up = np.asarray(lower, float)[ok], np.asarray(upper, float)[ok]
        out["coverage"] = float(np.mean((t >= lw) & (t <= up)))
        out["interval_width_rel"] = float(np.median((up - lw) / t))
    else:
        out["coverage"] = np.nan
        out["interval_width_rel"] = np.nan
        if out["status"] == "ok":
            out["status"] = "no interval"
    return out


def _space_for(dataset: xr.Dataset, space, data_dir):
    if space is not None:
        return space
    from latxfer.data.datasets import load_space

    return load_space(dataset.latx.space, data_dir)


def _check_args(dataset, sources, targets, methods, ns, seeds) -> tuple[list, list, list, list]:
    """Validated ``(sources, targets, ns, seeds)`` lists; bad arguments raise named errors."""
    sources, targets = list(sources), list(targets)
    seeds = list(range(seeds)) if isinstance(seeds, int | np.integer) else list(seeds)
    ns = [int(n) for n in ns]
    if any(n < 0 for n in ns):
        raise ConfigError(f"n must be >= 0, got {ns}")
    if not methods:
        raise ConfigError("no method to evaluate")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ConfigError(f"method names must be unique, got {names}")
    leak = [t for t in targets if t in sources]
    if leak:
        raise LeakageError(
            f"target device(s) {leak} are also source devices: their full tables would leak into the fit; "
            "remove them from the sources"
        )
    dataset.latx.select(targets)  # unknown names -> UnknownDeviceError listing the known ones
    return sources, targets, ns, seeds


def _target_pools(dataset, targets, ns) -> tuple[np.ndarray, dict]:
    """The targets' end-to-end latency matrix and, per target, its measured architectures."""
    T = dataset.latx.latency_matrix(targets)
    pools = {t: dataset.latx.archs[np.isfinite(T[i])] for i, t in enumerate(targets)}
    for t in targets:
        if max(ns) > pools[t].size - 3:
            raise InsufficientDataError(
                f"n = {max(ns)} leaves fewer than 3 unmeasured architectures of target {t!r} "
                f"({pools[t].size} measured)"
            )
    return T, pools


class _Results:
    """The arrays :func:`evaluate` fills, dims ``(method, target, n, seed)``."""

    def __init__(self, methods, targets, ns, seeds, topk):
        shape = (len(methods), len(targets), len(ns), len(seeds))
        self.metrics = ["srcc", "srcc_trimmed", "kendall"] + [f"top{k}" for k in topk] + [
            "coverage", "interval_width_rel", "adapt_seconds"]
        self.res = {k: np.full(shape, np.nan) for k in self.metrics}
        self.n_unpred = np.zeros(shape, dtype=np.int64)
        self.n_query = np.zeros(shape[1:], dtype=np.int64)
        self.status = np.full(shape, "", dtype=object)
        self.measured = np.full((len(targets), len(ns), len(seeds), max(max(ns), 1)), -1, dtype=np.int64)

    def to_dataset(self, coords: dict, attrs: dict, fit_seconds) -> xr.Dataset:
        dims = (METHOD, TARGET, N, SEED)
        dv = {k: (dims, v) for k, v in self.res.items()}
        dv["n_unpredicted"] = (dims, self.n_unpred)
        dv["status"] = (dims, self.status.astype(str))
        dv["n_query"] = ((TARGET, N, SEED), self.n_query)
        dv["measured"] = ((TARGET, N, SEED, "slot"), self.measured)
        dv["fit_seconds"] = (METHOD, np.array(fit_seconds))
        return xr.Dataset(dv, coords=coords, attrs=attrs)


def _score_methods(out: _Results, idx: tuple, methods, t: str, n: int, seed: int, meas, y_meas, query, y_q, *,
                   interval, trim, topk) -> None:
    """Adapt every method to one shared sample and score it on the query set, into ``out`` at ``idx``."""
    ti, ni, si = idx
    for mi, m in enumerate(methods):
        if n < getattr(m, "min_n", 0):
            out.status[mi, ti, ni, si] = "n < min_n"
            continue
        rng = np.random.default_rng([int(seed), zlib.crc32(t.encode()), n, zlib.crc32(m.name.encode())])
        t0 = time.perf_counter()
        adapted = m.adapt(meas.copy(), y_meas.copy(), device=t, rng=rng)
        pred = adapted.predict(query, interval=interval)
        out.res["adapt_seconds"][mi, ti, ni, si] = time.perf_counter() - t0
        sc = score(pred.mean_ms, y_q, trim=trim, topk=topk,
                   lower=pred.lower_ms if pred.has_interval else None,
                   upper=pred.upper_ms if pred.has_interval else None)
        for k in out.metrics[:-1]:
            out.res[k][mi, ti, ni, si] = sc[k]
        out.n_unpred[mi, ti, ni, si] = sc["n_unpredicted"]
        out.status[mi, ti, ni, si] = sc["status"]


def evaluate(
    dataset: xr.Dataset,
    sources: Sequence[str],
    targets: Sequence[str],
    methods: Sequence[FewShotMethod],
    ns: Sequence[int],
    seeds: Sequence[int] | int,
    *,
    interval: float = 0.9,
    trim: tuple[float, float] = (0.1, 0.9),
    topk: Sequence[int] = (10, 50),
    progress: bool = True,
    space=None,
    data_dir=None,
    source_archs_per_device: int | None = None,
    source_seed: int = 0,
) -> xr.Dataset:
    """Run the few-shot protocol (module docstring) and return every score.

    Parameters
    ----------
    dataset : xarray.Dataset
        Latency Dataset (ms) holding sources and targets (layer-wise datasets: sources keep their
        layers, targets are scored end-to-end).
    sources, targets : sequence of str
        Device names; a target among the sources raises :class:`~latxfer.errors.LeakageError`.
    methods : sequence of FewShotMethod
        Unfitted methods with unique ``name``; each is fitted once here.
    ns : sequence of int
        Numbers of target measurements (0 allowed).
    seeds : sequence of int or int
        Seeds (an int ``k`` means ``range(k)``).
    interval : float
        Probability of the predictive intervals scored by ``coverage``.
    trim : (float, float)
        Percentiles of the true target latency bounding the trimmed query set (HELP: 10th-90th).
    topk : sequence of int
        k values of the top-k overlap.
    progress : bool
        Show a tqdm bar.
    space : SearchSpace, optional
        Handed to ``fit`` of every method (the hook for methods that need encodings / FLOPs); default:
        loaded from ``dataset.attrs["space"]`` when a method has ``needs_space``.
    data_dir : path-like, optional
        Where to load the space from.
    source_archs_per_device : int, optional
        Keep only this many random architectures per source device (HELP: 900 on NB201).
    source_seed : int
        Seed of that subsample.

    Returns
    -------
    xarray.Dataset
        Dims ``(method, target, n, seed)``: ``srcc``, ``srcc_trimmed``, ``kendall``, ``top{k}``,
        ``coverage``, ``interval_width_rel``, ``n_unpredicted``, ``n_query``, ``adapt_seconds``, ``status``;
        ``measured`` over ``(target, n, seed, slot)`` (-1 padded) records the shared samples;
        ``fit_seconds`` over ``method``.
    """
    sources, targets, ns, seeds = _check_args(dataset, sources, targets, methods, ns, seeds)
    src = dataset.latx.select(sources)
    if source_archs_per_device is not None:
        src = subsample_sources(src, int(source_archs_per_device), source_seed)
    T, pools = _target_pools(dataset, targets, ns)
    if any(getattr(m, "needs_space", False) for m in methods) or space is not None:
        space = _space_for(dataset, space, data_dir)

    fit_s = []
    for m in methods:
        t0 = time.perf_counter()
        m.fit(src, space)
        fit_s.append(time.perf_counter() - t0)

    out = _Results(methods, targets, ns, seeds, topk)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(targets) * len(ns) * len(seeds), desc="evaluate", unit="sample")
    for ti, t in enumerate(targets):
        for si, seed in enumerate(seeds):
            for ni, n in enumerate(ns):
                meas = measured_sample(pools[t], t, n, seed)
                out.measured[ti, ni, si, :n] = meas
                query = np.setdiff1d(pools[t], meas, assume_unique=True)
                out.n_query[ti, ni, si] = query.size
                _score_methods(out, (ti, ni, si), methods, t, n, seed, meas, T[ti][dataset.latx.positions(meas)],
                               query, T[ti][dataset.latx.positions(query)], interval=interval, trim=trim, topk=topk)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return out.to_dataset(
        coords={METHOD: [m.name for m in methods], TARGET: targets, N: ns, SEED: seeds},
        attrs={
            "dataset": str(dataset.attrs.get("name", "")), "sources": ",".join(sources),
            "interval": interval, "trim": list(trim), "topk": list(topk),
            "source_archs_per_device": -1 if source_archs_per_device is None else int(source_archs_per_device),
            "sampling": "rng = default_rng([seed, crc32(target)]); first n of one permutation (nested in n)",
            "units": "ms",
        },
        fit_seconds=fit_s,
    )


def summarize(result: xr.Dataset, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, sd and min over seeds of each metric, per (method, target, n), plus the mean over targets.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, target, n, metric, mean, sd, min, n_seeds`` (``target == "mean"``: the
        per-seed mean over targets, then summarised over seeds).
    """
    if metrics is None:
        metrics = ["srcc", "srcc_trimmed", "kendall"] + [v for v in result.data_vars if v.startswith("top")] + [
            "coverage"]
    rows = []
    for metric in metrics:
        da = result[metric]
        with np.errstate(all="ignore"):
            per_target = da
            over_targets = da.mean(TARGET, skipna=False).expand_dims({TARGET: ["mean"]})
            both = xr.concat([per_target, over_targets], dim=TARGET)
            mean = both.mean(SEED, skipna=True)
            sd = both.std(SEED, ddof=1, skipna=True)
            mn = both.min(SEED, skipna=True)
            cnt = both.notnull().sum(SEED)
        df = xr.Dataset({"mean": mean, "sd": sd, "min": mn, "n_seeds": cnt}).to_dataframe().reset_index()
        df.insert(3, "metric", metric)
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    return out[[METHOD, TARGET, N, "metric", "mean", "sd", "min", "n_seeds"]]


def to_table(result: xr.Dataset | pd.DataFrame, metric: str = "srcc", *, digits: int = 3,
             with_sd: bool = True) -> pd.DataFrame:
    """Wide table: rows ``(method, n)``, columns targets and ``mean``, cells ``"mean ± sd"`` over seeds."""
    summ = summarize(result, [metric]) if isinstance(result, xr.Dataset) else result
    summ = summ[summ["metric"] == metric]
    if summ.empty:
        raise ConfigError(f"no metric {metric!r} in the result")

    def cell(r):
        if not np.isfinite(r["mean"]):
            return "-"
        return f"{r['mean']:.{digits}f}" + (f" ± {r['sd']:.{digits}f}" if with_sd and np.isfinite(r["sd"]) else "")

    s = summ.assign(cell=summ.apply(cell, axis=1))
    order = list(dict.fromkeys(s[TARGET]))
    tab = s.pivot_table(index=[METHOD, N], columns=TARGET, values="cell", aggfunc="first")
    methods = list(dict.fromkeys(s[METHOD]))
    tab = tab.reindex(columns=order)
    tab = tab.reindex(pd.MultiIndex.from_product([methods, sorted(set(s[N]))], names=[METHOD, N]))
    return tab.dropna(how="all")
