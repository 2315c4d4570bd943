"""The ``latxfer`` command: the registry of its commands, the parser and :func:`main`.

Every command is one module of :mod:`latxfer.cli` listed in :data:`COMMANDS` -- adding a command is
adding its module name there (no registration by import side effect).  A command module exposes

- ``NAME`` (the subcommand) and ``HELP`` (one line for ``latxfer --help``);
- ``add_arguments(parser)``, which adds its options (shared flags through :mod:`latxfer.cli._common`);
- ``run(args) -> int``, the exit status;

and imports only the standard library and :mod:`latxfer.cli._common` at module level (heavy imports
inside ``run``), so ``latxfer --help`` stays fast.

Exit status: 0 success, 1 when the command ran but found problems (``data validate``, an unreachable
``plan`` goal), 2 with a one-paragraph message (no traceback) on bad input.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from latxfer.cli import _common as C

__all__ = ["COMMANDS", "build_parser", "main"]

#: The commands, in the order ``latxfer --help`` lists them: module names in :mod:`latxfer.cli`.
COMMANDS: tuple[str, ...] = (
    "data",
    "fit",
    "predict",
    "assess",
    "plan",
    "search",
    "monotonicity",
    "measure",
    "export",
)


def command_modules():
    """The command modules of :data:`COMMANDS`, in order."""
    return [importlib.import_module(f"latxfer.cli.{name}") for name in COMMANDS]


def build_parser() -> C.Parser:
    """The argument parser of the ``latxfer`` command (all subcommands)."""
    parser = C.Parser(prog="latxfer", description="Cross-device latency transfer for hardware-aware NAS.",
                      epilog="exit status: 0 ok, 1 ran and found problems, 2 bad input (with a message)")
    from latxfer import __version__

    parser.add_argument("--version", action="version", version=f"latxfer {__version__}")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="data directory (default: $LATXFER_DATA, else the fetch cache)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=C.Parser)
    sub.required = True
    for mod in command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``latxfer`` command line on ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from latxfer.errors import LatxferError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a bad flag (2, message already printed)
        return exc.code if isinstance(exc.code, int) else C.EXIT_BAD_INPUT
    try:
        return int(args.run(args) or 0)
    except LatxferError as exc:
        print(f"latxfer: error: {exc}", file=sys.stderr)
        return C.EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` etc.
        sys.stderr.close()
        return C.EXIT_OK
    except OSError as exc:  # a file the system refused (permissions, a full disk): said, not a traceback
        print(f"latxfer: error: {exc}", file=sys.stderr)
        return C.EXIT_BAD_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        print("latxfer: interrupted", file=sys.stderr)
        return 130
