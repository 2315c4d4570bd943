"""The search's objective: every COMPLETE trial a distinct architecture, and (shared) exactly N of them.

One worker
    An architecture the study has already evaluated is not evaluated again: the proposal is told to Optuna
    as PRUNED (user attribute ``revisit_of``).  The samplers build their populations and models from
    COMPLETE trials only, so a revisit costs nothing and every COMPLETE trial is a distinct architecture,
    as in pymoo's NSGA-II (``eliminate_duplicates=True``).

Several workers on one stored study (``shared=True``)
    A trial's parameters are written to the storage when suggested, so a trial whose parameters are all
    set is a *claim* on its architecture and on one of the ``n_trials`` COMPLETE slots.  Each trial first
    writes its claim (suggests), then reads the study:

    * another COMPLETE or RUNNING trial holds the same architecture: PRUNED as a revisit;
    * COMPLETE trials already fill ``n_trials``: PRUNED (surplus);
    * COMPLETE + every other claim < ``n_trials``: evaluated;
    * otherwise, if COMPLETE + the claims of lower-numbered trials fill ``n_trials``: PRUNED (yield,
      after a short pause), else wait for the higher-numbered claims to end and read again.

    Write-then-read makes the rules safe: of two trials, the later reader sees the other's claim, so two
    workers never both evaluate one architecture, and the study never exceeds ``n_trials`` COMPLETE
    trials.  The lower-numbered trial wins a tie, so no two trials wait for each other.  A claim left
    RUNNING by a killed worker is failed by :func:`~latxfer.nas.storage.fail_stale_trials` (called while
    waiting), after which the others proceed.
"""

from __future__ import annotations

import time

from latxfer.nas.problem import NASProblem
from latxfer.nas.storage import fail_stale_trials

__all__: list[str] = []

_WAIT_S = 0.01     # between reads while a higher-numbered claim decides
_YIELD_S = 0.1     # pause before a yielding trial returns (a stale claim must not make a busy loop)
_STALE_EVERY_S = 1.0


class _UniqueObjective:
    """The problem's objective with distinct architectures and, shared, an exact COMPLETE count (above)."""

    def __init__(self, problem: NASProblem, study, shared: bool, n_trials: int | None = None,
                 storage=None):
        from optuna.trial import TrialState

        self.problem, self.study, self.shared = problem, study, shared
        self.n_trials, self.storage = n_trials, storage
        self._complete = (TrialState.COMPLETE,)
        self._states = (TrialState.COMPLETE, TrialState.RUNNING)
        self._n_params = 1 if problem.encoding == "index" else problem.ops.shape[1]
        self.seen: dict[int, int] = {}   # arch index -> trial number (COMPLETE, or evaluated here)
        self._known: set[int] = set()
        self.n_complete = 0
        self.n_revisits = 0
        self.n_evaluated = 0
        self.stale_failed: list[int] = []
        self._last_stale = time.monotonic()
        self.refresh()

    def refresh(self) -> None:
        """Add the study's COMPLETE trials to :attr:`seen`."""
        trials = self.study.get_trials(deepcopy=False, states=self._complete)
        self._absorb(trials)

    def _absorb(self, complete) -> None:
        self.n_complete = len(complete)
        for t in complete:
            if t.number not in self._known:
                self._known.add(t.number)
                self.seen.setdefault(self.problem.arch_of_params(t.params), t.number)

    def _read(self, number: int) -> list[tuple[int, int]]:
        """Refresh the COMPLETE trials; return ``(number, arch)`` of the other RUNNING trials' claims."""
        from optuna.trial import TrialState

        trials = self.study.get_trials(deepcopy=False, states=self._states)
        self._absorb([t for t in trials if t.state == TrialState.COMPLETE])
        return [(t.number, self.problem.arch_of_params(t.params)) for t in trials
                if t.state == TrialState.RUNNING and t.number != number and len(t.params) >= self._n_params]

    def _revisit(self, trial, arch: int, of: int):
        import optuna

        self.n_revisits += 1
        trial.set_user_attr("revisit_of", int(of))
        raise optuna.TrialPruned(f"architecture {arch} already evaluated in trial {of}")

    def __call__(self, trial) -> tuple[float, float]:
        if self.shared:
            i = self.problem.suggest(trial)  # writes the claim before reading the others'
            self._gate(trial, int(self.problem.archs[i]))
        else:
            i = self.problem.suggest(trial)
            arch = int(self.problem.archs[i])
            if arch in self.seen:
                self._revisit(trial, arch, self.seen[arch])
        arch = int(self.problem.archs[i])
        self.seen[arch] = trial.number
        self._known.add(trial.number)
        self.n_evaluated += 1
        return self.problem.evaluate(trial, i)

    def _gate(self, trial, arch: int) -> None:
        """Return when ``trial`` may evaluate ``arch``; raise TrialPruned when it must not (module doc)."""
        import optuna

        first = True
        while True:
            claims = self._read(trial.number)
            if first:
                if arch in self.seen:
                    self._revisit(trial, arch, self.seen[arch])
                same = [n for n, a in claims if a == arch]
                if same:
                    self._revisit(trial, arch, min(same))
                first = False
            if self.n_trials is None:
                return
            if self.n_complete >= self.n_trials:
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned(f"the study already holds {self.n_complete} COMPLETE trials")
            if self.n_complete + len(claims) < self.n_trials:
                return
            if self.n_complete + sum(n < trial.number for n, _ in claims) >= self.n_trials:
                trial.set_user_attr("surplus", True)
                self._maybe_fail_stale()
                time.sleep(_YIELD_S)
                raise optuna.TrialPruned("the remaining COMPLETE slots are claimed by other running trials")
            self._maybe_fail_stale()
            time.sleep(_WAIT_S)

    def _maybe_fail_stale(self) -> None:
        if time.monotonic() - self._last_stale >= _STALE_EVERY_S:
            self._last_stale = time.monotonic()
            self.stale_failed += fail_stale_trials(self.study, self.storage)

    def exhausted(self) -> bool:
        """Every architecture of the problem has been evaluated."""
        return len(self.seen) >= self.problem.n_archs
