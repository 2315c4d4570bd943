"""The batched preposterior engine against the per-device computations it replaces, and plan vs assess."""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.models.posterior import DevicePosterior
from latxfer.plan import (
    DEFAULT_WORLDS,
    _adapt,
    _design,
    _greedy,
    _k_grid,
    _light,
    _score,
    _tie_weighted_gram,
    extreme_candidates,
    parse_goal,
    preposterior,
    proxy_srcc_draws,
    select_batch,
    shape_gaussian,
)
from latxfer.plan.engine import _world_model
from latxfer.plan.worlds import extreme_masks, select_worlds
from latxfer.ranks import srcc


@pytest.fixture(scope="session")
def measured(fitted, truth):
    """12 real raspi4 measurements (a device that is not a source of the fixture model)."""
    ok = np.flatnonzero(np.isfinite(truth))
    pos = np.random.default_rng(5).choice(ok, 12, replace=False)
    return fitted.basis.archs[pos], truth[pos]


def _stats(model, archs, y):
    Zw, yw = model._weighted(model.basis.positions(archs), y)
    return (Zw.T @ Zw)[None], (Zw.T @ yw)[None], np.array([yw @ yw])


# ------------------------------------------------------------------------------- decision / assess
def test_decision_level_of_an_srcc_goal_is_the_confidence():
    assert parse_goal("srcc>=0.95").decision_level(0.9) == 0.9
    assert parse_goal("decide").decision_level(0.8) == 0.8
    assert parse_goal("decide>=0.95").decision_level(0.8) == 0.95


@pytest.mark.parametrize("goal", ["srcc>=0.97", "decide", "decide>=0.6"])
def test_plan_and_assess_give_the_same_decision_and_probability(fitted, truth, measured, goal):
    """`latxfer assess` adapts with the seed and calls posterior_srcc / SRCCPosterior.decision; the plan's "now"
    must be the same numbers on the same data and seed."""
    archs, y = measured
    proxy = fitted.source_latency_ms("1080ti_1")
    g = parse_goal(goal)
    for threshold in (0.5, 0.8, 0.9):
        post = fitted.adapt(archs, y, rng=0).posterior
        sp = fitted.posterior_srcc(proxy, post, threshold=threshold)
        res = preposterior(fitted, archs, y, goal=g, proxy_ms=proxy, threshold=threshold, confidence=0.9, batch=5,
                           max_k=5, n_worlds=3, n_eval=200, n_draws=20, rng=0)
        assert res.current["p_above"] == sp.p_above
        assert res.current["decision"] == sp.decision(g.decision_level(0.9))
        # the simulated worlds start from the same numbers at k = 0
        assert np.all(res.metrics["p_above"][:, 0] == sp.p_above)
        # the same computation of the SRCC draws (discrepancy widening included)
        np.testing.assert_allclose(proxy_srcc_draws(proxy, post.draws_ms, post.measured_ms), sp.draws, atol=1e-12)


def test_score_uses_the_posterior_srcc_widening(fitted, measured):
    archs, y = measured
    post = fitted.adapt(archs, y, rng=1).posterior
    proxy = fitted.source_latency_ms("pixel3")
    E = np.flatnonzero(~post.measured & np.isfinite(proxy))[:500]
    s = _score(post, None, E, proxy, 0.9)
    sub = post.subset(post.archs[E])
    sp = fitted.posterior_srcc(proxy[E], sub, threshold=0.9)
    assert s["p_above"] == pytest.approx(sp.p_above)


# --------------------------------------------------------------------------------- the posterior
def test_world_posterior_agrees_with_the_fast_path(fitted, measured):
    """Same data: the engine's moment-matched posterior and the fast path (`adapt`) give nearly the same
    ranking and level (the approximation the engine changes: one Gaussian per prior component)."""
    archs, y = measured
    prior, wd = _world_model(fitted)
    post = prior.posterior(*_stats(fitted, archs, y), len(y), np.random.default_rng(0), 200)
    mu = (post["mean_stheta"] @ wd.Z.T)[0]
    ref = fitted.adapt(archs, y, rng=0).posterior.mean(noise_free=True)
    un = ~np.isin(fitted.basis.archs, archs)
    agree = srcc(mu[un], ref[un])
    level = np.median(mu[un] / ref[un])
    assert agree > 0.98, agree
    assert 0.9 < level < 1.1, level
    # the draws' mean is the exact mean (Monte Carlo error only)
    draw_mean = (post["scale"][..., None] * post["theta"]).mean(axis=1)[0] @ wd.Z.T
    assert srcc(draw_mean[un], mu[un]) > 0.995
    # no measurement: the prior, whose components keep their prior weights
    p0 = prior.posterior(np.zeros((1,) + wd.CZ.shape), np.zeros((1, wd.Z.shape[1])), np.zeros(1), 0,
                         np.random.default_rng(0), 0)
    np.testing.assert_allclose(p0["comp_weights"][0], np.exp(prior.logw), rtol=1e-6)


