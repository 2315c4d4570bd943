"""Monotonicity: rank correlations with intervals, reuse decision, proxy ranking, CLI (real data)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import latxfer
from latxfer import monotonicity as mono
from latxfer.errors import InsufficientDataError, UndefinedCorrelationError, UnknownDeviceError
from latxfer.monotonicity import _core as core


def _tiny(values: dict[str, dict[int, float]]):
    rows = [(d, a, v) for d, m in values.items() for a, v in m.items()]
    return latxfer.from_long(pd.DataFrame(rows, columns=["device", "arch_index", "latency_ms"]), name="tiny")


def test_bootstrap_ranks_ties_exact():
    """Weighted average ranks equal scipy's Spearman on the materialised resample (with ties)."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, 40).astype(float)
    y = x + rng.integers(0, 3, 40)
    W = core._weights(np.random.default_rng(0), 20, 40)
    Z = [core._standardised(core._TieRanker(v).ranks(W), W) for v in (x, y)]
    fast = (Z[0] * Z[1]).sum(axis=1)
    for b in range(20):
        idx = np.repeat(np.arange(40), W[b].astype(int))
        assert fast[b] == pytest.approx(stats.spearmanr(x[idx], y[idx]).statistic, abs=1e-12)


def test_matrix_known_values(nb201_hwnb):
    res = mono.monotonicity_matrix(nb201_hwnb, ["hwnb_pixel3", "hwnb_raspi4", "hwnb_fpga", "hwnb_edgetpu"],
                                   pseudo=["flops"], n_boot=100)
    s = res.srcc.to_pandas()
    # measured values of this data (the OneProxy paper's figure says 0.96 for Pixel3-Raspi4; see docs)
    assert s.loc["hwnb_pixel3", "hwnb_raspi4"] == pytest.approx(0.921, abs=0.002)
    assert s.loc["hwnb_pixel3", "hwnb_fpga"] == pytest.approx(0.872, abs=0.002)
    assert s.loc["flops", "hwnb_fpga"] == pytest.approx(0.979, abs=0.002)
    assert np.allclose(res.srcc.values, res.srcc.values.T)
    assert np.all(res.srcc_lower.values <= res.srcc.values + 1e-12)
    assert np.all(res.srcc.values <= res.srcc_upper.values + 1e-12)
    assert int(res.n_common.loc["hwnb_edgetpu", "hwnb_pixel3"]) == 1740
    assert int(res.n_common.loc["hwnb_fpga", "hwnb_pixel3"]) == 1999
    k = res.kendall.to_pandas().loc["hwnb_pixel3", "hwnb_raspi4"]
    assert k == pytest.approx(stats.kendalltau(*nb201_hwnb.latx.latency_matrix(["hwnb_pixel3", "hwnb_raspi4"])).statistic)


def test_fbnet_pixel3_proxy(fbnet_help):
    res = mono.monotonicity_matrix(fbnet_help, ["pixel3", "raspi4", "eyeriss", "fpga"], n_boot=0)
    s = res.srcc.to_pandas().loc["pixel3"]
    assert s["raspi4"] == pytest.approx(0.957, abs=0.002)  # paper: .95
    assert s["eyeriss"] == pytest.approx(0.976, abs=0.002)  # paper: .97
    assert s["fpga"] == pytest.approx(0.906, abs=0.002)  # paper: .90


def test_unknown_device_lists_known(nb201_hwnb):
    with pytest.raises(UnknownDeviceError, match="hwnb_pixel3"):
        mono.monotonicity_matrix(nb201_hwnb, ["pixel9", "hwnb_pixel3"], n_boot=0)


def test_fewer_than_three_common():
    ds = _tiny({"a": {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}, "b": {0: 1.0, 1: 3.0, 5: 2.0, 6: 2.5}})
    with pytest.raises(InsufficientDataError, match="'a' and 'b' share 2"):
        mono.monotonicity_matrix(ds, n_boot=10)
    with pytest.raises(InsufficientDataError):
        mono.estimate_from_samples([1.0, 2.0], [2.0, 3.0])


