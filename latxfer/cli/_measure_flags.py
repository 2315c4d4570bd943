"""Flags shared by ``latxfer measure`` and ``latxfer export`` (argparse only: imported when the parser is built)."""

from __future__ import annotations

from latxfer.cli import _common as C


def add_build_flags(p) -> None:
    """``--space``, ``--archs``, ``--batch-size``, ``--seed`` and ``--overwrite``: what is built, and how."""
    C.add_flag(p, "--space", required=True)
    p.add_argument("--archs", required=True, metavar="FILE_OR_LIST",
                   help="a plan CSV (`latxfer plan --out`), any CSV with an arch_index column, or a comma "
                        "list of indices")
    p.add_argument("--batch-size", type=C.int_at_least(1), default=1, metavar="N",
                   help="input batch, an integer >= 1 (default 1)")
    C.add_flag(p, "--seed", "seeds the random weights (latency does not depend on them)")
    C.add_flag(p, "--overwrite")
    C.add_progress(p)
