"""Own-data learners (latxfer.baselines.own) on real measurements, and ``fit --sources all``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latxfer.baselines.own import MAX_PAIR_COLUMNS, OwnGP, OwnRidge, pairwise_features
from latxfer.data.datasets import all_sources, load_space
from latxfer.errors import InsufficientDataError, InvalidLatencyError
from latxfer.ranks import srcc


@pytest.fixture(scope="module")
def edgegpu(nb201_hwnb, nb201_help):
    y = nb201_hwnb.latency.sel(device="hwnb_edgegpu").reindex(arch=nb201_help.arch).values
    pool = np.flatnonzero(np.isfinite(y))
    return y, pool


def test_pairwise_features_count_shared_positions_and_pairs():
    sp = load_space("nb201")
    archs = np.array([0, 1, 15624])
    X1, X2 = pairwise_features(sp, archs)
    assert X1.shape == (3, 30) and X2.shape == (3, 15 * 25)
    ops = sp.ops(archs)
    m = (ops[:, None, :] == ops[None, :, :]).sum(-1)  # positions where two cells agree
    np.testing.assert_allclose(X1 @ X1.T, m / 6)
    np.testing.assert_allclose(X2 @ X2.T, m * (m - 1) / 2 / 15)
    # FBNet: all 231 layer pairs would be 18,711 columns; only neighbouring layers are paired
    fb = load_space("fbnet")
    F1, F2 = pairwise_features(fb, np.arange(4))
    assert F2.shape[1] == 21 * 81 > 0 and 231 * 81 > MAX_PAIR_COLUMNS
    np.testing.assert_allclose(np.diag(F1 @ F1.T), 1.0)
    np.testing.assert_allclose(np.diag(F2 @ F2.T), 1.0)


@pytest.mark.parametrize("method", [OwnRidge(), OwnRidge(log=False, name="own-ridge-ms"), OwnGP()],
                         ids=lambda m: m.name)
def test_own_learners_rank_unmeasured_architectures(method, edgegpu):
    """60 measurements of the edge GPU, scored on its other measured architectures: the learners rank them
    and their 90% intervals cover most of them (not fitted on what they are scored on)."""
    y, pool = edgegpu
    rng = np.random.default_rng(0)
    archs = rng.choice(pool, 60, replace=False)
    rest = np.setdiff1d(pool, archs)
    pred = method.fit(None, load_space("nb201")).adapt(archs, y[archs]).predict(rest, interval=0.9)
    assert srcc(pred.mean_ms, y[rest]) > 0.85
    cover = np.mean((y[rest] >= pred.lower_ms) & (y[rest] <= pred.upper_ms))
    assert 0.7 < cover <= 1.0
    assert np.all(pred.lower_ms <= pred.mean_ms) and np.all(pred.mean_ms <= pred.upper_ms)


def test_own_learners_bad_input(edgegpu):
    y, pool = edgegpu
    sp = load_space("nb201")
    with pytest.raises(InsufficientDataError, match="at least 3"):
        OwnGP().fit(None, sp).adapt(pool[:2], y[pool[:2]])
    with pytest.raises(InvalidLatencyError, match="> 0 ms"):
        OwnRidge().fit(None, sp).adapt(pool[:5], np.r_[y[pool[:4]], 0.0])


def test_all_sources_leaves_out_devices_that_miss_most_architectures(nb201_hwnb):
    ds = nb201_hwnb.copy(deep=True)
    lat = ds["latency"].values
    keep = np.isfinite(lat[0])
    lat[0, np.flatnonzero(keep)[200:]] = np.nan  # the first device keeps 200 of its 1,999
    ds["latency"].values = lat
    chosen, left = all_sources(ds)
    first = str(ds.device.values[0])
    assert first not in chosen and left == {first: 200}
    assert len(chosen) == ds.sizes["device"] - 1
    with pytest.raises(InsufficientDataError, match="at least two sources"):
        all_sources(ds.isel(device=[0, 1]), min_coverage=0.99)


def test_cli_fit_sources_all(tmp_path, capsys, nb201_hwnb):
    """``--sources all`` fits every device of a user's CSV; one that measured few architectures is left out
    with a warning that names it."""
    from latxfer.cli import main

    rows = ["device,arch_index,latency_ms"]
    rng = np.random.default_rng(0)
    for k, d in enumerate(["hwnb_pixel3", "hwnb_raspi4", "hwnb_fpga"]):
        y = nb201_hwnb.latency.sel(device=d)
        a = y.arch.values[np.isfinite(y.values)]
        a = a[:400] if k < 2 else rng.choice(a, 30, replace=False)
        rows += [f"{d},{i},{v:.5f}" for i, v in zip(a, y.sel(arch=a).values, strict=True)]
    csv = tmp_path / "mine.csv"
    csv.write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('[model]\nfit_archs = 100\nn_factors = 1\n[sampler]\nname = "map"\ndraws = 40\n'
                   "ess_min = 1\nrhat_max = 10.0\n")
    out = tmp_path / "m.zarr"
    assert main(["fit", "--dataset", str(csv), "--space", "nb201", "--sources", "all", "--model", str(cfg),
                 "--out", str(out), "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["sources"] == ["hwnb_pixel3", "hwnb_raspi4"]
    assert "leaves out 1 device" in cap.err and "hwnb_fpga (30 measured)" in cap.err
