"""Searches: the sampler, the (resumable, shared) Optuna study run, and the exhaustive search."""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from latxfer.errors import ConfigError, StorageError
from latxfer.nas.inputs import NSGA2_POPULATION, SAMPLERS
from latxfer.nas.objective import _UniqueObjective
from latxfer.nas.pareto import _front_order
from latxfer.nas.problem import NASProblem
from latxfer.nas.storage import (
    _create_or_load,
    _first_line,
    _storage_cause,
    fail_stale_trials,
    open_storage,
    redact_url,
    storage_kind,
)

__all__ = ["make_sampler", "SearchResult", "run_search", "exhaustive_search"]


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


# ============================================================================= search
@dataclass
class SearchResult:
    """Outcome of one search.

    Attributes
    ----------
    problem : NASProblem
    pareto_archs : numpy.ndarray
        Non-dominated feasible architectures among those evaluated (Optuna's ``study.best_trials``, by
        the stored objective values: accuracy, latency objective), sorted by latency.
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
        Trials this call evaluated (0 when the study had already reached ``n_trials``); in a shared
        study, this worker's share.
    n_warm_start : int
        Warm-start architectures enqueued by this call.
    stale_failed : list of int
        Numbers of the RUNNING trials of killed workers that this call failed.
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
    stale_failed: list = field(default_factory=list)

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
        only the remainder, and workers sharing a stored study together reach exactly ``n_trials``
        (see :mod:`latxfer.nas.objective`; with ``revisit=True`` each may overshoot by one trial).
    sampler : str or optuna sampler
        ``nsga2`` (default), ``tpe``, ``gp``, ``random`` (:func:`make_sampler`) or a sampler object.
    seed : int or None
        Sampler seed: a single in-memory worker reproduces exactly.
    storage : str, optional
        Storage URL (:func:`open_storage`); default in memory.
    study_name : str, optional
        Default ``latxfer-<space>-<device>-<objective>-<accuracy>`` with a storage.  An existing study of
        that name is resumed if it was made for the same objectives, settings, model and target data
        (fingerprints, see :class:`NASProblem`), else :class:`~latxfer.errors.StudyMismatchError`.
        RUNNING trials left by killed workers are failed when they are stale
        (:func:`~latxfer.nas.storage.fail_stale_trials`).
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

    Returns
    -------
    SearchResult
        The Pareto set is Optuna's ``study.best_trials`` (the feasible non-dominated COMPLETE trials, by
        the objective values stored in the study): every worker of a shared study returns the same set.

    Raises
    ------
    StorageError
        The storage cannot be opened, or was lost during the search (a database server that went away):
        the message says how many trials this call completed; every trial committed before stays in the
        study, and the same command resumes it.
    """
    import optuna
    from optuna.trial import TrialState

    if int(n_trials) < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    n_trials = int(n_trials)
    samp = make_sampler(sampler, seed, population_size=population_size) if isinstance(sampler, str) else sampler
    st = open_storage(storage)
    t0 = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    state = {"objective": None, "done": 0}
    try:
        study = _create_or_load(st, study_name, problem, samp, storage)
        running0 = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        stale = fail_stale_trials(study, st)
        with _quiet_storage_errors_in_threads():
            _optimize(study, st, problem, n_trials, state, revisit=revisit, shared=storage is not None,
                      timeout=timeout, progress=progress, callbacks=callbacks, warm_start=warm_start)
        obj = state["objective"]
        if obj is not None:
            stale += obj.stale_failed
        # Optuna's own optimize loop also fails stale trials of heartbeat storages: count a trial that was
        # RUNNING when this search started and is FAIL now, whoever failed it
        stale += [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                  if t.number in running0]
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = study.best_trials
    except Exception as exc:
        cause = _storage_cause(exc)
        if cause is None:
            raise
        obj = state["objective"]
        ran = "no trial" if obj is None else f"{obj.n_evaluated} trial(s)"
        exc = cause
        raise StorageError(
            f"lost the storage {redact_url(storage)!r} during the search after this worker completed {ran} "
            f"({type(exc).__name__}: {_first_line(exc, storage)}); every trial committed before stays in the "
            "study: run the same command again to resume it when the storage is back"
        ) from None
    trial_archs = np.array([problem.arch_of_params(t.params) for t in trials], np.int64)
    obj = state["objective"]
    n_new = obj.n_evaluated if obj is not None else max(len(trials) - state["done"], 0)
    return SearchResult(
        problem=problem, pareto_archs=_pareto_of_trials(problem, best), trial_archs=trial_archs,
        n_trials=len(trials), n_unique=int(np.unique(trial_archs).size),
        sampler=sampler if isinstance(sampler, str) else type(sampler).__name__,
        study_name=study.study_name, storage=storage_kind(storage), seed=seed,
        elapsed_s=time.perf_counter() - t0, n_new=n_new, n_warm_start=state.get("n_warm", 0),
        stale_failed=sorted(set(stale)),
    )


