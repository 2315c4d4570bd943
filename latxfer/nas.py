"""Hardware-aware NAS on transferred latency: multi-objective Optuna studies and Pareto evaluation.

Objectives are *accuracy (maximise, percent)* and *target latency (minimise, milliseconds)*.  The latency
objective is a table over architectures, so a trial is two array look-ups:

* ``"mean"`` — the posterior mean of a :class:`~latxfer.models.DevicePosterior` (default);
* ``"q0.9"`` (any ``q<p>``) — a posterior quantile, for risk-averse searches;
* ``"measured"`` — a measured latency vector (the proxy's in the *reuse* workflow, the target's own in the
  *oracle* search).

A latency budget becomes the probabilistic constraint ``P(latency <= budget) >= 1 - delta`` through
Optuna 5's ``trial.set_constraint`` (feasible when ``(1 - delta) - P <= 0``); with a measured vector
``P`` is 0 or 1.

Workflows (the paper's comparison)
----------------------------------
``reuse_workflow``  search on the proxy's measured latency, measure the proxy-Pareto architectures on
                    the target (counted), drop the dominated ones.
``adapt_workflow``  search on the adapted posterior.
``oracle_search``   per-device search on the target's true latency (the yardstick).

Evaluation on tabular spaces: :func:`true_pareto_front` (exhaustive), :func:`evaluate_front`
(hypervolume ratio on **true** target latency, IGD+, recovered true-Pareto architectures), with the
exact 2-D :func:`hypervolume_2d` and :func:`igd_plus` implemented here in numpy.

Storage: :func:`open_storage` maps a URL to an Optuna storage (``None`` = in memory,
``sqlite:///f.db`` / any SQLAlchemy URL, ``journal:///path.log`` or a path ending in ``.log`` /
``.journal``).  :func:`run_search` with ``n_trials=N`` runs until the study holds N COMPLETE trials, so an
interrupted study resumes where it stopped and several worker processes can share one study.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from latxfer import dims as D
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    MissingColumnError,
    UnknownArchitectureError,
)

__all__ = [
    "ACCURACY_NAMES",
    "OBJECTIVES",
    "SAMPLERS",
    "NSGA2_POPULATION",
    "NASProblem",
    "SearchResult",
    "WorkflowResult",
    "TrueFront",
    "load_accuracy",
    "parse_objective",
    "make_sampler",
    "open_storage",
    "run_search",
    "exhaustive_search",
    "source_fronts",
    "reuse_workflow",
    "adapt_workflow",
    "oracle_search",
    "pareto_mask",
    "true_pareto_front",
    "hypervolume_2d",
    "igd_plus",
    "evaluate_front",
]

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


# ============================================================================= the problem
@dataclass
class NASProblem:
    """A tabular two-objective NAS problem: accuracy (maximise, %) and latency (minimise, ms).

    Build it with :meth:`from_posterior` or :meth:`from_latency`.

    Attributes
    ----------
    archs : numpy.ndarray
        Searchable architecture indices (int64).
    accuracy : numpy.ndarray
        Accuracy (percent) per architecture.
    latency_ms : numpy.ndarray
        Latency objective (ms) per architecture: posterior mean / quantile or a measured value.
    objective : str
        ``"mean"``, ``"q0.9"``..., or ``"measured"``.
    prob_below : numpy.ndarray or None
        ``P(latency <= budget_ms)`` per architecture when a budget is set.
    budget_ms, delta : float
        Budget (ms) and risk: feasible when ``P(latency <= budget_ms) >= 1 - delta``.
    ops : numpy.ndarray or None
        ``(n_archs, n_positions)`` op codes.  When they enumerate the full product space (NB201: 5**6) the
        study suggests one categorical op per position (``encoding="ops"``); otherwise it suggests the
        architecture index itself (``encoding="index"``: FBNet / OFA, whose 5,000 indexed architectures
        are a sample of a huge space, so op-wise suggestions would almost never hit an indexed one).
    space, device, latency_source, accuracy_name : str
        Provenance, stored on the study and compared on resume.
    posterior : DevicePosterior or None
        Kept for interval summaries of the result table.
    """

    archs: np.ndarray
    accuracy: np.ndarray
    latency_ms: np.ndarray
    objective: str = "mean"
    prob_below: np.ndarray | None = None
    budget_ms: float | None = None
    delta: float = 0.05
    ops: np.ndarray | None = None
    space: str = "nb201"
    device: str = "target"
    latency_source: str = "posterior"
    accuracy_name: str = "accuracy"
    posterior: Any = None
    encoding: str = field(init=False)

    def __post_init__(self):
        self.archs = np.asarray(self.archs, np.int64)
        self.accuracy = np.asarray(self.accuracy, float)
        self.latency_ms = np.asarray(self.latency_ms, float)
        n = self.archs.size
        if n == 0:
            raise InsufficientDataError("the search space of this problem is empty")
        for nm, v in (("accuracy", self.accuracy), ("latency_ms", self.latency_ms)):
            if v.shape != (n,):
                raise ConfigError(f"{nm} must have shape ({n},), got {v.shape}")
            if not np.all(np.isfinite(v)):
                bad = self.archs[~np.isfinite(v)]
                raise InsufficientDataError(f"{nm} is missing for arch_index {bad[:10].tolist()}")
        if len(np.unique(self.archs)) != n:
            raise ConfigError("duplicate architecture indices in the problem")
        if self.budget_ms is not None:
            if not (np.isfinite(self.budget_ms) and self.budget_ms > 0):
                raise ConfigError(f"budget_ms must be a positive number of ms, got {self.budget_ms}")
            if not 0.0 <= self.delta < 1.0:
                raise ConfigError(f"delta must be in [0, 1), got {self.delta}")
            if self.prob_below is None:
                self.prob_below = (self.latency_ms <= self.budget_ms).astype(float)
            self.prob_below = np.asarray(self.prob_below, float)
        self._pos = pd.Index(self.archs)
        self.encoding = "index"
        self._code_to_pos = None
        if self.ops is not None:
            ops = np.asarray(self.ops, np.int64)
            if ops.ndim != 2 or ops.shape[0] != n:
                raise ConfigError(f"ops must have shape ({n}, n_positions), got {ops.shape}")
            base = int(ops.max()) + 1
            total = base ** ops.shape[1]
            if ops.min() >= 0 and total == n:
                codes = ops @ (base ** np.arange(ops.shape[1], dtype=np.int64))
                table = np.full(total, -1, np.int64)
                table[codes] = np.arange(n)
                if (table >= 0).all():
                    self.ops, self._base, self._code_to_pos = ops, base, table
                    self.encoding = "ops"

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_posterior(cls, posterior, accuracy, *, objective: str = "mean", budget_ms: float | None = None,
                       delta: float = 0.05, ops=None, space: str = "nb201", accuracy_name: str | None = None,
                       data_dir=None) -> NASProblem:
        """Search on a :class:`~latxfer.models.DevicePosterior` (latency in ms over its archs).

        The latency is the device's expected (noise-free) latency function when the posterior carries
        draws of it (``mean_fn_ms``), else the predictive draws: ``objective="mean"`` is its posterior
        mean, ``"q0.9"`` its 90% quantile, and the budget constraint uses ``P(latency <= budget_ms)``
        over the same draws.

        ``accuracy`` is anything :func:`load_accuracy` takes; it must cover every architecture of the
        posterior.  ``ops`` defaults to the space's op table when the space is NB201 (read from the data
        directory) so the study suggests ops per edge.
        """
        kind, q = parse_objective(objective)
        if kind == "measured":
            raise ConfigError("objective 'measured' needs a measured latency vector: use NASProblem.from_latency")
        archs = np.asarray(posterior.archs, np.int64)
        # the device's expected (noise-free) latency when the posterior carries it, else predictive draws
        draws = posterior.mean_fn_ms if posterior.mean_fn_ms is not None else posterior.draws_ms
        lat = draws.mean(axis=0) if kind == "mean" else np.quantile(draws, q, axis=0)
        acc = load_accuracy(accuracy, archs, space=space, data_dir=data_dir)
        p = None if budget_ms is None else (draws <= float(budget_ms)).mean(axis=0)
        if ops is None:
            ops = _default_ops(space, archs, data_dir)
        return cls(archs, acc.to_numpy(), lat, objective=str(objective).lower(), prob_below=p,
                   budget_ms=budget_ms, delta=delta, ops=ops, space=space, device=posterior.device,
                   latency_source=f"posterior ({posterior.label}, n={posterior.n_measured})",
                   accuracy_name=accuracy_name or _acc_name(accuracy), posterior=posterior)

    @classmethod
    def from_latency(cls, latency_ms, accuracy, *, archs=None, budget_ms: float | None = None, ops=None,
                     space: str = "nb201", device: str = "device", latency_source: str = "measured",
                     accuracy_name: str | None = None, data_dir=None) -> NASProblem:
        """Search on a measured latency vector (ms): a DataArray over arch, a Series, or array + ``archs``.

        Architectures with a missing (NaN) latency are left out of the search.
        """
        a, lat = _arch_values(latency_ms, "latency_ms", archs)
        keep = np.isfinite(lat)
        a, lat = a[keep], lat[keep]
        order = np.argsort(a, kind="stable")
        a, lat = a[order], lat[order]
        acc = load_accuracy(accuracy, a, space=space, data_dir=data_dir)
        if ops is None:
            ops = _default_ops(space, a, data_dir)
        return cls(a, acc.to_numpy(), lat, objective="measured", budget_ms=budget_ms, delta=0.0, ops=ops,
                   space=space, device=device, latency_source=latency_source,
                   accuracy_name=accuracy_name or _acc_name(accuracy))

    # -- Optuna objective ------------------------------------------------------------------------
    @property
    def n_archs(self) -> int:
        """Number of searchable architectures."""
        return int(self.archs.size)

    def suggest(self, trial) -> int:
        """Suggest one architecture in ``trial``; return its position in :attr:`archs`."""
        if self.encoding == "ops":
            choices = tuple(range(self._base))
            code = 0
            for p in range(self.ops.shape[1]):
                code += trial.suggest_categorical(f"op{p}", choices) * self._base ** p
            return int(self._code_to_pos[code])
        return int(self._pos.get_loc(trial.suggest_categorical("arch_index", self._choices())))

    def _choices(self) -> tuple[int, ...]:
        if not hasattr(self, "_choice_tuple"):
            self._choice_tuple = tuple(int(a) for a in self.archs)
        return self._choice_tuple

    def params_of_arch(self, arch: int) -> dict:
        """The trial parameters that suggest architecture ``arch`` (inverse of :meth:`arch_of_params`)."""
        i = int(self.positions([arch])[0])
        if self.encoding == "ops":
            return {f"op{p}": int(self.ops[i, p]) for p in range(self.ops.shape[1])}
        return {"arch_index": int(self.archs[i])}

    def arch_of_params(self, params: dict) -> int:
        """Architecture index of a trial's parameters."""
        if self.encoding == "ops":
            code = sum(int(params[f"op{p}"]) * self._base ** p for p in range(self.ops.shape[1]))
            return int(self.archs[self._code_to_pos[code]])
        return int(params["arch_index"])

    def __call__(self, trial) -> tuple[float, float]:
        """Optuna objective: ``(accuracy %, latency ms)``; sets the budget constraint when a budget is set."""
        return self.evaluate(trial, self.suggest(trial))

    def evaluate(self, trial, i: int) -> tuple[float, float]:
        """Objective values of the architecture at position ``i`` (sets the budget constraint on ``trial``)."""
        if self.prob_below is not None:
            trial.set_constraint(_CONSTRAINT, (1.0 - self.delta) - float(self.prob_below[i]))
        return float(self.accuracy[i]), float(self.latency_ms[i])

    # -- tables ----------------------------------------------------------------------------------
    def positions(self, archs) -> np.ndarray:
        """Positions of ``archs`` in :attr:`archs` (UnknownArchitectureError if absent)."""
        archs = np.atleast_1d(np.asarray(archs, np.int64))
        pos = self._pos.get_indexer(archs)
        if (pos < 0).any():
            raise UnknownArchitectureError(
                f"architecture(s) {archs[pos < 0][:8].tolist()} are not in this problem ({self.n_archs} archs)"
            )
        return pos

    def feasible(self) -> np.ndarray:
        """Boolean mask over :attr:`archs`: satisfies the budget constraint (all True without a budget)."""
        if self.prob_below is None:
            return np.ones(self.n_archs, bool)
        return self.prob_below >= (1.0 - self.delta) - 1e-12

    def config(self) -> dict:
        """What identifies the search (stored on the study; a resumed study must match)."""
        return {
            "directions": list(DIRECTIONS), "metrics": list(METRIC_NAMES), "objective": self.objective,
            "space": self.space, "encoding": self.encoding, "n_archs": self.n_archs,
            "accuracy": self.accuracy_name, "device": self.device,
            "budget_ms": None if self.budget_ms is None else float(self.budget_ms),
            "delta": None if self.budget_ms is None else float(self.delta),
        }

    def table(self, archs, interval: float = 0.9) -> pd.DataFrame:
        """Per-architecture table: arch_index, accuracy, latency objective and, with a posterior, the
        posterior mean, a central ``interval`` (ms), the measured value and ``P(latency <= budget)``."""
        pos = self.positions(archs) if len(archs) else np.zeros(0, np.int64)
        df = pd.DataFrame({"arch_index": self.archs[pos], "accuracy": self.accuracy[pos],
                           "latency_ms": self.latency_ms[pos]})
        post = self.posterior
        if post is not None:
            pp = post.positions(self.archs[pos]) if len(pos) else np.zeros(0, np.int64)
            lo, hi = post.interval(interval)
            df["mean_ms"] = post.mean()[pp]
            df[f"lower{int(round(interval * 100))}_ms"] = lo[pp]
            df[f"upper{int(round(interval * 100))}_ms"] = hi[pp]
            df["measured_ms"] = post.measured_ms[pp]
        if self.prob_below is not None:
            df["prob_below_budget"] = self.prob_below[pos]
        return df.sort_values(["latency_ms", "accuracy"], ascending=[True, False]).reset_index(drop=True)


