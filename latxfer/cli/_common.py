"""What every command shares: exit codes, the argparse types and flags, messages, JSON and the output policy.

Only the standard library is imported here at module level, so building the parser (``latxfer --help``)
stays fast; the one output policy (:mod:`latxfer.outputs`) is imported when a command checks its outputs.

Every numeric flag is range-checked at parse time by one of the types below, so a bad value is refused
before anything is loaded, with the flag, the value and the expected range (exit status 2).  A flag that
several commands take is added through :func:`add_flag` (or one of the ``add_*`` helpers), so it has the
same name, metavar, type, range and help everywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

__all__ = [
    "EXIT_OK", "EXIT_PROBLEMS", "EXIT_BAD_INPUT", "PLOT_SUFFIXES", "SPACES", "Parser",
    "int_at_least", "number_in", "seed", "probability", "confidence", "srcc_threshold", "finite_float",
    "space_name", "add_flag", "add_build_flags", "add_progress", "progress", "FLAGS", "say", "print_json", "json_safe", "Outputs", "input_paths",
]

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT = 0, 1, 2

#: Figure formats every ``--plot`` accepts.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

#: The search spaces a ``--space`` flag accepts (a test checks this equals :data:`latxfer.spaces.SPACES`).
SPACES = ("nb201", "fbnet", "ofa", "mbv2", "proxyless")


class Parser(argparse.ArgumentParser):
    """The parser of every (sub)command: a short error message and a help epilog computed on demand.

    ``epilog_factory`` (a callable returning text) fills the epilog only when the help is printed, so
    a command whose epilog comes from a heavy module (``plan``'s goal grammar) costs nothing otherwise.
    """

    epilog_factory: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_factory is not None and self.epilog is None:
            self.epilog = self.epilog_factory()
        return super().format_help()

    def error(self, message: str):
        """Bad usage: one paragraph on stderr (no usage dump, no traceback), exit status 2."""
        m = re.fullmatch(r"argument (--[\w-]+)(?:/[^:]*)?: (must be .*)", message, flags=re.S)
        if m:  # a range check of ours: "--seed must be an integer >= 0, got -1"
            message = f"{m.group(1)} {m.group(2)}"
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


# ------------------------------------------------------------------------------------------ types
def _type(fn: Callable[[str], object], name: str) -> Callable[[str], object]:
    fn.__name__ = name  # argparse names the type in its fallback message
    return fn


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse type: an integer ``>= lo``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {v}")
        return v

    return _type(parse, f"int>={lo}")


def number_in(lo: float | None = None, hi: float | None = None, *, lo_open: bool = True,
              hi_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number in the interval from ``lo`` to ``hi`` (None: unbounded).

    NaN and infinities are always refused.
    """
    left = "-inf" if lo is None else f"{lo:g}"
    right = "inf" if hi is None else f"{hi:g}"
    rng = f"{'(' if lo_open or lo is None else '['}{left}, {right}{')' if hi_open or hi is None else ']'}"

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {rng}, got {text!r}") from None
        ok = math.isfinite(v)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            raise argparse.ArgumentTypeError(f"must be in {rng}, got {text}")
        return v

    return _type(parse, f"number in {rng}")


def _space(text: str) -> str:
    s = text.strip().lower()
    if s not in SPACES:
        raise argparse.ArgumentTypeError(f"unknown search space {text!r}; expected one of {', '.join(SPACES)}")
    return s


seed = int_at_least(0)
probability = number_in(0.0, 1.0)
confidence = number_in(0.5, 1.0)
srcc_threshold = number_in(-1.0, 1.0)
finite_float = number_in()
space_name = _type(_space, "space")


# ------------------------------------------------------------------------------------------ flags
#: The shared flags: option -> keyword arguments of ``add_argument``.  Commands add them with
#: :func:`add_flag`, which may append a command-specific sentence to the help.
FLAGS: dict[str, dict] = {
    "--seed": dict(type=seed, default=0, metavar="S",
                   help="random seed, an integer >= 0 (default 0): the same seed gives the same numbers"),
    "--interval": dict(type=probability, default=0.9, metavar="P",
                       help="probability of the central intervals, in the open range (0, 1) (default 0.9)"),
    "--confidence": dict(type=confidence, default=0.9, metavar="C",
                         help="posterior probability a reuse (or adapt) decision needs, in the open range "
                              "(0.5, 1) (default 0.9)"),
    "--threshold": dict(type=srcc_threshold, default=0.9, metavar="T",
                        help="SRCC that counts as strong monotonicity, in the open range (-1, 1) (default 0.9)"),
    "--json": dict(action="store_true",
                   help="machine-readable output on stdout (strict JSON: undefined numbers are null)"),
    "--allow-implausible": dict(action="store_true",
                                help="accept measurements the plausibility checks flag (values orders of "
                                     "magnitude off the others, repeats that disagree, no variation, far "
                                     "off the model's sources) with a warning instead of an error"),
    "--overwrite": dict(action="store_true",
                        help="replace existing output files (never an input of the command, never a "
                             "directory latxfer did not write)"),
    "--plot": dict(default=None, metavar="FILE.png",
                   help="also write a figure (.png, .pdf or .svg; checked before any computation)"),
    "--space": dict(type=space_name, default=None, metavar="SPACE",
                    help=f"search space ({', '.join(SPACES)})"),
    "--model": dict(required=True, metavar="MODEL", help="a fitted model saved by `latxfer fit` (a .zarr store)"),
    "--proxy": dict(metavar="DEVICE", help="the candidate proxy: a source device of the model"),
    "--target-csv": dict(default=None, metavar="FILE",
                         help="tidy CSV device,arch_index,latency_ms of ONE new device (its measurements so "
                              "far)"),
    "--intercept-ms": dict(type=finite_float, default=None, metavar="MS",
                           help="layer-wise CSVs only: the device's end-to-end latency minus the sum of its "
                                "layers (without it the absolute latency level comes from the population prior)"),
    "--dataset": dict(required=True, metavar="NAME|FILE",
                      help="a dataset name (see `latxfer data list`), a tidy CSV device,arch_index,latency_ms "
                           "or a saved .zarr / .nc dataset"),
    "--archs": dict(required=True, metavar="FILE_OR_LIST",
                    help="a plan CSV (`latxfer plan --out`), any CSV with an arch_index column, or a comma "
                         "list of indices"),
    "--batch-size": dict(type=int_at_least(1), default=1, metavar="N",
                         help="input batch of the built networks, an integer >= 1 (default 1)"),
    "--n-boot": dict(type=int_at_least(0), default=1000, metavar="N",
                     help="bootstrap resamples, an integer >= 0 (default 1000; 0: Fisher-z intervals)"),
    "--trials": dict(type=int_at_least(1), default=500, metavar="N",
                     help="COMPLETE trials the study should hold, an integer >= 1 (default 500; a resumed or "
                          "shared study runs the rest)"),
}


def add_flag(parser: argparse.ArgumentParser, option: str, more: str = "", **override):
    """Add the shared flag ``option`` (see :data:`FLAGS`); ``more`` is appended to its help.

    ``override`` changes keyword arguments that legitimately differ between commands (``default``,
    ``required``) -- never the type or the metavar.
    """
    kw = dict(FLAGS[option])
    bad = set(override) - {"default", "required", "dest"}
    if bad:
        raise TypeError(f"{option}: only default/required/dest may differ between commands, not {bad}")
    kw.update(override)
    if more:
        kw["help"] = f"{kw['help']}; {more}"
    return parser.add_argument(option, **kw)


def add_progress(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (dest ``progress``: None = when stderr is a terminal)."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bar (default: when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def progress(args) -> bool:
    """Whether to show a progress bar: the flag, else when stderr is a terminal."""
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


# --------------------------------------------------------------------------------------- messages
def say(msg: str) -> None:
    """A progress or context line on stderr (stdout stays for results)."""
    print(f"[latxfer] {msg}", file=sys.stderr, flush=True)


def json_safe(obj):
    """``obj`` with NaN / infinities as None, numpy scalars and arrays as Python numbers and lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, bool | int | str) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(tolist):
        return json_safe(tolist())
    return str(obj)


def print_json(obj, file=None) -> None:
    """Print ``obj`` as strict JSON (never ``NaN`` / ``Infinity``: those become ``null``)."""
    print(json.dumps(json_safe(obj), indent=2, allow_nan=False), file=file or sys.stdout)


# ---------------------------------------------------------------------------------- output policy
def input_paths(*paths) -> list[str]:
    """The paths among ``paths`` that are local files or directories (names of datasets are not)."""
    return [str(p) for p in paths if p and os.path.exists(p)]


class Outputs:
    """Every output of one command, checked before any computation (:func:`latxfer.outputs.check_output`).

    Parameters
    ----------
    args : argparse.Namespace
        Gives ``overwrite`` (False when the command has no ``--overwrite``).
    inputs : sequence of path-like
        The command's input files: no output may be one of them, even with ``--overwrite``.
    **flags : path-like or None
        ``flag=path`` for each output (``out="pred.csv", plot="p.png"``); ``None`` is no output.
        ``plot`` is checked for a figure suffix, ``store_out`` is a directory store.
    """

    def __init__(self, args, inputs: Sequence = (), **flags):
        from latxfer.errors import OutputPathError
        from latxfer.outputs import check_output

        self.overwrite = bool(getattr(args, "overwrite", False))
        self.inputs = [str(p) for p in inputs if p]
        self.paths: dict[str, Path] = {}
        seen: dict[str, str] = {}
        for key, path in flags.items():
            if path is None:
                continue
            flag = "--" + key.removeprefix("store_").replace("_", "-")
            p = check_output(path, overwrite=self.overwrite, inputs=self.inputs, flag=flag,
                             suffixes=PLOT_SUFFIXES if key == "plot" else None, store=key.startswith("store_"))
            real = os.path.realpath(p)
            if real in seen:
                raise OutputPathError(f"{flag} {p} is also given as {seen[real]}; two outputs cannot share "
                                      "one path")
            seen[real] = flag
            self.paths[key] = p

    def get(self, key: str) -> Path | None:
        """The checked path of output ``key`` (None when not asked for)."""
        return self.paths.get(key)

    def write(self, key: str, write: Callable[[Path], None]) -> Path:
        """Write output ``key`` atomically through ``write(tmp_path)`` (:func:`latxfer.outputs.write_atomic`)."""
        from latxfer.outputs import write_atomic

        return write_atomic(self.paths[key], write, overwrite=self.overwrite, inputs=self.inputs,
                            flag="--" + key.replace("_", "-"),
                            suffixes=PLOT_SUFFIXES if key == "plot" else None)

    def write_csv(self, key: str, frame, **to_csv) -> Path:
        """Write a pandas DataFrame as CSV to output ``key`` (atomically)."""
        return self.write(key, lambda tmp: frame.to_csv(tmp, index=False, **to_csv))


def split_list(text: str | None) -> list[str] | None:
    """A comma-separated flag value as a list (None when not given)."""
    if text is None:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def choices_text(values: Iterable[str]) -> str:
    """``a, b or c`` for help texts."""
    v = list(values)
    return v[0] if len(v) == 1 else ", ".join(v[:-1]) + " or " + v[-1]


def add_build_flags(parser: argparse.ArgumentParser) -> None:
    """What ``latxfer measure`` and ``latxfer export`` build: ``--space``, ``--archs``, ``--batch-size``,
    ``--seed`` (of the random weights), ``--overwrite`` and the progress flags."""
    add_flag(parser, "--space", required=True)
    add_flag(parser, "--archs")
    add_flag(parser, "--batch-size")
    add_flag(parser, "--seed", "seeds the random weights (latency does not depend on them)")
    add_flag(parser, "--overwrite")
    add_progress(parser)
