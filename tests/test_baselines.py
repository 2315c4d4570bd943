"""Baselines: proxy-only, best proxy, FLOPs, target ridge, AdaProxy, low-rank SVD (real data)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import latxfer
from latxfer.baselines import AdaProxy, BestProxy, FLOPs, LowRankSVD, ProxyOnly, TargetRidge
from latxfer.baselines._common import ridge_loo
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    InvalidLatencyError,
    UnknownDeviceError,
)


@pytest.fixture(scope="module")
def nb201_space(data_dir):
    return latxfer.load_space("nb201", data_dir)


@pytest.fixture(scope="module")
def fbnet_space(data_dir):
    return latxfer.load_space("fbnet", data_dir)


def _srcc_unmeasured(ds, target, adapted, measured):
    archs = ds.latx.measured(target)
    q = np.setdiff1d(archs, measured)
    y = ds.latx.latency_matrix([target])[0][np.searchsorted(ds.latx.archs, q)]
    return stats.spearmanr(adapted.predict(q).mean_ms, y).statistic


def test_adaproxy_beats_proxy_only_on_edgegpu(nb201_hwnb, nb201_space):
    src, tgt = nb201_hwnb.latx.split("hwnb_edgegpu", ["hwnb_pixel3"])
    y_all = tgt.latx.latency_matrix()[0]
    ada = AdaProxy("hwnb_pixel3").fit(src, nb201_space)
    po = ProxyOnly("hwnb_pixel3").fit(src)
    gains = []
    for seed in range(3):
        a = nb201_hwnb.latx.sample_archs("hwnb_edgegpu", 20, seed)
        y = y_all[np.searchsorted(nb201_hwnb.latx.archs, a)]
        r_ada = _srcc_unmeasured(nb201_hwnb, "hwnb_edgegpu", ada.adapt(a, y), a)
        r_po = _srcc_unmeasured(nb201_hwnb, "hwnb_edgegpu", po.adapt(a, y), a)
        gains.append(r_ada - r_po)
    assert r_po == pytest.approx(0.496, abs=0.01)
    assert np.mean(gains) > 0.1


def test_adaproxy_refuses_onehot():
    with pytest.raises(ConfigError, match="rank-deficient"):
        AdaProxy("x", coding="onehot")


def test_adaproxy_layer_table_is_exact(fbnet_layers, fbnet_space):
    src, _ = fbnet_layers.latx.split("fpga", ["pixel3"])
    ada = AdaProxy("pixel3").fit(src, fbnet_space)
    w, ip, how = ada.weights_["pixel3"]
    assert how == "layer table" and w.shape == (176,)
    pred = ada.adapt(np.zeros(0, int), np.zeros(0)).predict(src.latx.archs).mean_ms
    np.testing.assert_allclose(pred, src.latx.latency_matrix()[0], atol=1e-9)
    # sum-to-zero coding on layer data falls back to least squares (still exact: the data is additive)
    ada2 = AdaProxy("pixel3", coding="sum_to_zero").fit(src, fbnet_space)
    assert ada2.weights_["pixel3"][2] == "least squares"


def test_regulariser_bites_when_target_is_scaled_proxy(nb201_hwnb, nb201_space):
    """Target = 2 x proxy model + 1 exactly: CV picks a large penalty and b ~ 0."""
    src, _ = nb201_hwnb.latx.split("hwnb_fpga", ["hwnb_pixel3"])
    ada = AdaProxy("hwnb_pixel3").fit(src, nb201_space)
    w, ip, _ = ada.weights_["hwnb_pixel3"]
    a = nb201_hwnb.latx.archs[:30]
    y = 2 * (nb201_space.encode(a) @ w + ip) + 1 + np.random.default_rng(0).normal(0, 0.3, a.size)
    ad = ada.adapt(a, y)
    assert ad.info["a"] == pytest.approx(2.0, rel=1e-2)
    assert ad.info["lambda"] >= 1.0 and ad.info["b_norm"] < 0.05


def test_ridge_loo_matches_brute_force():
    rng = np.random.default_rng(0)
    A = np.column_stack([np.ones(12), rng.normal(size=(12, 4))])
    y = A @ rng.normal(size=5) + rng.normal(0, 0.5, 12)
    coef, info = ridge_loo(A, y, 1, lambdas=(0.1,), allow_inf=False)
    scale = np.mean(np.sum(A[:, 1:] ** 2, axis=0))
    errs = []
    for i in range(12):
        k = np.arange(12) != i
        P = np.diag([0.0] + [0.1 * scale] * 4)
        c = np.linalg.solve(A[k].T @ A[k] + P, A[k].T @ y[k])
        errs.append(y[i] - A[i] @ c)
    assert info["loo_rmse"] == pytest.approx(np.sqrt(np.mean(np.square(errs))))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10])
def test_every_baseline_adapts_at_small_n(nb201_hwnb, nb201_space, n):
    src, tgt = nb201_hwnb.latx.split("hwnb_raspi4", ["hwnb_pixel3", "hwnb_fpga", "hwnb_eyeriss"])
    a = nb201_hwnb.latx.sample_archs("hwnb_raspi4", n, 1)
    y = tgt.latx.latency_matrix()[0][np.searchsorted(nb201_hwnb.latx.archs, a)]
    q = nb201_hwnb.latx.archs[:200]
    for m in [ProxyOnly("hwnb_pixel3"), BestProxy(), FLOPs(), AdaProxy("hwnb_pixel3"), AdaProxy(None),
              LowRankSVD(), TargetRidge()]:
        m.fit(src, nb201_space)
        if n < m.min_n:
            with pytest.raises(InsufficientDataError):
                m.adapt(a, y)
            continue
        p1 = m.adapt(a, y).predict(q)
        p2 = m.adapt(a, y).predict(q)  # adapt does not mutate the fitted method
        assert np.all(np.isfinite(p1.mean_ms)), m.name
        np.testing.assert_array_equal(p1.mean_ms, p2.mean_ms)
        if p1.has_interval:
            assert np.all(p1.lower_ms <= p1.upper_ms)


def test_best_proxy_picks_by_srcc_on_samples(nb201_help):
    src, tgt = nb201_help.latx.split("gold_6240", ["1080ti_1", "silver_4114", "pixel3"])  # validation device
    a = nb201_help.latx.sample_archs("gold_6240", 30, 0)
    y = tgt.latx.latency_matrix()[0][a]
    ad = BestProxy().fit(src).adapt(a, y)
    assert ad.info["proxy"] == "silver_4114"  # the other Xeon
    assert BestProxy().fit(src).adapt(a[:2], y[:2]).info["proxy"] in src.latx.devices  # n < 3: central


def test_bad_inputs(nb201_hwnb, nb201_space):
    src, _ = nb201_hwnb.latx.split("hwnb_raspi4", ["hwnb_pixel3"])
    with pytest.raises(UnknownDeviceError, match="hwnb_pixel3"):
        ProxyOnly("pixel9").fit(src)
    with pytest.raises(UnknownDeviceError):
        AdaProxy("pixel9").fit(src, nb201_space)
    with pytest.raises(ConfigError, match="search space"):
        FLOPs().fit(src)
    with pytest.raises(ConfigError, match="search space"):
        AdaProxy("hwnb_pixel3").fit(src)
    with pytest.raises(InvalidLatencyError):
        ProxyOnly("hwnb_pixel3").fit(src).adapt([1, 16], [1.0, -2.0])
    with pytest.raises(ConfigError, match="same length"):
        ProxyOnly("hwnb_pixel3").fit(src).adapt([1, 16], [1.0])
