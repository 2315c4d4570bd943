"""The free op-cost novelty (``priors.op_free_sd``): a new device's cost of each op at each position may
leave the population, weighted by the evidence, so that its posterior can follow its own structure."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from latxfer.errors import ConfigError
from latxfer.models import LatencyModel, load_config, load_model, mixture
from latxfer.ranks import srcc


def _with(fitted, count, free):
    m = copy.copy(fitted)
    m.config = copy.deepcopy(fitted.config)
    m.config["priors"]["op_count_sd"] = count
    m.config["priors"]["op_free_sd"] = free
    return m


def test_free_levels_cross_the_op_type_grid(fitted):
    m = _with(fitted, [0.0, 0.3], [0.2])
    assert mixture.free_grid(m) == [0.0, 0.2]
    pop = [c for c in mixture.components(m) if c[0] == "population"]
    assert [c[1] for c in pop] == [0.0, 0.3, (0.0, 0.2), (0.3, 0.2)]
    assert sum(c[2] for c in pop) == pytest.approx(1.0)  # the shared fit has no near-source mixture
    assert [mixture.level_label(c[1]) for c in pop] == ["0", "0.3", "0+free0.2", "0.3+free0.2"]
    # off: the grid is the op-type grid alone, exactly as before the free term existed
    assert [c[1] for c in mixture.components(_with(fitted, [0.0, 0.3], 0.0))] == [0.0, 0.3]


def test_free_directions_add_an_isotropic_op_cost_covariance(fitted):
    """Level (c, f) adds c^2 W W' + f^2 / P on the op-cost block (and nothing on intercept or loadings): the
    free departure has sd f as a function over the architectures whatever the number P of op-cost columns."""
    m = _with(fitted, [0.0, 0.3], [0.2])
    K, P = fitted.basis.K, fitted.basis.P
    sel = np.arange(4)
    _, L0 = mixture.prior_blocks(m, sel, 0.3)
    _, L1 = mixture.prior_blocks(m, sel, (0.3, 0.2))
    extra = L1 @ L1.swapaxes(1, 2) - L0 @ L0.swapaxes(1, 2)
    want = np.zeros((1 + K + P, 1 + K + P))
    want[1 + K:, 1 + K:] = 0.04 / P * np.eye(P)
    np.testing.assert_allclose(extra, np.broadcast_to(want, extra.shape), atol=1e-10)
    Q = fitted.basis.design()[:, 1 + K:]
    dev = Q @ (0.2 / np.sqrt(P) * np.random.default_rng(0).standard_normal((P, 4000)))
    assert dev.std() == pytest.approx(0.2, rel=0.05)  # Q's columns have unit variance over the archs
    assert mixture.novelty(m, 0.0) is None and mixture.novelty(m, (0.0, 0.2)).shape == (1 + K + P, P)


def test_free_novelty_follows_a_device_unlike_the_sources(fitted, nb201_hwnb, nb201_help):
    """HW-NAS-Bench's edge GPU is unlike the four sources: with 60 measurements the evidence moves weight to
    the free levels, and the ranking of the unmeasured architectures is no worse for it."""
    y = nb201_hwnb.latency.sel(device="hwnb_edgegpu").reindex(arch=nb201_help.arch).values
    pool = np.flatnonzero(np.isfinite(y))
    archs = np.random.default_rng(0).choice(pool, 60, replace=False)
    rest = np.setdiff1d(pool, archs)
    scores, weights = {}, {}
    for free in (0.0, 0.49):
        post = _with(fitted, [0.0, 0.3], free).adapt(archs, y[archs], rng=0).posterior
        scores[free] = srcc(post.mean(noise_free=True)[rest], y[rest])
        weights[free] = post.info["novelty_weights"]
    free_w = sum(v for k, v in weights[0.49].items() if "free" in k)
    assert free_w > 0.5, weights[0.49]
    assert scores[0.49] >= scores[0.0] - 0.01, scores
    assert scores[0.49] > 0.6


def test_op_free_sd_is_validated_and_old_models_keep_working(fitted_path):
    with pytest.raises(ConfigError, match="priors.op_free_sd"):
        LatencyModel({"priors": {"op_free_sd": [0.1, -0.2]}})
    with pytest.raises(ConfigError, match="priors.op_free_sd"):
        load_config({"priors": {"op_free_sd": True}})
    assert load_config("hier")["priors"]["op_free_sd"] == 0.49
    # a model saved before the key existed adapts without the free levels
    m = load_model(fitted_path)
    del m.config["priors"]["op_free_sd"]
    assert mixture.free_grid(m) == [0.0]
    assert m.novelty_weights([], [], rng=0) == {0.0: 1.0}
