"""Inputs of a NAS problem: the accuracy table, the latency objective's name, the study's constants."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from latxfer import dims as D
from latxfer.errors import ConfigError, InsufficientDataError, MissingColumnError

__all__ = ["ACCURACY_NAMES", "OBJECTIVES", "SAMPLERS", "NSGA2_POPULATION", "DIRECTIONS", "METRIC_NAMES",
           "load_accuracy", "parse_objective"]

#: ``--accuracy`` names of the NB201 accuracy table (``nb201-accuracy``, percent).
ACCURACY_NAMES = {
    "cifar10": "cifar10_test_acc",
    "cifar10-test": "cifar10_test_acc",
    "cifar10-val": "cifar10_val_acc",
    "cifar100": "cifar100_test_acc",
    "imagenet16-120": "imagenet16_120_test_acc",
}
#: Latency objectives: ``mean``, ``median``, ``q<p>`` (posterior quantile, e.g. ``q0.9``), ``measured``.
OBJECTIVES = ("mean", "median", "q<p>", "measured")
#: Sampler names of :func:`make_sampler`.
SAMPLERS = ("nsga2", "tpe", "gp", "random")
#: Default NSGA-II population (see :func:`make_sampler`).
NSGA2_POPULATION = 8
DIRECTIONS = ("maximize", "minimize")
METRIC_NAMES = ("accuracy", "latency_ms")
_CONSTRAINT = "budget_violation"  # (1 - delta) - P(latency <= budget): feasible when <= 0
_ATTR = "latxfer"  # study user attribute holding the search configuration

# ============================================================================= inputs
def _arch_values(x, name: str, archs=None) -> tuple[np.ndarray, np.ndarray]:
    """``(archs, values)`` from a DataArray over arch, a Series indexed by arch, or an array + ``archs``."""
    import xarray as xr

    if isinstance(x, xr.DataArray):
        if D.ARCH not in x.dims or x.ndim != 1:
            raise ConfigError(f"{name}: expected a 1-D DataArray over {D.ARCH!r}, got dims {x.dims}")
        return np.asarray(x[D.ARCH].values, np.int64), np.asarray(x.values, float)
    if isinstance(x, pd.Series):
        return np.asarray(x.index, np.int64), x.to_numpy(float)
    v = np.asarray(x, float)
    if v.ndim != 1:
        raise ConfigError(f"{name}: expected a 1-D array over architectures, got shape {v.shape}")
    a = np.arange(v.size, dtype=np.int64) if archs is None else np.asarray(archs, np.int64)
    if a.shape != v.shape:
        raise ConfigError(f"{name}: {v.size} values for {a.size} architectures")
    return a, v


def _align(src_archs, values, archs, name: str, what: str = "architectures") -> np.ndarray:
    """``values`` (over ``src_archs``) re-ordered onto ``archs``; missing / non-finite ones named."""
    s = pd.Series(values, index=pd.Index(src_archs))
    if not s.index.is_unique:
        dup = s.index[s.index.duplicated()].unique()[:8].tolist()
        raise ConfigError(f"{name}: duplicate architecture indices {dup}")
    out = s.reindex(archs).to_numpy(float)
    miss = ~np.isfinite(out)
    if miss.any():
        idx = np.asarray(archs)[miss]
        raise InsufficientDataError(
            f"{name} lacks {int(miss.sum())} of the {len(archs)} {what} of the search "
            f"(missing or not finite), e.g. arch_index {idx[:10].tolist()}; supply a value for every "
            "architecture"
        )
    return out


def load_accuracy(spec, archs=None, *, space: str = "nb201", data_dir=None) -> pd.Series:
    """Accuracy (percent) over architectures, as a Series indexed by ``arch_index``.

    Parameters
    ----------
    spec : str, path-like, Series, DataArray or callable
        A name of :data:`ACCURACY_NAMES` (NB201 only: ``cifar10`` = ``cifar10_test_acc`` of the
        ``nb201-accuracy`` dataset; ``cifar10-val``, ``cifar100``, ``imagenet16-120``) or a variable name of
        that dataset; a CSV file with columns ``arch_index,accuracy`` (any space: FBNet / OFA need one);
        a Series / DataArray over arch; or ``f(arch_indices) -> accuracies``.
    archs : array-like of int, optional
        Architectures the search covers; every one must have a finite accuracy
        (:class:`~latxfer.errors.InsufficientDataError` names the missing ones).  Required for a callable.
    space : str
        Search space (decides whether built-in names exist).
    data_dir : path-like, optional
        Data directory of the built-in table.

    Returns
    -------
    pandas.Series
        Accuracy in percent, indexed by arch (restricted to ``archs`` in their order when given).
    """
    name = "accuracy"
    if callable(spec) and not isinstance(spec, (str, os.PathLike)):
        if archs is None:
            raise ConfigError("an accuracy function needs the architectures to evaluate (archs=...)")
        a = np.asarray(archs, np.int64)
        v = np.asarray(spec(a), float)
        if v.shape != a.shape:
            raise ConfigError(f"the accuracy function returned shape {v.shape} for {a.size} architectures")
        src, vals, name = a, v, "accuracy function"
    elif isinstance(spec, (str, os.PathLike)) and (
        str(spec).lower() in ACCURACY_NAMES or not str(spec).lower().endswith((".csv", ".gz"))
        and not Path(spec).exists()
    ):
        key = str(spec).lower()
        var = ACCURACY_NAMES.get(key, str(spec))
        if space != "nb201":
            raise ConfigError(
                f"no built-in accuracy {spec!r} for space {space!r}: pass a CSV file with columns "
                "arch_index,accuracy (or a function / Series)"
            )
        from latxfer.data.datasets import load_dataset

        acc = load_dataset("nb201-accuracy", data_dir)
        if var not in acc:
            raise ConfigError(
                f"unknown accuracy {spec!r}; expected one of {sorted(ACCURACY_NAMES)} "
                f"(or a variable of nb201-accuracy: {sorted(acc.data_vars)}, or a CSV file arch_index,accuracy)"
            )
        src, vals, name = acc[D.ARCH].values.astype(np.int64), acc[var].values.astype(float), f"accuracy {var}"
    elif isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.exists():
            from latxfer.errors import DataFileNotFoundError

            raise DataFileNotFoundError(f"accuracy file {str(path)!r} does not exist")
        df = pd.read_csv(path)
        cols = [c.strip().lower() for c in df.columns]
        df.columns = cols
        missing = [c for c in ("arch_index", "accuracy") if c not in cols]
        if missing:
            raise MissingColumnError(
                f"{path}: missing column(s) {missing}; expected columns arch_index,accuracy, got {list(df.columns)}"
            )
        src = pd.to_numeric(df["arch_index"], errors="coerce").to_numpy(float)
        if not np.all(np.isfinite(src)) or np.any(src != np.round(src)):
            raise ConfigError(f"{path}: arch_index must be integers")
        src = src.astype(np.int64)
        vals = pd.to_numeric(df["accuracy"], errors="coerce").to_numpy(float)
        name = f"accuracy file {str(path)!r}"
    else:
        src, vals = _arch_values(spec, "accuracy")
    if archs is None:
        return pd.Series(vals, index=pd.Index(src, name="arch_index"), name="accuracy")
    archs = np.asarray(archs, np.int64)
    return pd.Series(_align(src, vals, archs, name), index=pd.Index(archs, name="arch_index"),
                     name="accuracy")


_Q = re.compile(r"^q(0?\.\d+|1(\.0*)?|0)$")


def parse_objective(objective: str) -> tuple[str, float | None]:
    """``"mean"`` -> ("mean", None); ``"q0.9"`` -> ("quantile", 0.9); ``"median"`` -> ("quantile", 0.5)."""
    o = str(objective).strip().lower()
    if o in ("mean", "measured"):
        return o, None
    if o == "median":
        return "quantile", 0.5
    m = _Q.match(o)
    if m:
        q = float(o[1:])
        if 0.0 < q < 1.0:
            return "quantile", q
    raise ConfigError(
        f"unknown latency objective {objective!r}; expected 'mean', 'median' or 'q<p>' with 0 < p < 1 "
        "(e.g. 'q0.9' for the posterior 90% quantile)"
    )
