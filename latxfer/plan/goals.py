"""Planning goals: the grammar (``srcc>=T``, ``decide``, ``decide>=C``) and the checks of their numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from latxfer.errors import ConfigError

__all__ = ["GOAL_GRAMMAR", "Goal", "parse_goal"]

GOAL_GRAMMAR = """\
goal grammar (case and spaces ignored):
  srcc>=T      the adapted target ranking's SRCC (vs the true latency, on unmeasured architectures)
               reaches T, 0 < T < 1            e.g. srcc>=0.95
  decide       a confident reuse-vs-adapt decision for --proxy: P(SRCC(proxy, target) >= threshold)
               >= confidence (reuse) or <= 1 - confidence (adapt), at the --confidence level
  decide>=C    the same at posterior probability C, 0.5 < C < 1    e.g. decide>=0.95"""

_NUM = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class Goal:
    """A planning goal (see :data:`GOAL_GRAMMAR`).

    Attributes
    ----------
    kind : {"srcc", "decide"}
        What must be reached.
    value : float or None
        ``T`` for ``srcc>=T``; the decision probability ``C`` for ``decide>=C`` (None: use the plan's
        ``confidence``).
    text : str
        The goal as written.
    """

    kind: str
    value: float | None
    text: str

    def decision_level(self, confidence: float) -> float:
        """The posterior probability a reuse / adapt decision needs.

        ``C`` for a ``decide>=C`` goal; ``confidence`` otherwise (``decide`` and every ``srcc>=T`` goal,
        whose ``T`` is an SRCC level, not a probability), as :meth:`SRCCPosterior.decision` and
        ``latxfer assess --confidence`` use it.
        """
        if self.kind == "decide" and self.value is not None:
            return self.value
        return confidence

    def __str__(self) -> str:
        if self.kind == "srcc":
            return f"srcc>={self.value:g}"
        return "decide" if self.value is None else f"decide>={self.value:g}"


def parse_goal(text) -> Goal:
    """Parse a goal string (``srcc>=0.95``, ``decide``, ``decide>=0.95``).

    Parameters
    ----------
    text : str or Goal
        The goal (a :class:`Goal` is returned as is).

    Returns
    -------
    Goal
        The parsed goal.

    Raises
    ------
    ConfigError
        The string does not parse or its number is out of range; the message shows the grammar.
    """
    if isinstance(text, Goal):
        return text
    s = re.sub(r"\s+", "", str(text)).lower()
    m = re.fullmatch(r"srcc>=" + _NUM, s)
    if m:
        v = float(m.group(1))
        if not 0.0 < v < 1.0:
            raise ConfigError(f"goal {text!r}: an SRCC target must be in (0, 1), got {v:g} (an SRCC of 1 "
                              f"is never reached with noisy latencies)\n{GOAL_GRAMMAR}")
        return Goal("srcc", v, str(text))
    if s == "decide":
        return Goal("decide", None, str(text))
    m = re.fullmatch(r"decide>=" + _NUM, s)
    if m:
        v = float(m.group(1))
        if not 0.5 < v < 1.0:
            raise ConfigError(f"goal {text!r}: a decision probability must be in (0.5, 1), got {v:g}\n"
                              f"{GOAL_GRAMMAR}")
        return Goal("decide", v, str(text))
    raise ConfigError(f"cannot parse the goal {text!r}\n{GOAL_GRAMMAR}")


def check_trim(trim, default: float) -> float:
    """``trim`` of selection: ``None`` -> ``default``, else a share in [0, 1)."""
    trim = default if trim is None else float(trim)
    if not 0 <= trim < 1:
        raise ConfigError(f"trim must be in [0, 1), got {trim}")
    return trim


def check_conf(c) -> float:
    """A plan's confidence: in [0.5, 1)."""
    c = float(c)
    if not 0.5 <= c < 1.0:
        raise ConfigError(f"confidence must be in [0.5, 1), got {c:g}")
    return c
