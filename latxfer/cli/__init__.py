"""The ``latxfer`` command line: one module per command, a thin layer over the public API.

``from latxfer.cli import main``; ``python -m latxfer.cli`` and the ``latxfer`` script run it.  The
registry of commands is :data:`latxfer.cli.main.COMMANDS`; the shared flags, types, messages and output
policy are in :mod:`latxfer.cli._common`, the one target-CSV reader in :mod:`latxfer.cli._target`.
"""

from latxfer.cli.main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
