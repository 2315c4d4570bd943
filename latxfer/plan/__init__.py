"""Planning target measurements: how many architectures to measure on a new device, and which.

Before booking time on a new device a user asks "how many architectures must I measure before I can trust
the proxy, or the adapted ranking?" and "which ones?".  This module answers both from a fitted
:class:`~latxfer.models.LatencyModel` and the target measurements so far (possibly none)::

    goal = parse_goal("srcc>=0.95")                     # or "decide", "decide>=0.95"
    res = preposterior(model, archs, latency_ms, goal=goal, batch=5, max_k=50)
    res.recommended_k, res.next_archs                   # how many more, and the next batch to measure
    res.to_frame()                                      # the expected curve, one row per k

**Preposterior analysis by simulation.**  Adapt to the measurements so far; pick ``n_worlds`` posterior
predictive draws of the target's whole latency table as simulated "true" devices.  In each simulated
world follow the user's loop -- select a batch (``policy``), "measure" it by reading the simulated table,
re-adapt with the fast path, score, repeat -- for ``k = 0, batch, 2 batch, ..., max_k`` further
measurements.  At each ``k`` the worlds give the distribution (median, 90% band) of

* ``srcc``: the realised SRCC between the adapted posterior-mean ranking and the simulated truth, on
  unmeasured architectures (what the user will get);
* ``expected_srcc``: the posterior's own expected SRCC (what :meth:`LatencyModel.expected_rank_quality`
  will report after those measurements);
* with a proxy: ``p_above`` = P(SRCC(proxy, target) >= threshold), the width of its 90% interval, and
  whether the reuse / adapt decision is confident (``p_above >= c`` or ``<= 1 - c``).

The recommendation is the smallest simulated ``k`` at which the goal holds in at least ``confidence`` of
the simulated worlds.

**Active selection** (:func:`select_batch`).  Ranking depends only on the *shape* of the latency
function, not its intercept or scale.  Each posterior draw of the noise-free latency function is
standardised over architectures (mean 0, sd 1) and projected on the model's design rows ``[F, Q]``
(architecture factors and orthogonalised op encoding); the draws give a Gaussian over these shape
coefficients (covariance ``V``) and a noise variance ``s2`` in the same units.  A batch is picked
greedily with rank-one updates ("as if measured"): criterion ``"rank"`` (default) takes the candidate that
most reduces the shape variance averaged over the space with each architecture weighted by how crowded its
predicted latency is (the expected number of mis-ordered pairs, which SRCC counts, grows with an
architecture's error times the density of others near it); ``"ivar"`` the unweighted average (I-optimal
design, sequential form); ``"maxvar"`` the one with the largest predictive variance (uncertainty sampling /
D-optimal step).  ``"rank"`` was chosen over ``"ivar"`` and ``"maxvar"`` on validation devices and
leave-one-source-out devices only (``benchmarks/planning.py --tune-criterion``).  Active selection
leaves out the extremes of the design (:data:`ACTIVE_TRIM`, :func:`extreme_candidates`): the highest-leverage
candidates and the fastest and slowest predicted ones, where an optimal design likes to measure and the
basis is least trustworthy.  ``"random"`` draws uniformly from the candidates.

Approximations (documented, all on by default): the simulated worlds are adapted by the batched engine of
:mod:`latxfer.plan.worlds` (each prior component of the fast path moment-matched to one Gaussian over the
device coefficients; see there), with ``n_draws`` (default 100) coefficient draws per adaptation; the realised
SRCC is computed on ``n_eval`` (default 2,000) random unmeasured architectures (the sampling error of an SRCC
near 0.95 on 2,000 architectures is about 0.002), the draw-based metrics (``expected_srcc``, ``p_above``,
``width``) on :data:`~latxfer.plan.engine.METRIC_ARCHS` of them with
:data:`~latxfer.plan.engine.METRIC_DRAWS` draws.  At ``k = 0`` those metrics are the real posterior's: the
``p_above`` and decision of ``current`` are :meth:`LatencyModel.posterior_srcc`'s and
:meth:`SRCCPosterior.decision`'s, what ``latxfer assess`` reports on the same data and seed.

Modules: :mod:`~latxfer.plan.goals` (goal grammar), :mod:`~latxfer.plan.selection` (active selection),
:mod:`~latxfer.plan.engine` (:func:`preposterior`), :mod:`~latxfer.plan.worlds` (the batched simulation),
:mod:`~latxfer.plan.result` (:class:`PlanResult`, :func:`recommend`), :mod:`~latxfer.plan.track` (track
record).

Latency is in **milliseconds** throughout.
"""

from latxfer.plan.engine import (  # noqa: F401 - used by benchmarks/experiments
    DEFAULT_WORLDS,
    METRIC_ARCHS,
    METRIC_DRAWS,
    _adapt,
    _k_grid,
    _light,
    _score,
    blas_threads,
    preposterior,
    proxy_srcc_draws,
)
from latxfer.plan.goals import GOAL_GRAMMAR, Goal, parse_goal
from latxfer.plan.result import _BAND_SCALES, SRCC_BAND_INFLATION, PlanResult, recommend  # noqa: F401
from latxfer.plan.selection import (  # noqa: F401 - private names used by benchmarks/experiments
    ACTIVE_CRITERIA,
    ACTIVE_TRIM,
    CRITERIA,
    POLICIES,
    _design,
    _greedy,
    _step_scores,
    _tie_weighted_gram,
    default_candidates,
    extreme_candidates,
    select_batch,
    shape_gaussian,
)
from latxfer.plan.track import TRACK_MAX_ROUNDS, track_record, track_verdict

__all__ = ["Goal", "GOAL_GRAMMAR", "PlanResult", "default_candidates", "parse_goal", "preposterior", "recommend",
           "select_batch", "track_record", "track_verdict", "shape_gaussian", "extreme_candidates", "POLICIES",
           "CRITERIA", "SRCC_BAND_INFLATION", "ACTIVE_TRIM", "DEFAULT_WORLDS", "METRIC_ARCHS", "METRIC_DRAWS",
           "TRACK_MAX_ROUNDS", "proxy_srcc_draws", "blas_threads"]
