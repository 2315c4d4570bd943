"""A wheel of latxfer ships the named model configurations: an installed latxfer finds ``hier-fast``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", _env())  # never the source tree on PYTHONPATH
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """latxfer built as a wheel (from a copy of the sources) and installed into a fresh venv that sees the
    dev venv's dependencies (a .pth to its site-packages, whose own .pth files -- the editable latxfer --
    are not processed); returns (python of the venv, a working directory outside the source tree)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "latxfer", src / "latxfer", ignore=shutil.ignore_patterns("__pycache__", "named"))
    shutil.copytree(ROOT / "models", src / "models")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
          str(src)])
    wheel = next((root / "dist").glob("latxfer-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)])
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_dev_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = root / "elsewhere"
    work.mkdir()
    return py, work


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LATXFER_MODELS")}
    return {**env, **extra}


def test_wheel_install_finds_the_named_configurations(installed):
    py, work = installed
    code = ("import latxfer, latxfer.models as m; print(latxfer.__file__); print(m.list_configs()); "
            "c = m.load_config('hier-fast'); print(c['model']['name'], c['sampler']['draws']); "
            "print(m.LatencyModel().config == m.load_config('hier'))")
    out = _run([str(py), "-c", code], cwd=work, env=_env()).stdout.splitlines()
    assert str(ROOT) not in out[0] and "site-packages" in out[0]  # the installed copy, not the sources
    assert out[1] == str(sorted(p.stem for p in (ROOT / "models").glob("*.toml")))
    assert out[2] == "hier-fast 200"
    assert out[3] == "True"


def test_wheel_install_cli_knows_hier_fast(installed, data_dir):
    py, work = installed
    bad = subprocess.run([str(py), "-m", "latxfer.cli", "fit", "--model", "no-such-model", "--dataset", "nb201-help",
                          "--sources", "1080ti_1,pixel3,silver_4114", "--out", str(work / "m.zarr")],
                         capture_output=True, text=True, cwd=work,
                         env=_env(LATXFER_DATA=str(data_dir), LATXFER_OFFLINE="1"))
    assert bad.returncode == 2 and "hier-fast" in bad.stderr  # the known configurations are listed
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_wheel_install_fits_hier_fast(installed, data_dir):
    """``latxfer fit --model hier-fast`` from the installed wheel on three real sources (about a minute)."""
    py, work = installed
    out = work / "m.zarr"
    res = _run([str(py), "-m", "latxfer.cli", "fit", "--model", "hier-fast", "--dataset", "nb201-help",
                "--sources", "1080ti_1,pixel3,silver_4114", "--out", str(out)], cwd=work,
               env=_env(LATXFER_DATA=str(data_dir), LATXFER_OFFLINE="1", MPLBACKEND="Agg"))
    assert "saved" in res.stdout and out.is_dir()
