"""The tabular two-objective problem (accuracy, latency) and its Optuna objective."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from latxfer.errors import ConfigError, InsufficientDataError, UnknownArchitectureError
from latxfer.nas.fingerprint import data_fingerprint
from latxfer.nas.fingerprint import model_fingerprint as _model_fingerprint
from latxfer.nas.inputs import (
    _CONSTRAINT,
    ACCURACY_NAMES,
    DIRECTIONS,
    METRIC_NAMES,
    _arch_values,
    load_accuracy,
    parse_objective,
)

__all__ = ["NASProblem"]


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
    model_fingerprint, target_fingerprint : str or None
        Content hashes of the fitted model and of the target measurements the latency comes from
        (:func:`~latxfer.nas.model_fingerprint`, :func:`~latxfer.nas.data_fingerprint`): stored on a new
        study, and a resume with other ones is refused (:class:`~latxfer.errors.StudyMismatchError`).
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
    model_fingerprint: str | None = None
    target_fingerprint: str | None = None
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
                       data_dir=None, model=None) -> NASProblem:
        """Search on a :class:`~latxfer.models.DevicePosterior` (latency in ms over its archs).

        The latency is the device's expected (noise-free) latency function when the posterior carries
        draws of it (``mean_fn_ms``), else the predictive draws: ``objective="mean"`` is its posterior
        mean, ``"q0.9"`` its 90% quantile, and the budget constraint uses ``P(latency <= budget_ms)``
        over the same draws.

        ``accuracy`` is anything :func:`load_accuracy` takes; it must cover every architecture of the
        posterior.  ``ops`` defaults to the space's op table when the space is NB201 (read from the data
        directory) so the study suggests ops per edge.

        The problem carries fingerprints of its origin, checked when a stored study is resumed: the target
        data's (:func:`~latxfer.nas.data_fingerprint` of the posterior's measured architectures and
        values) and the model's: :func:`~latxfer.nas.model_fingerprint` of ``model`` (the fitted model the
        posterior was adapted from) when given, else ``posterior.info["model_fingerprint"]`` when the
        posterior carries one.
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
                   accuracy_name=accuracy_name or _acc_name(accuracy), posterior=posterior,
                   model_fingerprint=(_model_fingerprint(model) if model is not None
                                      else (posterior.info or {}).get("model_fingerprint")),
                   target_fingerprint=_target_fingerprint(posterior))

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
                   accuracy_name=accuracy_name or _acc_name(accuracy),
                   target_fingerprint=data_fingerprint(a, lat, device))

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


def _target_fingerprint(posterior) -> str:
    """Fingerprint of the measurements a posterior conditions on (device, measured archs and values)."""
    m = np.asarray(posterior.measured_ms, float)
    ok = np.isfinite(m)
    return data_fingerprint(np.asarray(posterior.archs)[ok], m[ok], posterior.device)


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
