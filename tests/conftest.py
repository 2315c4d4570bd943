"""Shared fixtures: the real data directory (``$LATXFER_DATA``, default ``../shared/data``), datasets and
one small real fit (``fitted``, ``fitted_path``; the model and CLI tests share it).

Datasets are loaded and the model is fitted once per session.  Tests never write into the data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _data_dir() -> Path:
    return Path(os.environ.get("LATXFER_DATA") or _DEFAULT)


# Session-scoped fixtures (a fitted model) run before the function-scoped ``_data_env`` below, so the
# data directory and the no-download rule are also set for the whole session here.
os.environ.setdefault("LATXFER_DATA", str(_data_dir()))
os.environ.setdefault("LATXFER_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data directory holding the real latency files (skips the test if it is absent)."""
    d = _data_dir()
    if not (d / "splits.json").exists():
        pytest.skip(f"no latxfer data directory at {d}; set LATXFER_DATA")
    return d


@pytest.fixture(autouse=True)
def _data_env(monkeypatch, request):
    """Point LATXFER_DATA at the real data for every test (tests may override), and forbid fetching."""
    monkeypatch.setenv("LATXFER_DATA", str(_data_dir()))
    monkeypatch.setenv("LATXFER_OFFLINE", "1")


@pytest.fixture(scope="session")
def nb201_help(data_dir):
    import latxfer

    return latxfer.load_dataset("nb201-help", data_dir)


@pytest.fixture(scope="session")
def nb201_hwnb(data_dir):
    import latxfer

    return latxfer.load_dataset("nb201-hwnasbench", data_dir)


@pytest.fixture(scope="session")
def fbnet_help(data_dir):
    import latxfer

    return latxfer.load_dataset("fbnet-help", data_dir)


@pytest.fixture(scope="session")
def fbnet_layers(data_dir):
    import latxfer

    return latxfer.load_dataset("fbnet-layers", data_dir)


#: The shared small fit: 4 NB201 sources, tiny draws, fixed seed (not converged by design).
SOURCES = ["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]
# over models/hier.toml; one prior component (no novelty grid, no near-source mixture) keeps every adapt
# of the shared fit fast: the tests of those priors switch them on for themselves
TINY = {"model": {"fit_archs": 150, "n_factors": 2, "noise_power": "auto"},
        "sampler": {"chains": 2, "tune": 150, "draws": 100, "ess_min": 1, "rhat_max": 10.0},
        "priors": {"op_count_sd": 0.0, "op_free_sd": 0.0, "source_shrink": 0.0, "source_weight": 0.0, "source_linear": 0.0},
        "adapt": {"n_draws": 100}}


@pytest.fixture(scope="session")
def fitted(nb201_help):
    """A fitted LatencyModel (not converged by design: tiny draws; diagnostics thresholds relaxed)."""
    from latxfer.models import LatencyModel

    return LatencyModel(TINY).fit(nb201_help.latx.select(SOURCES), seed=3)


@pytest.fixture(scope="session")
def fitted_path(fitted, tmp_path_factory):
    """The same model saved to a zarr store."""
    return fitted.save(tmp_path_factory.mktemp("model") / "m.zarr")
