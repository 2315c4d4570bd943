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

Modules (one responsibility each; every public name is re-exported here)
-----------------------------------------------------------------------
``inputs``     accuracy tables (:func:`load_accuracy`), objective names (:func:`parse_objective`), constants.
``problem``    :class:`NASProblem`: the tabular problem and its Optuna objective.
``storage``    :func:`open_storage` (URL -> Optuna storage, with a heartbeat on database servers), the
               study a search creates or resumes, checked against the problem and the fingerprints of its
               model and target data; stale RUNNING trials of killed workers are failed.
``fingerprint`` content hashes of the model and the target data, checked when a study is resumed.
``objective``  the shared-worker objective: distinct architectures, exactly ``n_trials`` COMPLETE trials.
``search``     :func:`make_sampler`, :func:`run_search`, :func:`exhaustive_search`, :class:`SearchResult`.
``workflows``  ``reuse_workflow`` / ``adapt_workflow`` / ``oracle_search`` and :func:`source_fronts`.
``pareto``     :func:`pareto_mask`, :func:`true_pareto_front`, :func:`hypervolume_2d`, :func:`igd_plus`,
               :func:`evaluate_front` (scores on TRUE target latency).

Storage: ``None`` = in memory, ``sqlite:///f.db`` / ``postgresql://user:pw@host/db`` / any SQLAlchemy URL,
``journal:///path.log`` or a path ending in ``.log`` / ``.journal``.  :func:`run_search` with ``n_trials=N``
runs until the study holds N COMPLETE trials, so an interrupted study resumes where it stopped and several
worker processes (on several machines, with a database server) share one study: see
``docs/guide/many-workers.md``.
"""

from latxfer.nas.fingerprint import data_fingerprint, model_fingerprint
from latxfer.nas.inputs import (
    ACCURACY_NAMES,
    DIRECTIONS,
    METRIC_NAMES,
    NSGA2_POPULATION,
    OBJECTIVES,
    SAMPLERS,
    load_accuracy,
    parse_objective,
)
from latxfer.nas.objective import _UniqueObjective  # noqa: F401 - tests use latxfer.nas._UniqueObjective
from latxfer.nas.pareto import (
    TrueFront,
    evaluate_front,
    hypervolume_2d,
    igd_plus,
    pareto_mask,
    true_pareto_front,
)
from latxfer.nas.problem import NASProblem
from latxfer.nas.search import SearchResult, exhaustive_search, make_sampler, run_search
from latxfer.nas.storage import (
    fail_stale_trials,
    heartbeat_seconds,
    open_storage,
    redact_url,
    storage_kind,
)
from latxfer.nas.workflows import (
    WorkflowResult,
    adapt_workflow,
    oracle_search,
    reuse_workflow,
    source_fronts,
)

__all__ = [
    "ACCURACY_NAMES",
    "OBJECTIVES",
    "SAMPLERS",
    "NSGA2_POPULATION",
    "DIRECTIONS",
    "METRIC_NAMES",
    "NASProblem",
    "SearchResult",
    "WorkflowResult",
    "TrueFront",
    "load_accuracy",
    "parse_objective",
    "make_sampler",
    "storage_kind",
    "open_storage",
    "redact_url",
    "model_fingerprint",
    "data_fingerprint",
    "fail_stale_trials",
    "heartbeat_seconds",
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