# --------------------------------------------------------------------------------- selection
def test_batched_selection_is_select_batch(fitted, measured):
    """Given the same posterior, the batched pieces equal the per-device ones: shape Gaussian, tie-weighted
    Gram, extremes, greedy picks."""
    archs, y = measured
    prior, wd = _world_model(fitted)
    d = _design(fitted)
    p = prior.posterior(*_stats(fitted, archs, y), len(y), np.random.default_rng(2), 100)
    theta, scale, sigma = p["theta"][0], p["scale"][0], p["sigma"][0]
    fn = scale[:, None] * (theta @ wd.Z.T)
    rng = np.random.default_rng(0)
    draws = fn + (scale * sigma)[:, None] * wd.w * rng.standard_normal(fn.shape)
    measured_ms = np.full(len(fitted.basis.archs), np.nan)
    measured_ms[fitted.basis.positions(archs)] = y
    post = DevicePosterior("t", fitted.basis.archs, draws, measured_ms, fn)
    V_ref, s2_ref = shape_gaussian(post, d.Z, d.pinv)
    V, s2 = wd.shape(p["theta"], p["scale"], p["sigma"])
    np.testing.assert_allclose(V[0], V_ref, rtol=1e-6, atol=1e-10)
    assert s2[0] == pytest.approx(s2_ref, rel=0.05)  # expectation vs one realised noise draw
    mu = fn.mean(axis=0)
    G_ref = _tie_weighted_gram(post, d.Z, V_ref, d.G)
    # equal up to the architectures on a bin edge (np.arange edges vs floor((mu - lo) / h))
    np.testing.assert_allclose(wd.tie_gram(mu[None], V_ref[None])[0], G_ref, atol=1e-4)
    from latxfer.plan.selection import _candidates

    cand = _candidates(fitted, post, None, None)
    cpos = fitted.basis.positions(cand)
    ext_ref = extreme_candidates(fitted, post, cand, 0.05)
    avail = np.ones((1, len(cand)), bool)
    ext = (extreme_masks(d.leverage[cpos][None], avail, 0.0, 0.05)
           | extreme_masks(mu[cpos][None], avail, 0.025, 0.025))
    assert np.array_equal(ext[0], ext_ref)
    keep = cand[~ext_ref]
    picks_ref = _greedy(d.Z[fitted.basis.positions(keep)], V_ref, s2_ref, 5, "rank", G_ref)
    sel = select_worlds(d.Z[cpos], ~ext, V_ref[None], np.array([s2_ref]), G_ref[None], 5, "rank")
    assert np.array_equal(cand[sel[0]], keep[picks_ref])
    # and select_batch itself (which builds V, s2 and G from the same posterior)
    assert np.array_equal(select_batch(fitted, post, 5, candidates=cand), keep[picks_ref])


# ---------------------------------------------------------------------------- whole-plan agreement
def _reference_loop(model, archs, y0, n_worlds, ks, seed, n_draws=40, n_eval=300):
    """The per-device loop `preposterior` ran before the batched engine (full fast path per world and step)."""
    rng = np.random.default_rng(seed)
    post0 = _adapt(model, archs, y0, "t", rng).posterior
    cand = np.setdiff1d(np.asarray(model.basis.archs[model.basis.observed > 0]), archs)
    from latxfer.plan import default_candidates

    cand = np.setdiff1d(default_candidates(model), archs)
    un = np.flatnonzero(~post0.measured)
    E0 = np.sort(rng.choice(un, n_eval, replace=False))
    light = _light(model, n_draws)
    worlds = rng.choice(post0.n_samples, n_worlds, replace=False)
    out = np.full((n_worlds, len(ks)), np.nan)
    for w in range(n_worlds):
        truth = post0.draws_ms[worlds[w]]
        a_w, y_w, post = archs.copy(), y0.copy(), post0
        for i, k in enumerate(ks):
            if i:
                new = select_batch(light, post, int(k - ks[i - 1]), candidates=cand)
                a_w = np.concatenate([a_w, new])
                y_w = np.concatenate([y_w, truth[model.basis.positions(new)]])
            post = _adapt(light, a_w, y_w, "t", rng).posterior
            E = E0[~post.measured[E0]]
            out[w, i] = _score(post, truth, E, None, 0.9)["srcc"]
    return out


