"""Spaces with their real architecture tables (the shared data directory)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def nb201(data_dir):
    from latxfer.measure import load_measure_space

    return load_measure_space("nb201", data_dir)


@pytest.fixture(scope="session")
def fbnet(data_dir):
    from latxfer.measure import load_measure_space

    return load_measure_space("fbnet", data_dir)


@pytest.fixture(scope="session")
def ofa(data_dir):
    from latxfer.measure import load_measure_space

    return load_measure_space("ofa", data_dir)
