"""The shape of the CLI room: the registry, light command modules, a fast ``--help``, consistent flags."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import latxfer.cli
from latxfer.cli import COMMANDS, _common, build_parser, main

CLI_DIR = Path(latxfer.cli.__file__).parent
HEAVY = ("pymc", "pytensor", "arviz", "optuna", "matplotlib", "jax")
#: modules of the room that are not commands
NOT_COMMANDS = {"__init__", "__main__", "main"}
#: command modules reached through another command (``latxfer data fetch``)
SUBCOMMANDS = {"fetch"}


def _modules():
    import importlib

    names = sorted(p.stem for p in CLI_DIR.glob("*.py") if not p.stem.startswith("_") and p.stem not in NOT_COMMANDS)
    return {n: importlib.import_module(f"latxfer.cli.{n}") for n in names}


def test_every_command_module_is_registered_and_follows_the_protocol():
    mods = _modules()
    assert set(COMMANDS) | SUBCOMMANDS == set(mods)
    assert len(set(COMMANDS)) == len(COMMANDS)
    for name, mod in mods.items():
        assert mod.NAME == name and isinstance(mod.HELP, str) and mod.HELP
        assert callable(mod.add_arguments) and callable(mod.run)
        p = _common.Parser(prog=name)
        mod.add_arguments(p)  # adds options without touching anything else


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in tree.body:  # module level only: imports inside functions are the deferred ones
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out |= {f"{node.module}.{a.name}" if node.module == "latxfer.cli" else node.module for a in node.names}
    return out


@pytest.mark.parametrize("name", sorted(set(COMMANDS) | SUBCOMMANDS | {"main", "_common"}))
def test_command_modules_import_only_the_stdlib_and_common_at_module_level(name):
    allowed = {"latxfer.cli._common", "latxfer.cli.fetch", "__future__"}
    for mod in _module_level_imports(CLI_DIR / f"{name}.py"):
        assert mod in allowed or mod.split(".")[0] in sys.stdlib_module_names, f"{name}.py imports {mod}"


def _imported_by(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which of the heavy libraries did it import?"""
    probe = (f"import sys\n{code}\n"
             f"print(__import__('json').dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_library():
    # `plan --help` shows the goal grammar and the library's defaults, so it imports latxfer.plan: not here
    helps = [["--help"]] + [[c, "--help"] for c in COMMANDS if c != "plan"]
    assert _imported_by(f"from latxfer.cli import main\nfor a in {helps!r}:\n    assert main(a) == 0") == []


def test_data_info_imports_no_heavy_library():
    assert _imported_by("from latxfer.cli import main\nassert main(['data', 'info', 'nb201-hwnasbench']) == 0") == []


def test_plots_import_matplotlib_only_when_drawing():
    assert _imported_by("import latxfer.plots, latxfer.decision") == []


def _options():
    """(command, option string, action) of every subcommand option, nested ones (``data info``) included."""

    def walk(parser, prefix):
        for act in parser._actions:
            if isinstance(act, argparse._SubParsersAction):
                for name, sub in act.choices.items():
                    yield from walk(sub, f"{prefix} {name}".strip())
            elif not isinstance(act, argparse._HelpAction):
                yield prefix, act

    return list(walk(build_parser(), ""))


def test_every_flag_and_argument_has_help():
    missing = [(cmd, act.dest) for cmd, act in _options() if not act.help]
    assert missing == []


#: Flags whose metavar says what this command's output or input is (the name is the contract).
PER_COMMAND_METAVAR = {"--out", "--model"}


def test_the_same_flag_has_the_same_metavar_type_and_help_everywhere():
    seen: dict[str, tuple] = {}
    for cmd, act in _options():
        for opt in act.option_strings:
            if not opt.startswith("--") or opt in PER_COMMAND_METAVAR and cmd == "fit":
                continue
            key = (act.type, act.metavar if opt not in PER_COMMAND_METAVAR else None, type(act).__name__)
            if opt in seen:
                assert key == seen[opt][1], f"{opt}: {cmd} differs from {seen[opt][0]}"
            else:
                seen[opt] = (cmd, key)
            if opt in _common.FLAGS:
                assert act.help.startswith(_common.FLAGS[opt]["help"]), (cmd, opt)
    for opt in ("--seed", "--interval", "--threshold", "--confidence", "--json", "--plot", "--overwrite"):
        assert opt in seen


def test_json_on_every_analysis_command():
    cmds = {cmd for cmd, act in _options() if "--json" in act.option_strings}
    assert {"fit", "predict", "assess", "plan", "search", "monotonicity", "data list", "data info",
            "data validate", "data fetch"} <= cmds


def test_space_choices_match_the_registered_spaces():
    from latxfer.spaces import SPACES

    assert set(_common.SPACES) == set(SPACES)


@pytest.mark.parametrize("text, ok", [("0", 0), ("7", 7), ("-1", None), ("1.5", None), ("x", None)])
def test_seed_type(text, ok):
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
            _common.seed(text)
    else:
        assert _common.seed(text) == ok


@pytest.mark.parametrize("fn, good, bad", [
    (_common.probability, ["0.5", "0.999", "1e-3"], ["0", "1", "-0.1", "nan", "inf", "x"]),
    (_common.confidence, ["0.51", "0.9"], ["0.5", "0.2", "1", "nan"]),
    (_common.srcc_threshold, ["-0.99", "0", "0.9"], ["-1", "1", "5", "nan", "-inf"]),
    (_common.finite_float, ["-3", "0", "1e9"], ["nan", "inf", "-inf", "ms"]),
    (_common.number_in(0.0, 1.0, lo_open=False), ["0", "0.5"], ["1", "-0.0001"]),
])
def test_number_types_refuse_nan_infinities_and_out_of_range(fn, good, bad):
    for g in good:
        assert fn(g) == float(g)
    for b in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            fn(b)


def test_json_is_strict_null_for_nan():
    import numpy as np

    obj = {"a": float("nan"), "b": [np.float64("inf"), np.int64(3), np.bool_(True)], "c": np.array([1.0, np.nan]),
           "d": (1, Path("x.csv"))}
    text = json.dumps(_common.json_safe(obj), allow_nan=False)
    assert json.loads(text) == {"a": None, "b": [None, 3, True], "c": [1.0, None], "d": [1, "x.csv"]}


def test_help_and_version_return_0_and_python_m_works(capsys):
    assert main(["--help"]) == 0 and "COMMAND" in capsys.readouterr().out
    assert main(["plan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "goal grammar" in out and "defaults (from latxfer.plan.preposterior): --batch" in out
    r = subprocess.run([sys.executable, "-m", "latxfer.cli", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("latxfer ")