def _acc_name(spec) -> str:
    if isinstance(spec, (str, os.PathLike)):
        return ACCURACY_NAMES.get(str(spec).lower(), str(spec))
    return getattr(spec, "name", None) or type(spec).__name__


def _default_ops(space: str, archs: np.ndarray, data_dir=None):
    """NB201 op table (for op-wise suggestions) when the data directory has it; else None (index)."""
    if space != "nb201" or len(archs) != 5 ** 6:
        return None
    try:
        from latxfer.data.datasets import load_space

        return np.asarray(load_space("nb201", data_dir).ops(archs), np.int64)
    except Exception:  # noqa: BLE001 - no table: fall back to index suggestions
        return None


# ============================================================================= samplers, storage
def make_sampler(name: str = "nsga2", seed: int | None = 0, *, population_size: int | None = None):
    """An Optuna sampler by name: ``nsga2`` (default), ``tpe``, ``gp`` (needs ``torch``), ``random``.

    ``seed`` makes a single-worker study reproducible.  With several workers on one study give each a
    different seed (identical seeds propose identical architectures).  NSGA-II's ``population_size``
    defaults to :data:`NSGA2_POPULATION` (8, not Optuna's 50), chosen on the HELP *validation* devices
    (oracle searches, 500 distinct architectures, 10 seeds each): populations 6-10 gave a mean hypervolume
    ratio of 0.997, 20 gave 0.995 and 50 gave 0.992 (more generations beat a wider population at this
    budget).  ``benchmarks/nas.py --tune-population`` reruns that choice.
    """
    import optuna

    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key in ("nsga2", "nsgaii"):
        pop = NSGA2_POPULATION if population_size is None else int(population_size)
        if pop < 2:
            raise ConfigError(f"NSGA-II population_size must be >= 2, got {population_size}")
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=pop)
    if key in ("tpe", "motpe"):
        return optuna.samplers.TPESampler(seed=seed)
    if key == "gp":
        if importlib.util.find_spec("torch") is None:
            raise ConfigError("sampler 'gp' (Optuna's GPSampler) needs PyTorch: `pip install torch`, "
                              "or choose nsga2 / tpe / random")
        return optuna.samplers.GPSampler(seed=seed)
    if key == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"unknown sampler {name!r}; expected one of {list(SAMPLERS)}")


