"""Fixtures of the NAS storage tests: a PostgreSQL URL (skipped without a server) and a tiny saved model."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pandas as pd
import pytest

#: Environment variable naming a PostgreSQL database the tests may write studies into (.ci/run sets it).
PG_ENV = "LATXFER_TEST_POSTGRES_URL"
SOURCES = ["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]
TINY = {"model": {"fit_archs": 150, "n_factors": 2, "noise_power": "auto"},
        "sampler": {"chains": 2, "tune": 60, "draws": 40, "ess_min": 1, "rhat_max": 100.0},
        "adapt": {"n_draws": 40}}


@pytest.fixture(scope="session")
def pg_url() -> str:
    """``$LATXFER_TEST_POSTGRES_URL``; skips when unset, or unreachable outside CI (in CI that fails)."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: set {PG_ENV}=postgresql://user:password@host:port/db (.ci/run does)")
    from latxfer import nas
    from latxfer.errors import StorageError

    try:
        nas.open_storage(url)
    except StorageError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PG_ENV} is set but the server is not usable: {exc}")
        pytest.skip(f"PostgreSQL server not reachable: {exc}")
    return url


@pytest.fixture()
def study_name() -> str:
    """A fresh study name (the database may hold studies of earlier runs)."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def tiny_model(nb201_help, tmp_path_factory):
    """``(model.zarr, target.csv)``: a tiny real fit on 4 NB201 sources and 11 pixel2 measurements."""
    from latxfer.models import LatencyModel

    d = tmp_path_factory.mktemp("nas-model")
    fitted = LatencyModel(TINY).fit(nb201_help.latx.select(SOURCES), seed=3)
    path = fitted.save(d / "m.zarr")
    a = np.arange(0, 15625, 1500)
    t = d / "target.csv"
    lat = nb201_help["latency"].sel(device="pixel2", arch=a).values
    pd.DataFrame({"device": "pixel2", "arch_index": a, "latency_ms": lat}).to_csv(t, index=False)
    return path, t
