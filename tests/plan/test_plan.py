"""Measurement planning: goal grammar, active selection, preposterior simulation, recommendation, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latxfer.errors import ConfigError, LeakageError, UnknownArchitectureError
from latxfer.plan import (
    GOAL_GRAMMAR,
    Goal,
    PlanResult,
    _tie_weighted_gram,
    parse_goal,
    preposterior,
    recommend,
    select_batch,
    shape_gaussian,
    track_record,
    track_verdict,
)

SMALL = {"batch": 5, "max_k": 10, "n_worlds": 4, "n_eval": 300, "n_draws": 40}


@pytest.fixture(scope="session")
def plan_srcc(fitted):
    return preposterior(fitted, [], [], goal="srcc>=0.9", proxy_ms=fitted.source_latency_ms("1080ti_1"),
                        rng=0, **SMALL)


# --------------------------------------------------------------------------------------- goals
@pytest.mark.parametrize(("text", "kind", "value"), [
    ("srcc>=0.95", "srcc", 0.95), (" SRCC >= .9 ", "srcc", 0.9), ("decide", "decide", None),
    ("decide>=0.95", "decide", 0.95),
])
def test_parse_goal(text, kind, value):
    g = parse_goal(text)
    assert (g.kind, g.value) == (kind, value)
    assert parse_goal(g) is g


@pytest.mark.parametrize("text", ["srcc>0.9", "srcc>=1.2", "srcc>=1", "decide>=0.3", "ndcg>=0.9", "", "srcc"])
def test_bad_goal_shows_grammar(text):
    with pytest.raises(ConfigError, match="goal grammar"):
        parse_goal(text)


def test_goal_decision_level():
    assert Goal("decide", None, "decide").decision_level(0.8) == 0.8
    assert parse_goal("decide>=0.95").decision_level(0.8) == 0.95
    assert str(parse_goal("srcc >= 0.95")) == "srcc>=0.95"
    assert "srcc>=T" in GOAL_GRAMMAR


# ---------------------------------------------------------------------------------- selection
def test_shape_gaussian_is_psd_and_scale_free(fitted):
    post = fitted.adapt([], [], rng=0).posterior
    Z = fitted.basis.design()[:, 1:]
    V, s2 = shape_gaussian(post, Z)
    assert V.shape == (Z.shape[1], Z.shape[1]) and s2 > 0
    assert np.linalg.eigvalsh(V).min() > -1e-10
    post.mean_fn_ms = post.mean_fn_ms * 7.0 + 3.0  # scale and shift do not change the shape
    post.draws_ms = post.draws_ms * 7.0 + 3.0
    V2, s22 = shape_gaussian(post, Z)
    np.testing.assert_allclose(V2, V, rtol=1e-8, atol=1e-12)
    assert s22 == pytest.approx(s2)


@pytest.mark.parametrize("criterion", ["ivar", "rank", "maxvar"])
def test_active_batch_is_distinct_unmeasured_and_informative(fitted, truth, criterion):
    a0 = np.array([0, 1, 2])
    post = fitted.adapt(a0, truth[fitted.basis.positions(a0)], rng=0).posterior
    batch = select_batch(fitted, post, 6, criterion=criterion)
    assert len(batch) == 6 and len(np.unique(batch)) == 6
    assert not np.isin(batch, a0).any()
    # the greedy pick reduces the shape variance more than a random batch does (in the model's own terms)
    Z = fitted.basis.design()[:, 1:]
    V, s2 = shape_gaussian(post, Z)
    G0 = Z.T @ Z / len(Z)
    G = _tie_weighted_gram(post, Z, V, G0) if criterion == "rank" else G0

    def after(arch):
        Zb = Z[fitted.basis.positions(arch)]
        K = V @ Zb.T @ np.linalg.inv(Zb @ V @ Zb.T + s2 * np.eye(len(arch)))
        return np.trace((V - K @ Zb @ V) @ G)

    rand = [after(np.random.default_rng(s).choice(fitted.basis.archs, 6, replace=False)) for s in range(5)]
    assert after(batch) < np.mean(rand)


def test_tie_weighting_favours_crowded_latencies(fitted):
    """An architecture whose predicted latency has many near-ties weighs more than one in the sparse tail."""
    post = fitted.adapt([], [], rng=0).posterior
    Z = fitted.basis.design()[:, 1:]
    V, _ = shape_gaussian(post, Z)
    mu = post.mean_fn_ms.mean(axis=0)
    G = _tie_weighted_gram(post, Z, V, Z.T @ Z / len(Z))
    np.testing.assert_allclose(G, G.T)
    assert np.linalg.eigvalsh(G).min() > -1e-10
    # recover the weights from a diagonal design: one indicator column per architecture
    order = np.argsort(mu)
    crowded, tail = order[len(mu) // 2], order[-1]  # the median architecture vs the slowest one
    sub = np.array([crowded, tail])
    E = np.zeros((len(mu), 2))
    E[sub, [0, 1]] = 1.0
    w = np.diag(_tie_weighted_gram(post, E, np.zeros((2, 2)), E.T @ E / len(E)))
    assert w[0] > w[1] > 0


def test_select_batch_candidates_random_and_errors(fitted):
    post = fitted.adapt([5, 6], [10.0, 11.0], rng=0).posterior
    cand = np.arange(10, 40)
    b = select_batch(fitted, post, 4, candidates=cand)
    assert np.isin(b, cand).all()
    r1 = select_batch(fitted, post, 4, policy="random", rng=1)
    r2 = select_batch(fitted, post, 4, policy="random", rng=1)
    np.testing.assert_array_equal(r1, r2)
    assert not np.isin(r1, [5, 6]).any()
    with pytest.raises(ConfigError, match=r"only 3 unmeasured candidate\(s\) left"):
        select_batch(fitted, post, 4, candidates=[5, 6, 7, 8, 9])
    with pytest.raises(ConfigError, match="unknown selection policy"):
        select_batch(fitted, post, 2, policy="greedy")
    with pytest.raises(ConfigError, match=r"unknown active criterion 'dopt'.*'rank'"):
        select_batch(fitted, post, 2, criterion="dopt")
    with pytest.raises(ConfigError, match="batch size must be >= 1"):
        select_batch(fitted, post, 0)
    with pytest.raises(UnknownArchitectureError):
        select_batch(fitted, post, 2, candidates=[10**7])


def test_trim_leaves_the_design_extremes_out_of_active_selection(fitted):
    """``trim`` drops the highest-leverage candidates and the fastest / slowest predicted ones; the mask has
    the promised size, the batch avoids it, and too few candidates left means nothing is dropped."""
    from latxfer.plan import extreme_candidates

    post = fitted.adapt([5, 6], [10.0, 11.0], rng=0).posterior
    cand = np.setdiff1d(np.arange(2000), [5, 6])
    ext = extreme_candidates(fitted, post, cand, 0.1)
    assert 0.1 * len(cand) <= ext.sum() <= 0.2 * len(cand) + 1
    mu = post.mean_fn_ms.mean(axis=0)[fitted.basis.positions(cand)]
    assert ext[np.argmin(mu)] and ext[np.argmax(mu)]
    assert not extreme_candidates(fitted, post, cand, 0.0).any()
    b = select_batch(fitted, post, 5, criterion="maxvar", candidates=cand, trim=0.1)
    assert not np.isin(b, cand[ext]).any()
    # maxvar without trimming goes for the extremes of the design
    assert np.isin(select_batch(fitted, post, 5, criterion="maxvar", candidates=cand, trim=0.0), cand[ext]).any()
    # fewer than n candidates outside the extremes: keep them all rather than fail
    small = cand[:12]
    assert len(select_batch(fitted, post, 11, candidates=small, trim=0.5)) == 11
    with pytest.raises(ConfigError, match=r"trim must be in \[0, 1\)"):
        select_batch(fitted, post, 2, trim=1.0)
    with pytest.raises(ConfigError, match=r"trim must be in"):
        select_batch(fitted, post, 2, policy="random", trim=-0.1)


def test_degenerate_cells_are_not_proposed_by_default(fitted):
    """NB201's disconnected cells (output cut off from the input) are never deployed: planning skips them
    unless the user lists them as candidates."""
    import latxfer
    from latxfer.plan import default_candidates

    space = latxfer.load_space("nb201")
    disc = fitted.basis.archs[space.is_disconnected(fitted.basis.archs)]
    assert disc.size == 341
    default = default_candidates(fitted)
    assert default.size == fitted.basis.archs.size - 341 and not np.isin(disc, default).any()
    post = fitted.adapt([5, 6], [10.0, 11.0], rng=0).posterior
    for policy, criterion in (("active", "maxvar"), ("active", "rank"), ("random", "rank")):
        b = select_batch(fitted, post, 20, policy=policy, criterion=criterion, rng=0)
        assert not np.isin(b, disc).any()
    # listed explicitly, they may be picked (maxvar goes for the extremes of the design)
    b = select_batch(fitted, post, 5, criterion="maxvar", candidates=np.r_[disc, default[:50]])
    assert np.isin(b, np.r_[disc, default[:50]]).all()
    # a space without a notion of degenerate architectures excludes nothing
    assert not latxfer.spaces.get_space("fbnet").degenerate(np.arange(7)).any()


# ------------------------------------------------------------------------------- preposterior
def test_preposterior_curve_and_recommendation(plan_srcc):
    r = plan_srcc
    np.testing.assert_array_equal(r.ks, [0, 5, 10])
    assert set(r.metrics) >= {"srcc", "expected_srcc", "p_above", "width", "true_proxy_srcc"}
    assert r.metrics["srcc"].shape == (4, 3)
    med, lo, hi = r.band("srcc")
    assert np.all(lo <= med) and np.all(med <= hi) and np.all(hi <= 1.0)
    # measuring helps: the median realised SRCC grows from the prior (k = 0) to k = 10
    assert med[-1] > med[0]
    assert r.recommended_k == recommend(r)
    if r.recommended_k is not None:
        assert r.goal_share()[list(r.ks).index(r.recommended_k)] >= r.confidence
    assert len(r.next_archs) == 5 and len(np.unique(r.next_archs)) == 5
    np.testing.assert_array_equal(r.next_archs, r.plan_archs[:5])
    df = r.to_frame()
    assert list(df["k"]) == [0, 5, 10] and {"srcc_median", "p_above_median", "goal_share"} <= set(df)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["goal"] == "srcc>=0.9" and len(d["curve"]) == 3 and d["next_archs"] == r.next_archs.tolist()


def test_srcc_band_is_widened_on_the_fisher_z_scale(plan_srcc):
    from latxfer.plan import SRCC_BAND_INFLATION

    r = plan_srcc
    med, lo, hi = r.band("srcc")
    med1, lo1, hi1 = r.band("srcc", inflation=1.0)
    np.testing.assert_array_equal(med, med1)
    factor = SRCC_BAND_INFLATION[r.policy]
    assert factor > 1 and SRCC_BAND_INFLATION["active"] >= SRCC_BAND_INFLATION["random"] > 1
    # the half-width on the Fisher-z scale is the factor times the simulated worlds' own (where no clipping
    # to the median or to the range of too few worlds happened)
    z = lambda x: np.arctanh(np.clip(x, -1 + 1e-6, 1 - 1e-6))  # noqa: E731
    ok = (lo < med) & (hi > med) & (lo1 < med) & (hi1 > med) & (np.isfinite(r.metrics["srcc"]).sum(0) >= 3)
    assert ok.any()
    np.testing.assert_allclose((z(hi) - z(lo))[ok], factor * (z(hi1) - z(lo1))[ok], rtol=1e-6)
    # other metrics are not widened
    for a, b in zip(r.band("p_above"), r.band("p_above", inflation=1.0), strict=True):
        np.testing.assert_array_equal(a, b)


def test_recommend_other_goals_without_resimulating(plan_srcc):
    assert recommend(plan_srcc, "srcc>=0.01") == 0
    assert recommend(plan_srcc, "srcc>=0.999") is None
    # a decision needs at least one target measurement: never k = 0 from the population prior
    assert recommend(plan_srcc, "decide>=0.6") in (None, 5, 10)
    r = PlanResult(**{**plan_srcc.__dict__, "goal": parse_goal("decide>=0.6")})
    assert r.goal_share()[0] == 0.0
    # ... even where every simulated world is confident at k = 0
    sure = {**plan_srcc.metrics, "p_above": np.ones_like(plan_srcc.metrics["p_above"])}
    r = PlanResult(**{**plan_srcc.__dict__, "goal": parse_goal("decide"), "metrics": sure})
    assert recommend(r) == 5 and list(r.goal_share()) == [0.0, 1.0, 1.0]


def test_unreachable_goal_says_what_is_expected(plan_srcc):
    r = PlanResult(**{**plan_srcc.__dict__, "goal": parse_goal("srcc>=0.999")})
    r.recommended_k = recommend(r)
    assert not r.reachable
    msg = r.message
    assert "NOT reachable within --max 10" in msg and "expected SRCC of the adapted ranking at k=10" in msg


def test_preposterior_from_measurements_random_policy(fitted, truth):
    a0 = np.arange(100, 110)
    r = preposterior(fitted, a0, truth[fitted.basis.positions(a0)], goal="srcc>=0.5", policy="random",
                     rng=1, **{**SMALL, "max_k": 7})
    np.testing.assert_array_equal(r.ks, [0, 5, 7])  # the last step is shortened to --max
    assert r.n_measured == 10 and "p_above" not in r.metrics
    assert not np.isin(r.next_archs, a0).any()
    assert r.current["expected_srcc"] > 0


def test_preposterior_bad_input(fitted):
    with pytest.raises(ConfigError, match="needs a proxy"):
        preposterior(fitted, goal="decide", **SMALL)
    with pytest.raises(ConfigError, match="only 2 unmeasured candidate"):
        preposterior(fitted, goal="srcc>=0.9", candidates=[1, 2], **SMALL)
    with pytest.raises(ConfigError, match="confidence must be in"):
        preposterior(fitted, confidence=1.5, **SMALL)
    with pytest.raises(ConfigError, match="cannot parse the goal"):
        preposterior(fitted, goal="fast please", **SMALL)
    with pytest.raises(ConfigError, match=r"unknown active criterion 'dopt'.*'ivar', 'rank', 'maxvar'"):
        preposterior(fitted, criterion="dopt", **SMALL)


# ----------------------------------------------------------------------------------- CLI, plot
@pytest.fixture(scope="session")
def model_path(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("plan") / "m.zarr")


def _cli(*argv):
    from latxfer.cli import main

    return main(list(argv))


def test_cli_plan_json_csv_and_plot(model_path, truth, tmp_path, capsys):
    import pandas as pd

    target = tmp_path / "t.csv"
    a = np.arange(200, 205)
    pd.DataFrame({"device": "mydev", "arch_index": a, "latency_ms": truth[a]}).to_csv(target, index=False)
    out, png = tmp_path / "next.csv", tmp_path / "plan.png"
    rc = _cli("plan", "--model", str(model_path), "--target-csv", str(target), "--goal", "decide>=0.6",
              "--proxy", "1080ti_1", "--batch", "3", "--max", "6", "--worlds", "3", "--json",
              "--out", str(out), "--plot", str(png))
    d = json.loads(capsys.readouterr().out)
    assert rc in (0, 1) and rc == (0 if d["reachable"] else 1)
    assert d["n_measured"] == 5 and d["device"] == "mydev" and len(d["next_archs"]) == 3
    # nothing is realised without the truth: the posterior's own expectation is reported as "current"
    assert d["realised"] == [] and 0.0 <= d["current"]["expected_srcc"] <= 1.0
    nxt = pd.read_csv(out)
    assert list(nxt.columns) == ["device", "arch_index", "latency_ms"] and nxt["latency_ms"].isna().all()
    assert nxt["arch_index"].tolist() == d["next_archs"] and png.stat().st_size > 1000
    # the track record replays the 5 measurements in rounds of 3 (the batch): 3 from the prior, then 2
    assert [r["n"] for r in d["track_record"]] == [3, 2] and d["history"][-1][0] == 5
    assert isinstance(d["track_record"][0]["inside"], int) and d["track_record"][0]["srcc_pred"] is not None
    assert d["history"][-1][1] == pytest.approx(d["current"]["expected_srcc"])


def test_track_record_predicts_each_round_from_the_ones_before(fitted, truth):
    a = np.array([900, 40, 7000, 311, 12000, 5, 2500, 8800, 60, 14000, 77])
    tr = track_record(fitted, a, truth[a], batch=4, rng=0)
    assert tr["round"].tolist() == [1, 2, 3] and tr["n_before"].tolist() == [0, 4, 8]
    assert tr["n"].tolist() == [4, 4, 3] and tr.attrs["prob"] == 0.9
    assert ((tr["inside"] + tr["below"] + tr["above"]) == tr["n"]).all()
    assert tr["expected_srcc_after"].between(-1, 1).all() and tr["srcc_pred"].notna().all()
    # the first round is predicted from the prior: the same as an adaptation to nothing
    prior = fitted.adapt([], [], rng=1).posterior
    lo, hi = prior.interval(0.9)
    p = prior.positions(a[:4])
    inside_prior = int(((truth[a[:4]] >= lo[p]) & (truth[a[:4]] <= hi[p])).sum())
    assert abs(int(tr["inside"].iloc[0]) - inside_prior) <= 1  # other draws of the same prior
    # order matters (rounds are what was measured before), and the input is not modified
    b = a.copy()
    tr2 = track_record(fitted, a[::-1], truth[a[::-1]], batch=4, rng=0)
    assert (a == b).all() and tr2["n_before"].tolist() == [0, 4, 8]
    with pytest.raises(ConfigError, match="repeated"):
        track_record(fitted, [1, 1], [2.0, 3.0])
    with pytest.raises(ConfigError, match="2 architectures but 1"):
        track_record(fitted, [1, 2], [2.0])
    with pytest.raises(ConfigError, match="batch"):
        track_record(fitted, [1, 2], [2.0, 3.0], batch=0)


def test_track_verdict_warns_only_when_coverage_is_clearly_short():
    import pandas as pd

    def rec(inside_later):
        df = pd.DataFrame({"n_before": [0, 5, 10], "n": [5, 5, 5], "inside": [0, *inside_later]})
        df.attrs["prob"] = 0.9
        return df

    assert track_verdict(rec([5, 4])) is None  # 9 of 10: consistent with 90%
    assert "6 of 10" in track_verdict(rec([3, 3]))  # P(Binom(10, 0.9) <= 6) = 0.013
    assert track_verdict(rec([3, 3]).iloc[:2], min_n=10) is None  # too few to say


def test_cli_plan_text_and_bad_input(model_path, tmp_path, capsys):
    import pandas as pd

    rc = _cli("plan", "--model", str(model_path), "--goal", "srcc>=0.3", "--batch", "5", "--max", "5",
              "--worlds", "2")
    out = capsys.readouterr().out
    assert rc == 0 and "device,arch_index,latency_ms" in out and "no further measurement needed" in out
    assert _cli("plan", "--model", str(model_path), "--goal", "srcc>1") == 2
    assert "goal grammar" in capsys.readouterr().err
    assert _cli("plan", "--model", str(model_path), "--goal", "decide") == 2
    assert "needs --proxy" in capsys.readouterr().err
    assert _cli("plan", "--model", str(model_path), "--goal", "srcc>=0.3", "--trim", "1.5") == 2
    assert "trim must be in [0, 1), got 1.5" in capsys.readouterr().err
    src = tmp_path / "src.csv"
    pd.DataFrame({"device": "pixel3", "arch_index": [1, 2, 3], "latency_ms": [5.0, 6, 7]}).to_csv(src, index=False)
    assert _cli("plan", "--model", str(model_path), "--goal", "srcc>=0.9", "--target-csv", str(src)) == 2
    assert "source device" in capsys.readouterr().err
    other = tmp_path / "fbnet.csv"
    pd.DataFrame({"device": "d", "arch_index": [1, 2], "latency_ms": [5.0, 6], "space": "fbnet"}).to_csv(
        other, index=False)
    assert _cli("plan", "--model", str(model_path), "--goal", "srcc>=0.9", "--target-csv", str(other)) == 2
    assert "fbnet" in capsys.readouterr().err


def test_leakage_error_class():
    assert issubclass(LeakageError, ValueError)


def test_band_is_a_prediction_band_for_a_further_world():
    """The 90% band of 12 worlds holds about 90% of further worlds; the 5-95% sample quantiles hold ~78%."""
    from latxfer.plan import PlanResult

    rng = np.random.default_rng(0)
    cov_band, cov_q = [], []
    for _ in range(300):
        z = rng.normal([1.2, 2.0, 2.6], [0.4, 0.3, 0.2], size=(12 + 200, 3))
        M = np.tanh(z)
        med, lo, hi = PlanResult._band_of(M[:12], "srcc", 0.9)
        assert np.all(lo <= med) and np.all(med <= hi) and np.all(hi < 1)
        cov_band.append(((M[12:] >= lo) & (M[12:] <= hi)).mean())
        qlo, qhi = np.quantile(M[:12], [0.05, 0.95], axis=0)
        cov_q.append(((M[12:] >= qlo) & (M[12:] <= qhi)).mean())
    assert 0.87 <= np.mean(cov_band) <= 0.93
    assert np.mean(cov_q) < 0.82
    # probabilities stay in [0, 1]; identical worlds give a point; fewer than 3 worlds give their range
    P = np.array([[0.0, 0.2, 1.0], [0.1, 0.2, 1.0], [0.05, 0.2, 1.0], [0.3, 0.2, 1.0]])
    med, lo, hi = PlanResult._band_of(P, "p_above", 0.9)
    assert np.all(lo >= 0) and np.all(hi <= 1) and lo[1] == hi[1] == 0.2
    med, lo, hi = PlanResult._band_of(np.array([[0.5], [0.7]]), "srcc", 0.9)
    assert (lo[0], hi[0]) == (0.5, 0.7)