_JOURNAL_EXT = (".log", ".journal", ".jsonl")


def storage_kind(url: str | None) -> str:
    """``"memory"``, ``"journal"`` or ``"rdb"`` for a storage URL (see :func:`open_storage`)."""
    if url is None or str(url).strip().lower() in ("", "memory", ":memory:", "inmemory"):
        return "memory"
    u = str(url).strip()
    if u.startswith("journal:"):
        return "journal"
    if "://" in u:
        return "rdb"
    if u.lower().endswith(_JOURNAL_EXT):
        return "journal"
    if u.lower().endswith((".db", ".sqlite", ".sqlite3")):
        return "rdb"
    raise ConfigError(
        f"cannot interpret storage {url!r}; expected 'sqlite:///FILE.db', another SQLAlchemy URL "
        "(e.g. 'postgresql://user@host/db'), 'journal:///PATH.log' or a path ending in .log / .journal"
    )


def open_storage(url: str | None):
    """Open an Optuna storage from a URL; ``None`` means in memory (returns None).

    URL conventions
    ---------------
    * ``None`` / ``"memory"``: in-memory (one process).
    * ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``postgresql://...``, ``mysql://...``: Optuna's
      RDB storage (any SQLAlchemy URL).  A bare path ending in ``.db`` / ``.sqlite`` means SQLite.
    * ``journal:///abs/path.log``, ``journal://relative.log``, or a bare path ending in ``.log`` /
      ``.journal``: Optuna's JournalStorage on a JournalFileBackend (append-only file, good for many
      processes on one machine or a shared POSIX file system).

    Raises
    ------
    ConfigError
        The URL cannot be interpreted or the storage cannot be opened (message names the URL and the
        reason; no traceback through the CLI).
    """
    import optuna

    kind = storage_kind(url)
    if kind == "memory":
        return None
    u = str(url).strip()
    try:
        if kind == "journal":
            path = u[len("journal://"):] if u.startswith("journal://") else (
                u[len("journal:"):] if u.startswith("journal:") else u)
            if not path:
                raise ConfigError(f"storage {url!r}: no journal file path")
            p = Path(path)
            if not p.parent.exists():
                raise ConfigError(f"cannot open storage {url!r}: directory {str(p.parent)!r} does not exist")
            if p.is_dir():
                raise ConfigError(f"cannot open storage {url!r}: {str(p)!r} is a directory, not a journal file")
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            with open(p, "ab"):
                pass
            return JournalStorage(JournalFileBackend(str(p)))
        if "://" not in u:
            u = f"sqlite:///{u}"
        sqlite_file = None
        if u.startswith("sqlite:///"):
            p = Path(u[len("sqlite:///"):])
            if str(p) not in ("", ":memory:"):
                if not p.parent.exists():
                    raise ConfigError(f"cannot open storage {url!r}: directory {str(p.parent)!r} does not exist")
                sqlite_file = p
                _sqlite_wal(p)
        storage = optuna.storages.RDBStorage(u, engine_kwargs=_engine_kwargs(u))
        if sqlite_file is not None:
            _sqlite_sync_normal(storage)
        return storage
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy / driver / OS errors of every kind
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open storage {url!r}: {type(exc).__name__}: {msg}") from None


