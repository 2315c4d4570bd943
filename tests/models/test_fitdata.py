"""From a source Dataset to the model's inputs: a known space that cannot be loaded is a named error."""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.errors import LatxferError
from latxfer.models import LatencyModel
from latxfer.models.fitdata import space_and_encoding


def test_known_space_that_fails_to_load_is_a_named_error(nb201_help, tmp_path, monkeypatch):
    """It used to fall back silently to an empty encoding and fit a different model."""
    sub = nb201_help.latx.select(["1080ti_1", "pixel3", "silver_4114"])
    monkeypatch.setenv("LATXFER_DATA", str(tmp_path))  # a data directory without nb201/archs.csv
    with pytest.raises(LatxferError, match="search space 'nb201'.*could not load.*LATXFER_DATA") as info:
        space_and_encoding(sub, None, "reference")
    assert type(info.value) is not LatxferError  # the original class (data dir / missing file) is kept
    with pytest.raises(LatxferError, match="could not load"):
        LatencyModel({"sampler": {"draws": 5, "tune": 5, "chains": 1}}).fit(sub)


def test_space_is_loaded_for_a_known_space_and_skipped_for_an_unknown_one(nb201_help):
    sub = nb201_help.latx.select(["1080ti_1", "pixel3"])
    name, archs, X, counts = space_and_encoding(sub, None, "reference")
    assert name == "nb201" and len(archs) == 15625 and X.shape[0] == 15625 and counts is not None
    own = sub.assign_attrs(space="unknown")
    name, archs, X, counts = space_and_encoding(own, None, "reference")
    assert name == "unknown" and X.shape == (len(archs), 0) and counts is None
    np.testing.assert_array_equal(archs, sub["arch"].values)
