"""One problem found in a latency table, and how rows and values are listed in messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Problem", "lines_text", "values_text", "MAX_LISTED"]

#: How many lines / values a message lists before "and N more".
MAX_LISTED = 8


@dataclass
class Problem:
    """One problem found in a CSV file or a latency table.

    Attributes
    ----------
    error : type
        The :class:`~latxfer.errors.LatxferError` subclass :func:`~latxfer.read_csv` raises for it.
    message : str
        What is wrong and what was expected.
    lines : list of int
        1-based line numbers in the file (the header is line 1); empty for file-level problems and for
        tables that did not come from a file.
    """

    error: type
    message: str
    lines: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-friendly form (used by ``latxfer data validate --json``)."""
        return {"kind": self.error.__name__, "message": self.message, "lines": self.lines}


def lines_text(lines: Sequence[int], word: str = "line") -> str:
    """``"lines 2, 5, 7"`` (at most :data:`MAX_LISTED`, then ``"and N more"``)."""
    lines = list(lines)
    shown = ", ".join(str(x) for x in lines[:MAX_LISTED])
    more = f" and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
    return f"{word}{'s' if len(lines) > 1 and word == 'line' else ''} {shown}{more}"


def values_text(values) -> str:
    """Distinct values as ``"'a', 'b' ..."`` (at most :data:`MAX_LISTED`)."""
    vals = list(dict.fromkeys(str(v) for v in values))
    shown = ", ".join(repr(v) for v in vals[:MAX_LISTED])
    return shown + (" ..." if len(vals) > MAX_LISTED else "")
