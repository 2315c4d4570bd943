"""Shared fixtures of the planning tests: one small real fit (4 NB201 sources, tiny draws, fixed seed)."""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.models import LatencyModel

SOURCES = ["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]
TINY = {"model": {"fit_archs": 150, "n_factors": 2},
        "sampler": {"chains": 2, "tune": 150, "draws": 100, "ess_min": 1, "rhat_max": 10.0},
        "adapt": {"n_draws": 100}}


@pytest.fixture(scope="session")
def fitted(nb201_help):
    return LatencyModel(TINY).fit(nb201_help.latx.select(SOURCES), seed=3)


@pytest.fixture(scope="session")
def truth(nb201_help, fitted):
    """Real latency of a non-source device (raspi4) over the model's architectures (ms)."""
    long = nb201_help.latx.select(["raspi4"]).latx.to_long()
    out = np.full(len(fitted.basis.archs), np.nan)
    out[fitted.basis.positions(long["arch_index"].to_numpy())] = long["latency_ms"].to_numpy()
    return out


