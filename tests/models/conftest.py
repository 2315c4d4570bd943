"""The model tests' constants.  The small real fit they use (``fitted``, ``fitted_path``) is in
tests/conftest.py, shared with the CLI tests (tests/cli/); it is imported here under pytest's default
("prepend") import mode, which imports tests/conftest.py as the module ``conftest``."""

from __future__ import annotations

from conftest import SOURCES, TINY

__all__ = ["SOURCES", "TINY"]