def _sqlite_wal(path: Path) -> None:
    """Put a SQLite file in WAL mode (persistent): readers never block the writer, 4x faster trials."""
    import sqlite3

    con = sqlite3.connect(str(path), timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def _sqlite_sync_normal(storage) -> None:
    """``synchronous=NORMAL`` on every connection: safe against a killed process in WAL mode (only an OS
    crash or power loss may drop the last transactions), and avoids an fsync per trial."""
    from sqlalchemy import event

    def on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def _engine_kwargs(url: str) -> dict:
    # SQLite: wait for the other workers' write locks instead of failing at once
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {}


def _create_or_load(storage, study_name: str | None, problem: NASProblem, sampler):
    """Create the study, or load it and check that it was made for the same problem."""
    import optuna

    directions = list(DIRECTIONS)
    if storage is not None and study_name is None:
        study_name = _default_study_name(problem)
    try:
        study = optuna.create_study(storage=storage, sampler=sampler, study_name=study_name,
                                    directions=directions, load_if_exists=True)
    except Exception as exc:  # noqa: BLE001 - storage failures while creating
        raise ConfigError(f"cannot create or load study {study_name!r}: {type(exc).__name__}: {exc}") from None
    got = [d.name.lower() for d in study.directions]
    want = problem.config()
    stored = study.user_attrs.get(_ATTR)
    if got != directions:
        raise ConfigError(
            f"study {study.study_name!r} already exists with {len(got)} objective(s) {got}; this search has "
            f"{directions} ({list(METRIC_NAMES)}): choose another --study name"
        )
    if stored is None:
        if study.trials:
            raise ConfigError(
                f"study {study.study_name!r} already exists and was not made by latxfer nas (no stored "
                "configuration): choose another --study name"
            )
        study.set_user_attr(_ATTR, want)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(METRIC_NAMES))
    else:
        diff = {k: (stored.get(k), v) for k, v in want.items() if k != "device" and stored.get(k) != v}
        if diff:
            txt = "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, (a, b) in diff.items())
            raise ConfigError(
                f"study {study.study_name!r} already exists with different objectives or settings ({txt}); "
                "use the same settings to resume it, or another --study name"
            )
    return study


