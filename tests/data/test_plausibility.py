"""Plausibility checks: every shared device passes clean; the bad cases of issue 27 are caught."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latxfer
from latxfer.data import check_plausible, find_implausible
from latxfer.errors import ImplausibleLatencyError, ImplausibleLatencyWarning, InvalidLatencyError

ALL = ["nb201-help", "nb201-hwnasbench", "fbnet-help", "fbnet-layers", "ofa-help"]


@pytest.fixture(scope="session")
def shared(data_dir):
    return {n: latxfer.load_dataset(n, data_dir) for n in ALL}


def _reference(shared, ds):
    return shared["nb201-help"] if ds.latx.space == "nb201" else shared[f"{ds.latx.space}-help"]


@pytest.mark.parametrize("name", ALL)
def test_every_shared_device_is_plausible(shared, name):
    ds = shared[name]
    assert find_implausible(ds) == []
    # against the reference of its space (every rule is per device: each device is checked as a
    # user's target would be)
    assert find_implausible(ds, reference=_reference(shared, ds)) == []


def test_shared_csv_file_validates_clean(data_dir):
    assert latxfer.validate_csv(data_dir / "nb201/latency_hwnasbench.csv.gz", space="nb201") == []


@pytest.mark.slow
@pytest.mark.parametrize("rel,space", [("nb201/latency_help.csv.gz", "nb201"), ("fbnet/latency_help.csv.gz", "fbnet"),
                                       ("fbnet/layer_latency_hwnasbench.csv.gz", "fbnet"),
                                       ("ofa/latency_help.csv.gz", "ofa")])
def test_every_shared_csv_file_validates_clean(data_dir, rel, space):
    assert latxfer.validate_csv(data_dir / rel, space=space) == [], rel


def _rows(ds, device, archs):
    return [(device, int(a), float(ds.latency.sel(device=device, arch=a))) for a in archs]


def _write(tmp_path, rows, name="mine.csv"):
    p = tmp_path / name
    p.write_text("device,arch_index,latency_ms\n" + "".join(f"{d},{a},{v!r}\n" for d, a, v in rows))
    return p


def test_one_huge_value_is_caught_with_its_line(tmp_path, nb201_help):
    rows = _rows(nb201_help, "pixel3", [10, 200, 3000, 4000, 5000])
    rows[2] = (rows[2][0], rows[2][1], 1e12)
    p = _write(tmp_path, rows)
    with pytest.raises(ImplausibleLatencyError, match=r"line 4\b.*orders of magnitude above") as exc:
        latxfer.read_csv(p, space="nb201")
    assert "allow_implausible=True" in str(exc.value) and str(p) in str(exc.value)
    assert isinstance(exc.value, InvalidLatencyError)  # a kind of invalid latency for older callers
    (prob,) = latxfer.validate_csv(p, space="nb201")
    assert prob.error is ImplausibleLatencyError and prob.lines == [4]
    with pytest.warns(ImplausibleLatencyWarning, match="line 4"):
        ds = latxfer.read_csv(p, space="nb201", allow_implausible=True)
    assert float(ds.latency.max()) == 1e12
    assert latxfer.validate_csv(p, space="nb201", allow_implausible=True) == []


def test_tiny_value_and_absolute_bounds(tmp_path, nb201_help):
    rows = _rows(nb201_help, "raspi4", [10, 200, 3000, 4000, 5000])
    rows[1] = (rows[1][0], rows[1][1], 1e-7)
    (prob,) = latxfer.validate_csv(_write(tmp_path, rows), reference=None)
    assert prob.lines == [3] and "below" in prob.message
    # one value of an hour-long inference, alone on its device
    (prob,) = find_implausible(_write_df([("slow", 1, 5e9)]))
    assert "plausible" in prob.message


def _write_df(rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=["device", "arch_index", "latency_ms"])


def test_conflicting_repeats(tmp_path, nb201_help):
    rows = _rows(nb201_help, "hwnb_pixel3" if "hwnb_pixel3" in nb201_help.latx.devices else "pixel3",
                 [10, 200, 3000])
    rows += [("pixel3", 77, 0.54), ("pixel3", 77, 999.0)]
    p = _write(tmp_path, rows)
    probs = latxfer.validate_csv(p, space="nb201")
    rep = [q for q in probs if "repeated" in q.message]
    assert len(rep) == 1 and rep[0].lines == [5, 6] and "0.54-999 ms" in rep[0].message
    # ordinary measurement noise between repeats is fine
    ok = rows[:3] + [("pixel3", 77, 10.1), ("pixel3", 77, 10.9), ("pixel3", 77, 12.0)]
    assert latxfer.validate_csv(_write(tmp_path, ok, "ok.csv"), space="nb201") == []


def test_all_identical_latencies(tmp_path):
    p = _write(tmp_path, [("mydev", a, 2.5) for a in (3, 17, 99, 1000, 4000, 7000)])
    (prob,) = latxfer.validate_csv(p, space="nb201")
    assert "same latency 2.5 ms" in prob.message and prob.lines == [2, 3, 4, 5, 6, 7]
    with pytest.raises(ImplausibleLatencyError, match="same latency"):
        latxfer.read_csv(p)
    # four rows are too few to call it (a coarse integer-ms phone may repeat one value)
    assert latxfer.validate_csv(_write(tmp_path, [("d", a, 2.0) for a in range(4)], "four.csv")) == []


def test_fbnet_file_read_as_nb201_is_caught(tmp_path, fbnet_help, nb201_help):
    archs = np.arange(0, 5000, 25)  # 200 FBNet architectures, indices that exist in NB201 too
    p = _write(tmp_path, _rows(fbnet_help, "pixel3", archs))
    probs = latxfer.validate_csv(p, space="nb201")  # reference: the registered nb201-help (auto)
    assert len(probs) == 1 and "another search space" in probs[0].message
    with pytest.raises(ImplausibleLatencyError, match="another search space"):
        latxfer.read_csv(p, space="nb201", reference=nb201_help)
    # the same device's real NB201 latencies pass
    good = _write(tmp_path, _rows(nb201_help, "pixel3", archs), "good.csv")
    assert latxfer.validate_csv(good, space="nb201") == []
    latxfer.read_csv(good, space="nb201", reference=nb201_help)


def test_wrong_units_against_the_reference(nb201_help):
    tgt = nb201_help.latx.select(["gold_6226"]).isel(arch=slice(0, 8))
    micro = tgt.copy(deep=True)
    micro["latency"] = micro["latency"] * 1000.0  # microseconds written as ms
    assert find_implausible(tgt, reference=nb201_help) == []
    (prob,) = find_implausible(micro, reference=nb201_help)
    assert "seconds or microseconds" in prob.message and "arch_index 0, 1" in prob.message
    (prob,) = find_implausible(micro, reference=(1.0, 30.0))  # a plain range of device medians
    assert prob.error is ImplausibleLatencyError


def test_check_plausible_raises_or_warns(nb201_help):
    ds = nb201_help.latx.select(["pixel2"]).isel(arch=slice(0, 6)).copy(deep=True)
    ds["latency"][0, 0] = 1e12
    with pytest.raises(ImplausibleLatencyError, match="arch_index 0"):
        check_plausible(ds)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        found = check_plausible(ds, allow_implausible=True)
    assert len(found) == 1 and any(issubclass(x.category, ImplausibleLatencyWarning) for x in w)
    assert check_plausible(nb201_help.latx.select(["pixel2"])) == []


def test_cli_validate_reports_findings(tmp_path, capsys):
    from latxfer.cli import main

    p = _write(tmp_path, [("d", 1, 1.0), ("d", 2, 1.2), ("d", 3, 1e12), ("d", 4, 0.9)])
    assert main(["data", "validate", str(p), "--space", "nb201"]) == 1
    out = capsys.readouterr().out
    assert "ImplausibleLatencyError" in out and "line 4" in out


def test_extreme_but_real_samples_pass(nb201_help):
    # pixel3's slowest architectures next to its fastest (a disconnected cell): 4.05 decades apart
    x = nb201_help.latency.sel(device="pixel3").to_series().sort_values()
    sample = list(x.index[-4:]) + [x.index[0]]
    df = _write_df(_rows(nb201_help, "pixel3", sample))
    assert find_implausible(df, reference=nb201_help) == []


def test_layer_wise_table(shared):
    lay = shared["fbnet-layers"].latx.select(["raspi4"]).isel(arch=slice(0, 6)).latx.to_long()
    assert find_implausible(lay) == []
    bad = lay.iloc[[0]].assign(latency_ms=lay["latency_ms"].iloc[0] + 500.0)
    import pandas as pd

    (prob,) = find_implausible(pd.concat([lay, bad], ignore_index=True))
    assert "repeated measurements" in prob.message and "layer 0" in prob.message


@given(data=st.data())
@settings(max_examples=int(os.environ.get("LATXFER_HYPOTHESIS_EXAMPLES", "100")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
def test_random_real_samples_pass(shared, data):
    """Any sample of real measurements of one shared device, checked against its space's reference."""
    name = data.draw(st.sampled_from(ALL), label="dataset")
    ds = shared[name]
    dev = data.draw(st.sampled_from(ds.latx.devices), label="device")
    pool = ds.latx.measured(dev)
    n = data.draw(st.integers(1, 80), label="n")
    archs = np.sort(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).choice(pool, n, replace=False))
    sample = ds.latx.select([dev]).sel(arch=archs)
    assert find_implausible(sample, reference=_reference(shared, ds)) == []