def _optimize(study, st, problem: NASProblem, n_trials: int, state: dict, *, revisit: bool, shared: bool,
              timeout, progress: bool, callbacks, warm_start) -> None:
    """Run the study until it holds ``n_trials`` COMPLETE trials (or the space is exhausted, or timeout)."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    state["done"] = done
    remaining = n_trials - done
    state["n_warm"] = _enqueue_warm_start(study, problem, warm_start, n_trials)
    if remaining <= 0:
        return
    stop = [MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))]
    if revisit:
        objective, max_asks = problem, remaining
    else:
        objective = _UniqueObjective(problem, study, shared=shared, n_trials=n_trials if shared else None,
                                     storage=st)
        state["objective"] = objective
        if objective.exhausted():
            return
        # a sampler that keeps proposing evaluated architectures must not loop for ever
        cap = _MAX_ASKS_PER_TRIAL * remaining
        max_asks = None if shared else cap

        def _stop(study, _trial, obj=objective):
            if obj.exhausted() or obj.n_revisits >= cap:
                study.stop()

        stop.append(_stop)
    t_end = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if t_end is None else max(t_end - time.monotonic(), 0.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.optimize(objective, n_trials=max_asks, timeout=left, show_progress_bar=progress,
                               callbacks=[*stop, *callbacks], gc_after_trial=False)
            return
        except Exception as exc:
            # another worker failed this worker's trial as stale (it was descheduled for longer than the
            # grace period): the trial is lost, not the search; carry on.  (Optuna may raise an
            # AssertionError while handling the UpdateFinishedTrialError: look through the chain.)
            if not shared or not _caused_by(exc, optuna.exceptions.UpdateFinishedTrialError):
                raise


@contextlib.contextmanager
def _quiet_storage_errors_in_threads():
    """While searching, a storage error in Optuna's heartbeat thread is not printed as a traceback.

    The search itself then meets the same error and raises a :class:`StorageError` with a message; any
    other exception in a thread goes to the previous hook.
    """
    previous = threading.excepthook

    def hook(args):
        if args.exc_value is not None and _storage_cause(args.exc_value) is not None:
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def _caused_by(exc: BaseException, cls: type) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, cls):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _pareto_of_trials(problem: NASProblem, best) -> np.ndarray:
    """Architectures of Optuna's ``best_trials``, latency ascending then accuracy descending, each once."""
    if not best:
        return np.zeros(0, np.int64)
    archs = np.array([problem.arch_of_params(t.params) for t in best], np.int64)
    acc = np.array([t.values[0] for t in best], float)
    lat = np.array([t.values[1] for t in best], float)
    order = np.lexsort((archs, -acc, lat))  # exact ties by arch index, as _front_order over sorted archs
    return pd.unique(archs[order])

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


def exhaustive_search(problem: NASProblem) -> SearchResult:
    """The exact Pareto set of the problem by enumerating every architecture (no Optuna)."""
    t0 = time.perf_counter()
    return SearchResult(problem=problem, pareto_archs=_pareto_of(problem, problem.archs),
                        trial_archs=problem.archs.copy(), n_trials=problem.n_archs, n_unique=problem.n_archs,
                        sampler="exhaustive", study_name=None, storage="none", seed=None,
                        elapsed_s=time.perf_counter() - t0, n_new=problem.n_archs)


def _search(problem, n_trials, kw) -> SearchResult:
    return exhaustive_search(problem) if n_trials is None else run_search(problem, n_trials, **kw)