def _default_study_name(problem: NASProblem) -> str:
    b = "" if problem.budget_ms is None else f"-b{problem.budget_ms:g}-d{problem.delta:g}"
    return f"latxfer-{problem.space}-{problem.device}-{problem.objective}-{problem.accuracy_name}{b}"


# ============================================================================= search
@dataclass
class SearchResult:
    """Outcome of one search.

    Attributes
    ----------
    problem : NASProblem
    pareto_archs : numpy.ndarray
        Non-dominated feasible architectures among those evaluated, by the problem's own objectives
        (accuracy, latency objective), sorted by latency.
    trial_archs : numpy.ndarray
        Architecture of every COMPLETE trial of the study, in trial order (all workers, all sessions).
    n_trials : int
        COMPLETE trials in the study.
    n_unique : int
        Distinct architectures evaluated (samplers revisit architectures).
    sampler, study_name, storage : str
    seed : int or None
    elapsed_s : float
        Wall time of this call.
    n_new : int
        Trials this call ran (0 when the study had already reached ``n_trials``).
    """

    problem: NASProblem
    pareto_archs: np.ndarray
    trial_archs: np.ndarray
    n_trials: int
    n_unique: int
    sampler: str
    study_name: str | None
    storage: str
    seed: int | None
    elapsed_s: float
    n_new: int = 0
    n_warm_start: int = 0

    def table(self, interval: float = 0.9) -> pd.DataFrame:
        """The Pareto set as a table (see :meth:`NASProblem.table`)."""
        return self.problem.table(self.pareto_archs, interval)