def test_batched_plan_agrees_with_the_per_device_loop(fitted, measured):
    archs, y = measured
    ks = _k_grid(5, 10)
    ref = _reference_loop(fitted, archs, y, 6, ks, seed=0)
    res = preposterior(fitted, archs, y, goal="srcc>=0.9", batch=5, max_k=10, n_worlds=24, n_eval=300, rng=0)
    new = res.metrics["srcc"]
    # the curves agree within the Monte Carlo error of 6 + 24 simulated devices (Fisher z)
    z_ref, z_new = np.arctanh(ref), np.arctanh(new)
    se = np.sqrt(z_ref.var(axis=0, ddof=1) / len(ref) + z_new.var(axis=0, ddof=1) / len(new))
    assert np.all(np.abs(z_ref.mean(axis=0) - z_new.mean(axis=0)) < 3 * se + 0.05), (ref.mean(0), new.mean(0))
    # both improve with measurements
    assert new.mean(axis=0)[-1] >= new.mean(axis=0)[0] - 0.01


def test_default_worlds_and_speed_knobs(fitted):
    assert DEFAULT_WORLDS >= 100
    res = preposterior(fitted, [], [], goal="srcc>=0.5", batch=5, max_k=5, n_eval=200, n_draws=20, rng=0)
    assert res.metrics["srcc"].shape == (DEFAULT_WORLDS, 2)
    assert res.info["n_worlds"] == DEFAULT_WORLDS


def test_batched_scores_are_the_rank_helpers():
    """The masked batched SRCCs of the engine equal latxfer.ranks / proxy_srcc_draws on each world's columns."""
    from latxfer.models.latency_model import PSRCC_DISCREPANCY
    from latxfer.plan.engine import _score_worlds
    from latxfer.ranks import srcc_rows

    rng = np.random.default_rng(0)
    W, S, A = 3, 7, 40
    mu, truths = rng.random((W, A)), rng.random((W, A))
    draws = mu[:, None, :] + 0.1 * rng.standard_normal((W, S, A))
    proxy = rng.random(A)
    measured = np.zeros((W, A), bool)
    measured[0, :3] = measured[2, 10:12] = True
    E0 = Ed = np.arange(A)
    out = {k: np.zeros((W, 1)) for k in ("srcc", "expected_srcc", "p_above", "width")}
    _score_worlds(out, 0, mu, truths, draws, measured, E0, Ed, proxy, 0.2, A)
    for j in range(W):
        u = ~measured[j]
        assert out["srcc"][j, 0] == pytest.approx(srcc(mu[j, u], truths[j, u]))
        assert out["expected_srcc"][j, 0] == pytest.approx(np.mean(srcc_rows(mu[j, u], draws[j][:, u])))
        r = proxy_srcc_draws(proxy[u], draws[j][:, u], discrepancy=PSRCC_DISCREPANCY, unmeasured_share=u.mean())
        assert out["p_above"][j, 0] == pytest.approx(np.mean(r >= 0.2))
        lo, hi = np.quantile(r, [0.05, 0.95])
        assert out["width"][j, 0] == pytest.approx(hi - lo, abs=1e-9)


def test_fast_rank_paths_equal_the_stable_ones():
    """The engine's fast paths give the numbers of the plain ones: ``ranks`` (SIMD argsort, stable re-sort of rows
    with ties or NaNs) = a stable argsort's ranks; masked columns ranked last (``_last``) = NaN-masked ranks;
    ``_avg_ranks`` = ``rankdata`` of the valid entries; ``extreme_masks`` of a shared vector = of its rows."""
    from scipy.stats import rankdata

    from latxfer.plan.engine import _avg_ranks, _last
    from latxfer.ranks import ranks

    def stable(M):
        r = np.empty(M.shape)
        np.put_along_axis(r, np.argsort(M, axis=-1, kind="stable"),
                          np.broadcast_to(np.arange(M.shape[-1], dtype=float), M.shape), axis=-1)
        return r

    rng = np.random.default_rng(0)
    cont = rng.random((20, 60))
    tied = np.round(rng.random((20, 60)) * 8)
    nans = np.where(rng.random((20, 60)) < 0.3, np.nan, cont)
    for M in (cont, tied, nans, tied[:, :1], np.array([np.nan, 1.0, np.nan]), np.array([[np.inf, np.inf, 0.0]])):
        assert np.array_equal(ranks(M), stable(M))
    valid = rng.random((20, 60)) > 0.2
    for M in (cont, tied):
        assert np.array_equal(ranks(_last(M, valid))[valid], stable(np.where(valid, M, np.nan))[valid])
    v = tied[0]
    R = _avg_ranks(v, valid)
    for j in range(len(valid)):
        np.testing.assert_array_equal(R[j, valid[j]], rankdata(v[valid[j]]) - 1)
        assert np.all(R[j, ~valid[j]] == 0)
    for low, high in ((0.0, 0.05), (0.025, 0.025), (0.3, 0.5)):
        for vals in (cont[0], tied[0]):
            assert np.array_equal(extreme_masks(vals, valid, low, high),
                                  extreme_masks(np.broadcast_to(vals, valid.shape).copy(), valid, low, high))


def test_blas_threads_is_serial_for_a_small_design(fitted):
    from threadpoolctl import threadpool_info

    from latxfer.plan import blas_threads

    with blas_threads(fitted):
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
