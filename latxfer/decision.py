"""The reuse / adapt / measure-more decision on a proxy device, and its wording with the benchmarks' record.

A proxy device's latency ranking may be reused on a new target when the rank correlation between them is
high enough.  Given the posterior probability ``p_above = P(SRCC(proxy, target) >= threshold)``:

- ``"reuse"`` when ``p_above >= confidence``: reuse the proxy's ranking (and its Pareto set);
- ``"adapt"`` when ``1 - p_above >= confidence``: monotonicity is weak, use the adapted posterior;
- ``"measure more"`` in between, and always when nothing of the target is measured yet (the population
  prior says how a *random* new device relates to the proxy, not this one).

:func:`decision_reason` says why, in one sentence for a person; a ``"reuse"`` call with ``p_above`` below
:data:`REUSE_CAUTION_BELOW` carries a caution with how often such calls were right in the benchmarks.

>>> from latxfer.decision import decide, decision_reason
>>> decide(0.95, 0.9)
'reuse'
>>> decision_reason("adapt", 0.05, 0.9, 0.9)[:18]
'P(SRCC >= 0.9) = 0'
"""

from __future__ import annotations

__all__ = ["DECISIONS", "REUSE_CAUTION_BELOW", "REUSE_CAUTION_RECORD", "decide", "decision_reason"]

#: The three decisions, in the order of increasing evidence needed against the proxy.
DECISIONS = ("reuse", "measure more", "adapt")

#: Below this P(SRCC >= threshold) a ``"reuse"`` call gets a caution.  Chosen on devices that are not
#: targets (``docs/results/experiments/decisions_small_n.py``): reuse calls with P in [0.9, 0.98) were
#: right in 20 of 37 cases, above it in 33 of 34; on the targets (not used for the choice) 45 of 57 and
#: 65 of 67 (:data:`REUSE_CAUTION_RECORD`).
REUSE_CAUTION_BELOW = 0.98

#: How often held-out reuse calls were right, ``(right, calls)``, below and above
#: :data:`REUSE_CAUTION_BELOW`: on the devices the level was chosen on and on the targets.
REUSE_CAUTION_RECORD = {
    "non-targets": {"below": (20, 37), "above": (33, 34)},
    "targets": {"below": (45, 57), "above": (65, 67)},
}


def _check(p_above: float, confidence: float) -> None:
    from latxfer.errors import ConfigError

    if not 0.0 <= p_above <= 1.0:
        raise ConfigError(f"p_above must be a probability in [0, 1], got {p_above!r}")
    if not 0.5 <= confidence < 1.0:
        raise ConfigError(f"confidence must be in [0.5, 1), got {confidence!r}")


def decide(p_above: float, confidence: float = 0.9, *, n_measured: int | None = None) -> str:
    """The decision for a posterior probability ``p_above = P(SRCC(proxy, target) >= threshold)``.

    Parameters
    ----------
    p_above : float
        Posterior probability that the proxy-target rank correlation reaches the threshold.
    confidence : float
        Probability a reuse (or adapt) call needs, in [0.5, 1).
    n_measured : int, optional
        Target measurements behind ``p_above``; with 0 the answer is ``"measure more"`` whatever
        ``p_above`` (no decision from the population prior alone).

    Returns
    -------
    str
        ``"reuse"``, ``"adapt"`` or ``"measure more"``.

    Raises
    ------
    ConfigError
        ``p_above`` outside [0, 1] or ``confidence`` outside [0.5, 1).
    """
    _check(p_above, confidence)
    if n_measured == 0:
        return "measure more"
    if p_above >= confidence:
        return "reuse"
    if 1.0 - p_above >= confidence:  # not p_above <= 1 - confidence: 1 - 0.9 < 0.1 in floating point
        return "adapt"
    return "measure more"


def _share(record: tuple[int, int]) -> float:
    return record[0] / record[1]


def decision_reason(decision: str, p_above: float, threshold: float, confidence: float) -> str:
    """Why the decision was taken, in one sentence (what ``latxfer assess`` prints).

    Parameters
    ----------
    decision : {"reuse", "adapt", "measure more"}
        The decision (from :func:`decide` or :meth:`latxfer.models.SRCCPosterior.decision`).
    p_above : float
        P(SRCC(proxy, target) >= threshold).
    threshold : float
        The SRCC threshold.
    confidence : float
        The decision level.

    Returns
    -------
    str
        The reason; a ``"reuse"`` below :data:`REUSE_CAUTION_BELOW` adds how often such calls were right
        on held-out devices (:data:`REUSE_CAUTION_RECORD`) and asks to confirm with a few more measurements.

    Raises
    ------
    ConfigError
        An unknown decision.
    """
    from latxfer.errors import ConfigError

    if decision not in DECISIONS:
        raise ConfigError(f"unknown decision {decision!r}; expected one of {list(DECISIONS)}")
    p = f"P(SRCC >= {threshold}) = {p_above:.2f}"
    if decision == "reuse":
        why = f"{p} >= {confidence}: the proxy's ranking (and its Pareto set) can be reused on the target"
        if p_above < REUSE_CAUTION_BELOW:
            shares = sorted(_share(r["below"]) for r in REUSE_CAUTION_RECORD.values())
            why += (f"; but reuse calls with P below {REUSE_CAUTION_BELOW:g} were right in only "
                    f"{round(100 * shares[0])}-{shares[-1]:.0%} of held-out cases (docs/validation/decisions.md, 'Which calls "
                    "to trust'): confirm with a few more measurements")
        return why
    if decision == "adapt":
        return (f"{p} <= {1 - confidence:.2f}: monotonicity is weak; use the adapted posterior "
                "(latxfer predict) instead of the proxy")
    return (f"{p} is between {1 - confidence:.2f} and {confidence}: measure more architectures "
            "(latxfer plan) before deciding")