def _pareto_of(problem: NASProblem, archs: np.ndarray) -> np.ndarray:
    archs = np.unique(np.asarray(archs, np.int64))
    if archs.size == 0:
        return archs
    pos = problem.positions(archs)
    pos = pos[problem.feasible()[pos]]
    if pos.size == 0:
        return np.zeros(0, np.int64)
    return problem.archs[pos[_front_order(problem.latency_ms[pos], problem.accuracy[pos])]]


class _UniqueObjective:
    """The problem's objective, but an architecture the study has already evaluated is not evaluated again.

    A revisit is told to Optuna as PRUNED (with the user attribute ``revisit_of``): the samplers build their
    populations and models from COMPLETE trials only, so a revisit costs nothing and every COMPLETE trial is
    a distinct architecture, as in pymoo's NSGA-II (``eliminate_duplicates=True``).  Architectures completed
    by other workers of a shared study are picked up from the storage before each trial.
    """

    def __init__(self, problem: NASProblem, study, shared: bool):
        from optuna.trial import TrialState

        self.problem, self.study, self.shared = problem, study, shared
        self._complete = (TrialState.COMPLETE,)
        self.seen: dict[int, int] = {}   # arch index -> trial number
        self._known: set[int] = set()
        self.refresh()

    def refresh(self) -> None:
        for t in self.study.get_trials(deepcopy=False, states=self._complete):
            if t.number not in self._known:
                self._known.add(t.number)
                self.seen.setdefault(self.problem.arch_of_params(t.params), t.number)

    def __call__(self, trial) -> tuple[float, float]:
        import optuna

        if self.shared:
            self.refresh()
        i = self.problem.suggest(trial)
        arch = int(self.problem.archs[i])
        if arch in self.seen:
            trial.set_user_attr("revisit_of", int(self.seen[arch]))
            raise optuna.TrialPruned(f"architecture {arch} already evaluated in trial {self.seen[arch]}")
        self.seen[arch] = trial.number
        self._known.add(trial.number)
        return self.problem.evaluate(trial, i)

    def exhausted(self) -> bool:
        return len(self.seen) >= self.problem.n_archs