def test_constant_latency_is_an_error():
    ds = _tiny({"a": {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}, "flat": {0: 5.0, 1: 5.0, 2: 5.0, 3: 5.0}})
    with pytest.raises(UndefinedCorrelationError, match="constant"):
        mono.monotonicity_matrix(ds, n_boot=10)
    with pytest.raises(UndefinedCorrelationError):
        mono.estimate_from_samples([1, 2, 3, 4], [3, 3, 3, 3])


def test_ten_samples_cannot_tell_085_from_095(nb201_hwnb):
    m = nb201_hwnb.latx.latency_matrix(["hwnb_pixel3", "hwnb_raspi4"])
    idx = np.random.default_rng(0).choice(m.shape[1], 10, replace=False)
    e = mono.estimate_from_samples(m[0, idx], m[1, idx])
    assert e.lower < 0.85 and e.upper > 0.95 and e.n == 10
    assert e.method == "bootstrap"
    f = mono.estimate_from_samples(m[0, idx], m[1, idx], method="fisher")
    assert f.lower <= f.srcc <= f.upper and f.srcc == e.srcc
    d = mono.reuse_decision(m[0, idx], m[1, idx])
    assert d.decision == "measure more" and "10 measurements" in d.evidence


def test_reuse_decision_reuse_and_adapt(nb201_hwnb):
    m = nb201_hwnb.latx.latency_matrix(["hwnb_pixel3", "hwnb_raspi4", "hwnb_edgegpu"])
    assert mono.reuse_decision(m[0], m[1]).decision == "reuse"  # SRCC .92 on 1999 archs
    assert mono.reuse_decision(m[0], m[1], threshold=0.95).decision == "adapt"  # configurable threshold
    d = mono.reuse_decision(m[0], m[2])
    assert d.decision == "adapt" and d.estimate.srcc == pytest.approx(0.496, abs=0.002)
    assert json.dumps(d.to_dict())


def test_rank_proxies(nb201_help):
    archs = nb201_help.latx.sample_archs("raspi4", 20, 0)
    y = nb201_help.latx.latency_matrix(["raspi4"])[0, archs]
    df = mono.rank_proxies(nb201_help, archs, y, devices=["pixel3", "1080ti_1", "silver_4114"],
                           pseudo=["flops"], n_boot=300)
    assert list(df.columns) == ["proxy", "srcc", "lower", "upper", "kendall", "n", "p_best", "decision"]
    assert df["srcc"].is_monotonic_decreasing and set(df["proxy"]) == {"pixel3", "1080ti_1", "silver_4114", "flops"}
    assert df["p_best"].sum() == pytest.approx(1.0)
    assert df.iloc[0]["proxy"] in ("pixel3", "flops")  # the GPU ranks a Raspberry Pi poorly
    assert (df["n"] == 20).all()


def test_cli_json_and_plot(tmp_path, capsys):
    from latxfer.cli import main

    png = tmp_path / "h.png"
    rc = main(["monotonicity", "--dataset", "nb201-hwnasbench", "--devices", "hwnb_pixel3,hwnb_raspi4",
               "--n-boot", "50", "--plot", str(png), "--json"])
    assert rc == 0 and png.stat().st_size > 1000
    out = json.loads(capsys.readouterr().out)
    assert out["devices"] == ["hwnb_pixel3", "hwnb_raspi4", "flops"]
    pair = out["pairs"][0]
    assert pair["srcc_lower"] <= pair["srcc"] <= pair["srcc_upper"]


def test_cli_text_and_unknown_device(capsys):
    from latxfer.cli import main

    assert main(["monotonicity", "--dataset", "nb201-hwnasbench", "--devices", "hwnb_pixel3,hwnb_fpga",
                 "--pseudo", "none", "--n-boot", "0"]) == 0
    assert "0.872" in capsys.readouterr().out
    assert main(["monotonicity", "--dataset", "nb201-hwnasbench", "--devices", "nope,hwnb_fpga"]) == 2
    err = capsys.readouterr().err
    assert "unknown device" in err and "hwnb_raspi4" in err
