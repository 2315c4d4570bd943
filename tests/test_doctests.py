"""Every ``>>>`` example in latxfer's docstrings runs (on the real data, as the rest of the suite)."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import latxfer


def _modules_with_examples() -> list[str]:
    names = ["latxfer"]
    for info in pkgutil.walk_packages(latxfer.__path__, "latxfer."):
        names.append(info.name)
    out = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as f:
                if ">>> " in f.read():
                    out.append(name)
    return out


MODULES = _modules_with_examples()


def test_some_modules_have_examples():
    assert len(MODULES) >= 3, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, data_dir):
    module = importlib.import_module(name)
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.attempted > 0, f"{name}: no example ran"
    assert res.failed == 0, f"{name}: {res.failed} of {res.attempted} examples failed (run python -m doctest)"