_MAX_ASKS_PER_TRIAL = 20


def run_search(problem: NASProblem, n_trials: int = 500, *, sampler: str | Any = "nsga2", seed: int | None = 0,
               storage: str | None = None, study_name: str | None = None, progress: bool = False,
               timeout: float | None = None, callbacks: Sequence[Callable] = (),
               population_size: int | None = None, revisit: bool = False,
               warm_start=None) -> SearchResult:
    """Run (or resume) a two-objective Optuna study until it holds ``n_trials`` COMPLETE trials.

    By default every COMPLETE trial is a distinct architecture: a proposal the study has already evaluated
    is recorded as a PRUNED trial (user attribute ``revisit_of``) and the sampler is asked again, so
    ``n_trials`` is the number of architectures evaluated (NSGA-II otherwise spends about 30% of a
    500-trial NB201 study on revisits).  ``revisit=True`` evaluates revisits again, as plain Optuna does.

    Parameters
    ----------
    problem : NASProblem
    n_trials : int
        Target number of COMPLETE trials in the study (not per call): a resumed or shared study runs
        only the remainder.  Several workers sharing a study may overshoot by at most one trial each.
    sampler : str or optuna sampler
        ``nsga2`` (default), ``tpe``, ``gp``, ``random`` (:func:`make_sampler`) or a sampler object.
    seed : int or None
        Sampler seed: a single in-memory worker reproduces exactly.
    storage : str, optional
        Storage URL (:func:`open_storage`); default in memory.
    study_name : str, optional
        Default ``latxfer-<space>-<device>-<objective>-<accuracy>`` with a storage.  An existing study of
        that name is resumed if it was made for the same objectives and settings, else ConfigError.
    progress : bool
        Show Optuna's progress bar.
    timeout : float, optional
        Stop after this many seconds (the study can be resumed later).
    callbacks : sequence of callables
        Extra ``callback(study, frozen_trial)`` (Optuna callbacks).
    population_size : int, optional
        NSGA-II population (default :data:`NSGA2_POPULATION`).
    revisit : bool
        Evaluate (and count) architectures the study has already evaluated (default False: skip them).
    warm_start : sequence of int, optional
        Architecture indices to evaluate first (e.g. :func:`source_fronts`: the Pareto sets of the source
        devices).  They are enqueued, in order, only when the study has no trial yet (a resumed study is
        not seeded twice), count towards ``n_trials`` and are capped at half of it; NSGA-II's elitist
        selection then carries the best of them into its parent population.  Every index must be an
        architecture of the problem (UnknownArchitectureError otherwise).
    """
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    if int(n_trials) < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    n_trials = int(n_trials)
    samp = make_sampler(sampler, seed, population_size=population_size) if isinstance(sampler, str) else sampler
    st = open_storage(storage)
    t0 = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _create_or_load(st, study_name, problem, samp)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    remaining = n_trials - done
    n_warm = _enqueue_warm_start(study, problem, warm_start, n_trials)
    if remaining > 0:
        stop = [MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))]
        if revisit:
            objective, max_asks = problem, remaining
        else:
            objective = _UniqueObjective(problem, study, shared=storage is not None)
            if objective.exhausted():
                remaining = 0
            # a sampler that keeps proposing evaluated architectures must not loop for ever
            max_asks = _MAX_ASKS_PER_TRIAL * remaining

            def _stop_when_exhausted(study, _trial, obj=objective):
                if obj.exhausted():
                    study.stop()

            stop.append(_stop_when_exhausted)
        if remaining > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.optimize(objective, n_trials=max_asks, timeout=timeout, show_progress_bar=progress,
                               callbacks=[*stop, *callbacks], gc_after_trial=False)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    trial_archs = np.array([problem.arch_of_params(t.params) for t in trials], np.int64)
    return SearchResult(
        problem=problem, pareto_archs=_pareto_of(problem, trial_archs), trial_archs=trial_archs,
        n_trials=len(trials), n_unique=int(np.unique(trial_archs).size),
        sampler=sampler if isinstance(sampler, str) else type(sampler).__name__,
        study_name=study.study_name, storage=storage_kind(storage), seed=seed,
        elapsed_s=time.perf_counter() - t0, n_new=max(len(trials) - done, 0), n_warm_start=n_warm,
    )


