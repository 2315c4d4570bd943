"""One small real fit shared by the model tests (4 NB201 sources, tiny draws, fixed seed)."""

from __future__ import annotations

import pytest

from latxfer.models import LatencyModel

SOURCES = ["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]
# over models/hier.toml; one prior component (no novelty grid, no near-source mixture) keeps every adapt
# of the shared fit fast: the tests of those priors switch them on for themselves
TINY = {"model": {"fit_archs": 150, "n_factors": 2, "noise_power": "auto"},
        "sampler": {"chains": 2, "tune": 150, "draws": 100, "ess_min": 1, "rhat_max": 10.0},
        "priors": {"op_count_sd": 0.0, "source_shrink": 0.0, "source_weight": 0.0, "source_linear": 0.0},
        "adapt": {"n_draws": 100}}


@pytest.fixture(scope="session")
def fitted(nb201_help):
    """A fitted LatencyModel (not converged by design: tiny draws; diagnostics thresholds relaxed)."""
    return LatencyModel(TINY).fit(nb201_help.latx.select(SOURCES), seed=3)


@pytest.fixture(scope="session")
def fitted_path(fitted, tmp_path_factory):
    """The same model saved to a zarr store."""
    return fitted.save(tmp_path_factory.mktemp("model") / "m.zarr")
