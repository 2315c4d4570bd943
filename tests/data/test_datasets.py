"""Named datasets load from the real data directory with the documented shapes and known values."""

from __future__ import annotations

import time

import numpy as np
import pytest

import latxfer
from latxfer.errors import ConfigError, DataDirError, UnknownDatasetError


def test_nb201_help_shape_and_values(nb201_help):
    ds = nb201_help
    assert ds.latency.dims == ("device", "arch")
    assert ds.sizes["device"] == 27 and ds.sizes["arch"] == 15625
    assert ds.attrs["space"] == "nb201" and ds.attrs["units"] == "ms"
    assert np.isfinite(ds.latency.values).all()
    # first rows of the shared file
    assert ds.latency.sel(device="1080ti_1", arch=0).item() == pytest.approx(10.75437068939209, abs=0)
    assert ds.latency.sel(device="1080ti_1", arch=1).item() == pytest.approx(12.900347709655762, abs=0)
    # encodings over arch agree with the official arch string of index 0
    assert ds.ops.sel(arch=0).values.tolist() == [4, 2, 1, 2, 1, 1]
    assert str(ds.arch_str.sel(arch=0).item()).startswith("|avg_pool_3x3~0|")
    meta = ds.sel(device=["titan_rtx_256", "pixel2", "eyeriss", "gold_6226", "raspi4", "fpga"])
    assert meta.device_kind.values.tolist() == ["gpu", "mobile", "asic", "cpu", "edge_cpu", "fpga"]
    assert meta.batch_size.values.tolist() == [256, 1, 1, 1, 1, 1]
    assert meta.simulated.values.tolist() == [False, False, True, False, False, True]
    assert (ds.n_obs.values == 1).all()


def test_nb201_help_loads_fast(data_dir):
    t = time.perf_counter()
    latxfer.load_dataset("nb201-help", data_dir)
    assert time.perf_counter() - t < 2.0


def test_hwnasbench_shape_missing_and_equality_with_help(nb201_hwnb, nb201_help):
    ds = nb201_hwnb
    assert ds.sizes["device"] == 6 and ds.sizes["arch"] == 1999
    assert len(ds.latx.measured("hwnb_edgetpu")) == 1999 - 259
    for dev in ["pixel3", "raspi4", "eyeriss", "fpga"]:
        archs = ds.latx.measured(f"hwnb_{dev}")
        a = ds.latency.sel(device=f"hwnb_{dev}", arch=archs).values
        b = nb201_help.latency.sel(device=dev, arch=archs).values
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_accuracy(data_dir):
    acc = latxfer.load_dataset("nb201-accuracy", data_dir)
    assert acc.sizes["arch"] == 15625
    assert set(acc.data_vars) >= {"cifar10_test_acc", "cifar100_test_acc", "imagenet16_120_test_acc"}
    assert acc.cifar10_test_acc.sel(arch=0).item() == pytest.approx(81.52)
    assert 90 < float(acc.cifar10_test_acc.max()) < 95


def test_fbnet_help(fbnet_help):
    assert fbnet_help.latency.shape == (27, 5000)
    assert fbnet_help.ops.shape == (5000, 22)
    assert fbnet_help.ops.sel(arch=0).values[:3].tolist() == [7, 8, 1]
    assert fbnet_help.latency.sel(device="1080ti_1", arch=0).item() == pytest.approx(10.615349732488394)


def test_fbnet_layers_sum_to_end_to_end(fbnet_layers, fbnet_help):
    ds = fbnet_layers
    assert ds.latency.dims == ("device", "arch", "layer")
    assert ds.latency.shape == (4, 5000, 22)
    assert "intercept_ms" in ds and ds.intercept_ms.dims == ("device",)
    e2e = ds.latx.end_to_end()
    for dev in ds.latx.devices:
        np.testing.assert_allclose(e2e.sel(device=dev).values, fbnet_help.latency.sel(device=dev).values,
                                   rtol=1e-9, atol=1e-9)


def test_ofa(data_dir):
    ds = latxfer.load_dataset("ofa-help", data_dir)
    assert ds.latency.shape == (12, 5000)
    assert ds.kernel_size.shape == (5000, 20) and ds.depth.shape == (5000, 5)
    assert ds.resolution.sel(arch=0).item() == 204


def test_splits(data_dir):
    s = latxfer.get_split("nb201", "help", data_dir)
    assert len(s.source) == 9 and len(s.target) == 6 and "gold_6240" in s.validation
    assert s.published["mean"] == pytest.approx(0.932)
    assert s.archs_per_source_device == 900
    p = latxfer.get_split("nb201", "oneproxy_pixel3", data_dir)
    assert p.proxy == "hwnb_pixel3" and p.source == ["hwnb_pixel3"]
    t = latxfer.get_split("fbnet", "nasflat_3", data_dir)
    assert t.published["task_srcc_nasflat"] == pytest.approx(0.871)
    with pytest.raises(UnknownDatasetError, match="known splits"):
        latxfer.get_split("nb201", "nope", data_dir)


def test_unknown_dataset_lists_known():
    with pytest.raises(UnknownDatasetError, match="known datasets: nb201-help.*Did you mean 'nb201-help'"):
        latxfer.load_dataset("nb201-hlp")


def test_data_dir_not_found(tmp_path):
    with pytest.raises(DataDirError, match="not found.*LATXFER_DATA"):
        latxfer.load_dataset("nb201-help", tmp_path / "nowhere")


def test_no_data_dir_configured_says_how(monkeypatch):
    monkeypatch.delenv("LATXFER_DATA", raising=False)
    with pytest.raises(DataDirError, match="LATXFER_DATA"):
        latxfer.load_dataset("ofa-help")


def test_data_dir_without_files(tmp_path):
    with pytest.raises(DataDirError, match="nb201/latency_help.csv.gz"):
        latxfer.load_dataset("nb201-help", tmp_path)


def test_splits_is_not_a_table(data_dir):
    with pytest.raises(ConfigError, match="load_splits"):
        latxfer.load_dataset("splits", data_dir)


def test_load_any_reads_names_csvs_and_saved_datasets(nb201_hwnb, tmp_path, data_dir):
    """What `--dataset` accepts: a registered name, a tidy CSV, a dataset saved by save_dataset."""
    from latxfer.data.datasets import load_any

    small = nb201_hwnb.latx.select(["hwnb_fpga", "hwnb_edgegpu"]).isel(arch=slice(0, 50))
    saved = latxfer.save_dataset(small, tmp_path / "mine.zarr")
    back = load_any(str(saved), space="nb201")
    np.testing.assert_array_equal(back.latency.values, small.latency.values)
    with pytest.raises(ConfigError, match="fbnet"):
        load_any(str(saved), space="fbnet")
    csv = tmp_path / "mine.csv"
    small.latx.to_long().to_csv(csv, index=False)
    got = load_any(str(csv), space="nb201")
    assert got.attrs["space"] == "nb201" and sorted(got.latx.devices) == ["hwnb_edgegpu", "hwnb_fpga"]
    assert load_any("nb201-hwnasbench", data_dir=data_dir).sizes["device"] == 6
    with pytest.raises(latxfer.errors.DataFileNotFoundError, match="nope.zarr"):
        load_any(str(tmp_path / "nope.zarr"))