def _enqueue_warm_start(study, problem: NASProblem, warm_start, n_trials: int) -> int:
    """Enqueue the warm-start architectures into a study without trials; return how many were enqueued."""
    if warm_start is None:
        return 0
    archs = pd.unique(np.atleast_1d(np.asarray(warm_start, np.int64)))
    params = [problem.params_of_arch(a) for a in archs]  # validates every index before enqueueing any
    if study.get_trials(deepcopy=False):
        return 0
    params = params[: max(n_trials // 2, 1)]
    for prm in params:
        study.enqueue_trial(prm, skip_if_exists=False)
    return len(params)


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


def exhaustive_search(problem: NASProblem) -> SearchResult:
    """The exact Pareto set of the problem by enumerating every architecture (no Optuna)."""
    t0 = time.perf_counter()
    return SearchResult(problem=problem, pareto_archs=_pareto_of(problem, problem.archs),
                        trial_archs=problem.archs.copy(), n_trials=problem.n_archs, n_unique=problem.n_archs,
                        sampler="exhaustive", study_name=None, storage="none", seed=None,
                        elapsed_s=time.perf_counter() - t0, n_new=problem.n_archs)


def _search(problem, n_trials, kw) -> SearchResult:
    return exhaustive_search(problem) if n_trials is None else run_search(problem, n_trials, **kw)


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
