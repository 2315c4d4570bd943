"""The latency Dataset, the ``latx`` accessor and persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import latxfer
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    LeakageError,
    OutputPathError,
    UnknownDeviceError,
)


def _df(rows):
    return pd.DataFrame(rows, columns=["device", "arch_index", "latency_ms"])


def test_from_long_reduces_repeats_with_median_and_counts():
    df = _df([("a", 0, 1.0), ("a", 0, 3.0), ("a", 0, 10.0), ("a", 1, 2.0), ("b", 1, 5.0)])
    ds = latxfer.from_long(df)
    assert ds.latency.sel(device="a", arch=0).item() == 3.0
    assert ds.n_obs.sel(device="a", arch=0).item() == 3
    assert np.isnan(ds.latency.sel(device="b", arch=0).item())
    assert ds.n_obs.sel(device="b", arch=0).item() == 0
    assert ds.attrs["n_repeated_cells"] == 1
    assert latxfer.from_long(df, reduce="mean").latency.sel(device="a", arch=0).item() == pytest.approx(14 / 3)
    assert latxfer.from_long(df, reduce="min").latency.sel(device="a", arch=0).item() == 1.0


def test_from_long_keeps_repeats_on_request():
    df = _df([("a", 0, 1.0), ("a", 0, 3.0), ("a", 1, 2.0)])
    ds = latxfer.from_long(df, reduce=None)
    assert ds.latency.dims == ("device", "arch", "repeat")
    assert sorted(ds.latency.sel(device="a", arch=0).values.tolist()) == [1.0, 3.0]
    assert ds.latency.sel(device="a", arch=1).values[0] == 2.0 and np.isnan(ds.latency.sel(device="a", arch=1).values[1])
    assert ds.attrs["reduction"] == "none"
    # the long form gives every raw measurement back
    assert len(ds.latx.to_long()) == 3


def test_unknown_reduction():
    with pytest.raises(ConfigError, match="median"):
        latxfer.from_long(_df([("a", 0, 1.0)]), reduce="mode")


def test_accessor_select_split_measured(nb201_hwnb):
    ds = nb201_hwnb
    assert ds.latx.devices[0] == "hwnb_edgegpu"
    sub = ds.latx.select(["hwnb_fpga", "hwnb_pixel3"])
    assert sub.latx.devices == ["hwnb_fpga", "hwnb_pixel3"]
    src, tgt = ds.latx.split(target="hwnb_fpga", sources=["hwnb_pixel3"])
    assert src.latx.devices == ["hwnb_pixel3"] and tgt.latx.devices == ["hwnb_fpga"]
    src, _ = ds.latx.split(target="hwnb_fpga")
    assert "hwnb_fpga" not in src.latx.devices and len(src.latx.devices) == 5
    assert len(ds.latx.common_archs()) == 1999 - 259
    with pytest.raises(UnknownDeviceError, match="known devices: hwnb_edgegpu"):
        ds.latx.select(["pixel9"])
    with pytest.raises(LeakageError, match="also listed as a source"):
        ds.latx.split(target="hwnb_fpga", sources=["hwnb_fpga", "hwnb_pixel3"])


def test_sample_archs_reproducible(nb201_hwnb):
    a = nb201_hwnb.latx.sample_archs("hwnb_edgetpu", 10, rng=3)
    b = nb201_hwnb.latx.sample_archs("hwnb_edgetpu", 10, rng=3)
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 10
    assert np.isin(a, nb201_hwnb.latx.measured("hwnb_edgetpu")).all()
    with pytest.raises(InsufficientDataError, match="only 1740"):
        nb201_hwnb.latx.sample_archs("hwnb_edgetpu", 5000)


def test_to_long_round_trip(nb201_hwnb):
    long = nb201_hwnb.latx.to_long()
    assert list(long.columns) == ["device", "arch_index", "latency_ms"]
    assert len(long) == int(np.isfinite(nb201_hwnb.latency.values).sum())
    back = latxfer.from_long(long, archs=nb201_hwnb.arch.values)
    np.testing.assert_array_equal(back.latency.values, nb201_hwnb.latency.values)


def test_layer_long_form(fbnet_layers):
    small = fbnet_layers.isel(arch=slice(0, 3))
    long = small.latx.to_long()
    assert list(long.columns) == ["device", "arch_index", "layer", "latency_ms"]
    assert len(long) == 4 * 3 * 22


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_persistence_round_trip_exact(tmp_path, nb201_hwnb, suffix):
    ds = nb201_hwnb.copy()
    ds.attrs["extra"] = {"nested": [1, 2]}
    path = tmp_path / f"d{suffix}"
    latxfer.save_dataset(ds, path)
    back = latxfer.open_dataset(path)
    assert back.identical(ds)
    assert np.isnan(back.latency.values).sum() == 259
    with pytest.raises(OutputPathError, match="refusing to overwrite"):
        latxfer.save_dataset(ds, path)


def test_layer_persistence(tmp_path, fbnet_layers):
    small = fbnet_layers.isel(arch=slice(0, 50))
    latxfer.save_dataset(small, tmp_path / "l.zarr")
    assert latxfer.open_dataset(tmp_path / "l.zarr").identical(small)


def test_validate(nb201_hwnb):
    assert nb201_hwnb.latx.validate() is nb201_hwnb
    bad = nb201_hwnb.copy(deep=True)
    bad.latency[0, 0] = -1.0
    with pytest.raises(latxfer.errors.InvalidLatencyError, match="hwnb_edgegpu"):
        bad.latx.validate()
