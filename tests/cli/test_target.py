"""The one target-CSV reader every command uses (latxfer.cli._target.read_target)."""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.cli._target import read_target
from latxfer.errors import LeakageError, MixedSearchSpaceError


def test_file_order_repeats_and_description(fitted, tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("device,arch_index,latency_ms\nd,900,3.0\nd,40,2.0\nd,900,5.0\nd,7000,4.0\nd,900,4.0\n")
    t = read_target(fitted, f)
    archs, y = t.end_to_end()
    assert archs.tolist() == [900, 40, 7000]  # the order first measured, not sorted
    assert y.tolist() == [4.0, 2.0, 4.0]  # repeats reduced to their median
    assert t.device == "d" and not t.known and not t.has_layers and t.space == "nb201"
    assert t.describe() == "3 measurement(s)"


def test_source_devices_refused_unless_allowed(fitted, tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("device,arch_index,latency_ms\npixel3,1,3.0\n")
    with pytest.raises(LeakageError, match=r"s\.csv: device 'pixel3' is a source device.*or do this"):
        read_target(fitted, f, source_hint="do this")
    assert read_target(fitted, f, allow_source=True).known


def test_a_space_column_must_be_the_models(fitted, tmp_path):
    f = tmp_path / "o.csv"
    f.write_text("device,arch_index,latency_ms,space\nd,1,3.0,ofa\n")
    with pytest.raises(MixedSearchSpaceError, match=r"fitted on 'nb201' architectures; give --target-csv"):
        read_target(fitted, f)
    f.write_text("device,arch_index,latency_ms,space\nd,1,3.0,nb201\n")
    assert np.array_equal(read_target(fitted, f).end_to_end()[0], [1])
