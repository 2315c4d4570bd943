"""The hierarchical latency model: graphs, configuration, fast adaptation, posterior SRCC, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from latxfer.errors import (
    ConfigError,
    ConvergenceWarning,
    InsufficientDataError,
    InvalidLatencyError,
    LatxferWarning,
    ModelFileError,
    ModelVersionError,
    OutputPathError,
    UnknownArchitectureError,
)
from latxfer.models import (
    PSRCC_DISCREPANCY,
    DevicePosterior,
    LatencyModel,
    load_config,
    load_model,
    mixture,
    widen_srcc,
)
from latxfer.models.conjugate import adapt_draws
from latxfer.models.fitdata import space_and_encoding
from latxfer.models.graphs import build_graph
from latxfer.models.sampling import check_convergence

from .conftest import SOURCES, TINY


def _graph_inputs(variant, K=2, P=3, D=3, n=60, seed=0):
    rng = np.random.default_rng(seed)
    return dict(variant=variant, devices=[f"d{i}" for i in range(D)], dev_idx=np.repeat(np.arange(D), n // D),
                F_rows=rng.standard_normal((n, K)), Q_rows=rng.standard_normal((n, P)),
                y_scaled=rng.standard_normal(n) + 3, log_scales=rng.standard_normal(D),
                priors=load_config()["priors"])


@pytest.mark.parametrize(("variant", "K"), [("hierarchical", 0), ("hierarchical", 1), ("hierarchical", 3),
                                             ("pooled", 2), ("unpooled", 2)])
def test_graph_builds_with_finite_gradient(variant, K):
    model = build_graph(**_graph_inputs(variant, K=K))
    ip = model.initial_point()
    grad = model.compile_dlogp()(ip)
    assert np.all(np.isfinite(grad))
    assert np.isfinite(model.compile_logp()(ip))


@pytest.mark.parametrize(("variant", "near"), [("hierarchical", None), ("hierarchical", (1, 0.3)),
                                               ("hierarchical", (1, 0.3, 0.5 * np.eye(6))),
                                               ("pooled", None), ("unpooled", None)])
def test_graph_with_target_has_target_vars(variant, near):
    kw = _graph_inputs(variant)
    rng = np.random.default_rng(1)
    model = build_graph(**kw, target={"F": rng.standard_normal((5, 2)), "Q": rng.standard_normal((5, 3)),
                                      "y": np.abs(rng.standard_normal(5)) + 1, "near": near})
    names = {v.name for v in model.free_RVs}
    assert {"target_log_scale", "target_intercept", "target_log_sigma"} <= names
    if variant != "pooled":
        assert {"target_loading", "target_op_cost"} <= names
    assert np.all(np.isfinite(model.compile_dlogp()(model.initial_point())))


def test_noise_floor_keeps_exact_lookup_table_devices_proper(fbnet_help):
    """HELP's FBNet pixel3 is an exact sum of layer costs: zero residual on the op encoding.

    Without a floor the likelihood grows without bound as log sigma -> -inf (a funnel NUTS cannot leave);
    with it the log density is flat there, and every noise sd the library uses respects the floor.
    """
    from latxfer.models.basis import build_basis, scale_sources

    m = LatencyModel("hier-fast")
    sub = fbnet_help.latx.select(["pixel3", "1080ti_1"])
    _, archs, X, _ = space_and_encoding(sub, None, m.config["model"]["coding"])
    Y = sub.latx.latency_matrix()
    Ys = Y / scale_sources(Y)[:, None]
    basis = build_basis(Ys, X, archs, 1)
    use = np.arange(0, len(archs), 25)
    Z = basis.design(use)
    coef = np.linalg.lstsq(Z, Ys[0, use], rcond=None)[0]
    assert np.abs(Ys[0, use] - Z @ coef).max() < 1e-6  # the real data really is an exact sum

    def logp_at(log_sigma, floor):
        priors = {**load_config()["priors"], "sigma_floor": floor}
        g = build_graph("hierarchical", devices=["pixel3", "1080ti_1"], dev_idx=np.repeat([0, 1], len(use)),
                        F_rows=np.tile(basis.F[use], (2, 1)), Q_rows=np.tile(basis.Q[use], (2, 1)),
                        y_scaled=Ys[:, use].ravel(), log_scales=np.log(scale_sources(Y)), priors=priors)
        ip = g.initial_point()
        ip["intercept"] = np.array([coef[0], 0.0])
        ip["loading"] = np.array([coef[1:2], [0.0]])
        ip["op_cost"] = np.stack([coef[2:], np.zeros(len(coef) - 2)])
        ip["log_sigma"] = np.array([log_sigma, -1.0])
        ip["log_sigma_mu"] = np.array(log_sigma / 2)
        return float(g.compile_logp(vars=[g["y_scaled"]])(ip))

    assert logp_at(-25.0, 0.0) > logp_at(-15.0, 0.0) + 1000  # unbounded without the floor
    assert logp_at(-25.0, 1e-3) == pytest.approx(logp_at(-15.0, 1e-3), rel=1e-9)
    assert np.all(m._noise_sd(np.array([-50.0, -7.0])) >= 1e-3)


def test_config_loading_and_errors():
    cfg = load_config("hier")
    assert cfg["model"]["variant"] == "hierarchical" and cfg["sampler"]["name"] == "nutpie"
    assert load_config("pooled")["model"]["variant"] == "pooled"
    with pytest.raises(ConfigError, match="known configurations: .*hier"):
        load_config("nope")
    with pytest.raises(ConfigError, match="unknown configuration key 'model.n_factor'"):
        load_config({"model": {"n_factor": 3}})
    with pytest.raises(ConfigError, match="one-hot plus an intercept"):
        load_config({"model": {"coding": "onehot"}})
    with pytest.raises(ConfigError, match="blackjax"):
        load_config({"sampler": {"name": "blackjax"}})


def test_conjugate_update_matches_closed_form():
    """With scale and noise pinned, the fast path is Bayesian linear regression."""
    rng = np.random.default_rng(0)
    n, M, S = 12, 4, 4000
    Z = np.c_[np.ones(n), rng.standard_normal((n, M - 1))]
    m0, L0 = np.array([2.0, 0.5, -0.3, 0.1]), np.diag([1.0, 0.7, 0.5, 0.4])
    true = np.array([2.5, 0.9, -0.1, 0.3])
    s_true, sig = 4.0, 0.2
    y = s_true * (Z @ true + sig * rng.standard_normal(n))
    out = adapt_draws(Z, y, np.tile(m0, (S, 1)), np.tile(L0, (S, 1, 1)),
                      np.full(S, np.log(s_true)), np.full(S, 0.002), np.full(S, np.log(sig)), np.full(S, 1e-6),
                      rng, grid_scale=48, grid_noise=5)
    V0 = L0 @ L0.T
    prec = np.linalg.inv(V0) + Z.T @ Z / sig**2
    cov = np.linalg.inv(prec)
    mean = cov @ (np.linalg.solve(V0, m0) + Z.T @ (y / s_true) / sig**2)
    tol = 4 * np.sqrt(np.diag(cov) / S) + 0.01 * np.abs(mean)  # scale pinned to 0.2%
    assert np.all(np.abs(out["theta"].mean(0) - mean) < tol), (out["theta"].mean(0), mean)
    np.testing.assert_allclose(out["theta"].std(0), np.sqrt(np.diag(cov)), rtol=0.1)
    np.testing.assert_allclose(out["scale"], s_true, rtol=0.01)


def test_noise_scale_recovers_the_power_of_heteroscedastic_sources():
    """Residual sd ~ level ** 0.8 on every source: 'auto' finds the power, the curve has geometric mean 1."""
    from latxfer.models.basis import build_basis, noise_scale

    rng = np.random.default_rng(0)
    A, D = 3000, 5
    X = rng.integers(0, 2, (A, 6)).astype(float)
    level = np.exp(X @ rng.uniform(0.1, 0.4, 6))  # positive, varies over architectures
    load = rng.uniform(0.5, 1.5, D)
    Ys = load[:, None] * level + 0.05 * level**0.8 * rng.standard_normal((D, A))
    Ys[1, ::3] = np.nan  # a source that missed some architectures
    basis = build_basis(Ys, X, np.arange(A), 2)
    w, power, per = noise_scale(Ys, basis, "auto")
    assert abs(power - 0.8) < 0.15 and len(per) == D
    assert abs(np.mean(np.log(w))) < 1e-9 and np.corrcoef(np.log(w), np.log(level))[0, 1] > 0.95
    w1, p1, per1 = noise_scale(Ys, basis, 1.0)
    assert p1 == 1.0 and per1 == {} and np.ptp(np.log(w1)) > np.ptp(np.log(w))
    assert noise_scale(Ys, basis, 0.0)[0] is None
    # too few measured architectures per source for a slope: said so, one noise sd per device
    sparse = np.where(rng.random(Ys.shape) < 0.01, Ys, np.nan)
    with pytest.warns(LatxferWarning, match="noise_power = 'auto'"):
        assert noise_scale(sparse, basis, "auto")[:2] == (None, 0.0)


def test_predictive_noise_follows_the_architecture_noise_curve(fitted, nb201_help):
    """The shipped heteroscedastic likelihood: predictive noise sd per architecture is sigma x basis.noise."""
    assert fitted.basis.noise is not None and 0 < fitted.fit_info["noise_power"] < 2
    assert set(fitted.fit_info["noise_power_per_source"]) == set(SOURCES)
    y = nb201_help.latency.sel(device="gold_6226").values
    a = np.arange(0, 15625, 1500)
    post = fitted.adapt(a, y[a], rng=2).posterior
    noise_sd = (post.draws_ms - post.mean_fn_ms).std(axis=0)
    assert np.corrcoef(np.log(noise_sd), np.log(fitted.basis.noise))[0, 1] > 0.8
    with pytest.raises(ConfigError, match="noise_power"):
        load_config({"model": {"noise_power": "sometimes"}})


def test_fit_produces_population_and_diagnostics(fitted):
    pop = fitted.population
    assert {"loading_mu", "loading_chol", "op_cost_mu", "op_cost_tau", "log_scale_mu"} <= set(pop)
    assert pop["loading_mu"].shape == (200, 2)
    assert fitted.basis.F.shape == (15625, 2) and fitted.basis.Q.shape[0] == 15625
    assert fitted.diagnostics["checked"] and "max_rhat" in fitted.diagnostics
    assert fitted.source_devices == SOURCES


def test_adapt_fast_shapes_and_quality(fitted, nb201_help):
    y = nb201_help.latency.sel(device="raspi4").values
    rng = np.random.default_rng(0)
    archs = rng.choice(15625, 10, replace=False)
    ad = fitted.adapt(archs, y[archs], device="raspi4", rng=1)
    post = ad.posterior
    assert isinstance(post, DevicePosterior) and post.draws_ms.shape == (100, 15625)
    assert post.n_measured == 10 and post.label == "posterior"
    un = np.setdiff1d(np.arange(15625), archs)
    pred = ad.predict(un)
    from scipy.stats import spearmanr

    assert spearmanr(pred.mean_ms, y[un])[0] > 0.8  # 4 sources, tiny fit: still a real ranking
    cover = np.mean((y[un] >= pred.lower_ms) & (y[un] <= pred.upper_ms))
    assert 0.5 < cover <= 1.0
    s = post.summary()
    assert set(s.data_vars) >= {"mean_ms", "sd_ms", "lower_ms", "upper_ms", "measured"}
    # same seed, same draws
    again = fitted.adapt(archs, y[archs], device="raspi4", rng=1).posterior
    np.testing.assert_array_equal(again.draws_ms, post.draws_ms)


def test_adapt_with_more_measurements_than_coefficients(fitted, nb201_help):
    """n far above the number of device coefficients: the update stays finite and sharpens."""
    y = nb201_help.latency.sel(device="eyeriss").values
    archs = np.random.default_rng(4).choice(15625, 120, replace=False)
    post = fitted.adapt(archs, y[archs], rng=2).posterior
    assert np.all(np.isfinite(post.draws_ms))
    few = fitted.adapt(archs[:10], y[archs[:10]], rng=2).posterior
    assert post.draws_ms.std(axis=0).mean() < few.draws_ms.std(axis=0).mean()


def _with_novelty(fitted, grid):
    """A view of the session model with another novelty grid (the fixture itself stays untouched)."""
    import copy

    m = copy.copy(fitted)
    m.config = copy.deepcopy(fitted.config)
    m.config["priors"]["op_count_sd"] = grid
    return m


def test_source_mixture_finds_the_source_a_target_resembles(fitted, nb201_help):
    """A target measured like a source: the evidence puts the weight on that source's component."""
    import copy

    m = copy.copy(fitted)
    m.config = copy.deepcopy(fitted.config)
    m.config["priors"].update(source_shrink=0.1, source_weight=0.5)
    # the source's fitted latency function (the tiny test fit is too rough to recognise its raw table)
    y = m.known_device("silver_4114", rng=0).posterior.mean(noise_free=True)
    archs = np.random.default_rng(3).choice(15625, 15, replace=False)
    post = m.adapt(archs, y[archs], device="silver-twin", rng=0).posterior
    sw = post.info["source_weights"]
    assert set(sw) == set(m.source_devices)
    assert abs(sum(sw.values()) + post.info["population_weight"] - 1) < 1e-3
    assert max(sw, key=sw.get) == "silver_4114" and sw["silver_4114"] > 0.5
    assert np.all(np.isfinite(post.draws_ms))
    # at n = 0 the prior weights speak: half on the population, the rest shared by the sources
    prior = m.adapt([], [], rng=0).posterior
    assert prior.info["population_weight"] == pytest.approx(0.5, abs=1e-3)
    # without the mixture (TINY switches it off) nothing changes
    assert "source_weights" not in fitted.adapt(archs, y[archs], rng=0).posterior.info


def test_op_linear_map_projects_on_the_op_encoding(fitted):
    """P theta is the least-squares projection of the function Z theta on [1, X]; additive ones are kept."""
    from latxfer.data.datasets import load_space

    P = fitted.op_linear_map()
    Z = fitted.basis.design()
    X1 = np.c_[np.ones(len(Z)), load_space("nb201").encode(fitted.basis.archs)]
    theta = mixture.source_theta(fitted, np.arange(3), 2)  # pixel3: far from additive (disconnected cells)
    f = Z @ theta.T
    proj = X1 @ np.linalg.lstsq(X1, f, rcond=None)[0]
    assert np.allclose(Z @ (theta @ P.T).T, proj, atol=1e-8 * np.abs(f).max())
    assert not np.allclose(proj, f, atol=1e-3)  # the factors carry a non-additive part
    # an additive function (any op costs) is its own op-linear part
    beta = np.random.default_rng(0).standard_normal(X1.shape[1])
    th_add = np.linalg.lstsq(Z, X1 @ beta, rcond=None)[0]
    assert np.allclose(P @ th_add, th_add, atol=1e-8)


def test_op_linear_components_share_the_source_weight(fitted, nb201_help):
    """source_linear moves part of the near-source mass to components centred on sources' op-linear parts."""
    import copy

    m = copy.copy(fitted)
    m.config = copy.deepcopy(fitted.config)
    m.config["priors"].update(source_shrink=0.3, source_weight=0.5, source_linear=0.5)
    kinds = [c[0] for c in mixture.components(m)]
    assert kinds.count("source") == kinds.count("source-linear") == len(m.source_devices)
    assert sum(c[2] for c in mixture.components(m)) == pytest.approx(1.0)
    prior = m.adapt([], [], rng=0).posterior
    assert sum(prior.info["source_linear_weights"].values()) == pytest.approx(0.25, abs=1e-3)
    assert prior.info["population_weight"] == pytest.approx(0.5, abs=1e-3)
    # a target whose latency is exactly a source's op-linear part: those components take the weight
    y = m.basis.design() @ (mixture.source_theta(m, np.arange(200), 0).mean(0) @ m.op_linear_map().T)
    y = y * m.source_scales[0]
    archs = np.random.default_rng(5).choice(15625, 20, replace=False)
    post = m.adapt(archs, y[archs], device="linear-twin", rng=0).posterior
    lw, sw = post.info["source_linear_weights"], post.info["source_weights"]
    assert sum(lw.values()) > sum(sw.values()) and max(lw, key=lw.get) == m.source_devices[0]
    m.config["priors"]["source_linear"] = 1.0
    assert {c[0] for c in mixture.components(m)} == {"population", "source-linear"}


@pytest.mark.parametrize(("key", "value"), [("source_shrink", -0.1), ("source_weight", 1.0), ("source_weight", "a"),
                                            ("source_linear", 1.5), ("source_linear", -0.1)])
def test_source_mixture_config_is_validated(key, value):
    with pytest.raises(ConfigError, match=f"priors.{key}"):
        load_config({"priors": {key: value}})


def test_novelty_directions_are_the_op_counts_on_the_design(fitted, nb201_help):
    """W maps the design [1, F, Q] exactly onto the standardised op-type counts of every architecture."""
    from latxfer.data.datasets import load_space

    W = fitted.basis.generic
    counts = load_space("nb201").op_counts(fitted.basis.archs).astype(float)
    C = (counts - counts.mean(0)) / counts.std(0)
    assert W.shape == (fitted.basis.design().shape[1], 5)
    np.testing.assert_allclose(fitted.basis.design() @ W, C, atol=1e-8)


def test_novelty_grid_is_weighted_by_the_evidence(fitted, nb201_help):
    """A grid of novelty sds: weights are a distribution, are uniform at n = 0, and the update uses them."""
    m = _with_novelty(fitted, [0.0, 0.3, 1.0])
    y = nb201_help.latency.sel(device="eyeriss").values
    archs = np.random.default_rng(7).choice(15625, 20, replace=False)
    w = m.novelty_weights(archs, y[archs], rng=0)
    assert list(w) == [0.0, 0.3, 1.0] and abs(sum(w.values()) - 1) < 1e-9
    assert m.novelty_weights([], [], rng=0) == pytest.approx({0.0: 1 / 3, 0.3: 1 / 3, 1.0: 1 / 3})
    post = m.adapt(archs, y[archs], rng=1).posterior
    assert set(post.info["novelty_weights"]) == {"0", "0.3", "1"}
    assert post.draws_ms.shape == (100, 15625) and np.all(np.isfinite(post.draws_ms))
    # the novelty term adds sd^2 W W' to the population prior covariance of the device coefficients
    sel = np.arange(5)
    m0, L0 = mixture.prior_blocks(fitted, sel)
    m1, L1 = mixture.prior_blocks(m, sel, 0.3)
    np.testing.assert_array_equal(m0, m1)
    W = fitted.basis.generic
    np.testing.assert_allclose(L1 @ L1.swapaxes(1, 2) - L0 @ L0.swapaxes(1, 2),
                               np.broadcast_to(0.09 * (W @ W.T), L0.shape), atol=1e-10)
    with pytest.raises(ConfigError, match="op_count_sd"):
        LatencyModel({"priors": {"op_count_sd": [0.1, -1.0]}})
    with pytest.raises(ConfigError, match="distinct"):
        LatencyModel({"priors": {"op_count_sd": [0.3, 0.3]}})


def test_adapt_with_no_measurement_is_the_labelled_prior(fitted):
    post = fitted.adapt([], [], rng=0).posterior
    assert post.label.startswith("prior") and post.n_measured == 0
    assert np.all(np.isfinite(post.draws_ms)) and np.all(post.draws_ms > 0)


def test_adapt_bad_input(fitted):
    with pytest.raises(InvalidLatencyError, match="finite and > 0"):
        fitted.adapt([1, 2], [1.0, -3.0])
    with pytest.raises(InvalidLatencyError):
        fitted.adapt([1, 2], [1.0, np.nan])
    with pytest.raises(UnknownArchitectureError, match="15625"):
        fitted.adapt([1, 15625], [1.0, 2.0])
    with pytest.raises(ConfigError, match="'fast' or 'exact'"):
        fitted.adapt([1], [1.0], method="slow")


def test_posterior_srcc(fitted, nb201_help):
    y = nb201_help.latency.sel(device="raspi4").values
    proxy = nb201_help.latency.sel(device="pixel3").values
    archs = np.random.default_rng(2).choice(15625, 20, replace=False)
    post = fitted.adapt(archs, y[archs], rng=0).posterior
    r = fitted.posterior_srcc(proxy, post, threshold=0.9)
    assert r.draws.shape == (100,) and -1 <= r.interval[0] <= r.mean <= r.interval[1] <= 1
    assert r.decision() in {"reuse", "adapt", "measure more"}
    d = r.to_dict()
    assert {"mean", "lower", "upper", "p_above_threshold", "decision"} <= set(d)
    q = fitted.expected_rank_quality(post)
    assert 0 < q.mean <= 1
    # the default adds the model discrepancy PSRCC_DISCREPANCY (times the unmeasured share) on the Fisher-z
    # scale to the model's own posterior, which is kept
    assert r.info["discrepancy"] == pytest.approx(PSRCC_DISCREPANCY * (1 - 20 / 15625))
    z = np.arctanh
    np.testing.assert_allclose(np.var(z(r.draws)), np.var(z(r.raw_draws)) + r.info["discrepancy"] ** 2)
    raw = fitted.posterior_srcc(proxy, post, threshold=0.9, discrepancy=0)
    np.testing.assert_array_equal(raw.draws, r.raw_draws)
    assert raw.interval[0] > r.interval[0] and raw.interval[1] < r.interval[1]
    assert (d["model_lower"], d["model_upper"]) == pytest.approx(raw.interval)


def test_widen_srcc():
    rng = np.random.default_rng(0)
    r = np.tanh(rng.normal(1.2, 0.05, 400))
    np.testing.assert_array_equal(widen_srcc(r, 0.0), r)
    w = widen_srcc(r, 0.1)
    assert np.all(np.abs(w) < 1) and np.array_equal(np.argsort(w), np.argsort(r))
    np.testing.assert_allclose(np.var(np.arctanh(w)), np.var(np.arctanh(r)) + 0.01, rtol=1e-9)
    np.testing.assert_allclose(np.mean(np.arctanh(w)), np.mean(np.arctanh(r)), rtol=1e-9)
    # a wide posterior is widened relatively less than a narrow one
    wide = np.tanh(rng.normal(1.2, 0.3, 400))
    assert np.std(np.arctanh(widen_srcc(wide, 0.1))) / np.std(np.arctanh(wide)) < np.std(np.arctanh(w)) / 0.05
    # draws at +-1 (a perfectly monotone draw) stay finite; equal draws stay as they are
    assert np.all(np.isfinite(widen_srcc(np.r_[r, 1.0, -1.0], 0.09)))
    np.testing.assert_array_equal(widen_srcc(np.full(5, 0.8), 0.09), np.full(5, 0.8))
    for bad in (-0.1, np.nan):
        with pytest.raises(ConfigError, match="discrepancy must be a number >= 0"):
            widen_srcc(r, bad)


def test_no_decision_from_the_population_prior(fitted, nb201_help):
    """n = 0: whatever P(SRCC >= threshold) the prior gives, the decision is 'measure more'."""
    proxy = nb201_help.latency.sel(device="pixel3").values
    r = fitted.posterior_srcc(proxy, fitted.adapt([], [], rng=0).posterior, threshold=0.9)
    assert r.prior_only and r.decision() == "measure more" and r.to_dict()["decision"] == "measure more"
    # the same draws with one measurement behind them do decide when they are confident
    from latxfer.models import SRCCPosterior

    sure = SRCCPosterior(np.full(50, 0.99), 0.9, 0.9, {"n_measured": 1})
    assert sure.decision() == "reuse"
    assert SRCCPosterior(np.full(50, 0.99), 0.9, 0.9, {"n_measured": 0}).decision() == "measure more"


def test_save_load_round_trip(fitted, tmp_path, nb201_help):
    path = fitted.save(tmp_path / "m.zarr")
    with pytest.raises(OutputPathError, match="refusing to overwrite"):
        fitted.save(path)
    back = load_model(path)
    assert back.source_devices == fitted.source_devices and back.space_name == "nb201"
    np.testing.assert_array_equal(back.basis.generic, fitted.basis.generic)
    np.testing.assert_array_equal(back.basis.noise, fitted.basis.noise)
    y = nb201_help.latency.sel(device="gold_6226").values
    a = np.arange(0, 15625, 1500)
    p1 = fitted.adapt(a, y[a], rng=5).posterior
    p2 = back.adapt(a, y[a], rng=5).posterior
    np.testing.assert_allclose(p1.draws_ms, p2.draws_ms)


def test_load_refuses_foreign_files(fitted, tmp_path):
    xr.Dataset({"x": ("a", [1.0])}).to_zarr(tmp_path / "other.zarr", consolidated=False)
    with pytest.raises(ModelFileError, match="not a latxfer model"):
        load_model(tmp_path / "other.zarr")
    (tmp_path / "junk.zarr").write_text("hello")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "junk.zarr")
    path = fitted.save(tmp_path / "m.zarr")
    with pytest.raises(ModelVersionError, match="fitted with configuration"):
        load_model(path, config="pooled")
    import zarr

    g = zarr.open_group(str(path), mode="r+")
    g.attrs["latxfer_format_version"] = "0"
    with pytest.raises(ModelVersionError, match="re-fit"):
        load_model(path)


def test_convergence_warning_names_parameters(fitted):
    import arviz as az

    rng = np.random.default_rng(0)
    good = rng.standard_normal((2, 100))
    bad = np.stack([rng.standard_normal(100), rng.standard_normal(100) + 5])
    tree = az.from_dict({"posterior": {"alpha": good, "beta": bad},
                         "sample_stats": {"diverging": np.zeros((2, 100), bool)}})
    m = LatencyModel(TINY)
    m.config["sampler"]["rhat_max"] = 1.01
    with pytest.warns(ConvergenceWarning, match="beta \\(r_hat"):
        diag = check_convergence(tree, m.config["sampler"])
    assert not diag["converged"] and diag["failing"][0].startswith("beta")


def test_fit_refuses_too_few_sources(nb201_help):
    with pytest.raises(InsufficientDataError, match="at least 2 source devices"):
        LatencyModel(TINY).fit(nb201_help.latx.select(["pixel3"]))
    with pytest.raises(InsufficientDataError, match="n_factors=3"):
        LatencyModel({"model": {"n_factors": 3}}).fit(nb201_help.latx.select(["pixel3", "raspi4"]))


@pytest.mark.slow
def test_exact_adaptation_agrees_with_fast(fitted, nb201_help):
    y = nb201_help.latency.sel(device="gold_6226").values
    a = np.random.default_rng(0).choice(15625, 10, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ex = fitted.adapt(a, y[a], method="exact", rng=0).posterior
    fa = fitted.adapt(a, y[a], rng=0).posterior
    from scipy.stats import spearmanr

    assert spearmanr(ex.mean(True), fa.mean(True))[0] > 0.95


# ------------------------------------------------------------------------------------------ layer-wise targets
def test_lowrank_update_is_the_dense_update():
    """Many observations (layer-wise data) take the coefficient-space path: same evidence, same posterior."""
    from latxfer.models import conjugate as cj

    rng = np.random.default_rng(0)
    M, R, n, S = 8, 10, 70, 300
    Z = np.c_[np.ones(n), rng.normal(size=(n, M - 1))]
    m0, L0 = rng.normal(size=M), np.tril(rng.normal(size=(M, R))) * 0.5
    y = 3.0 * (Z @ (m0 + L0 @ rng.normal(size=R)) + 0.2 * rng.normal(size=n))
    args = (Z, y, np.tile(m0, (S, 1)), np.tile(L0, (S, 1, 1)), np.full(S, np.log(2.0)), np.ones(S),
            np.full(S, np.log(0.3)), np.ones(S))
    assert n > max(R, cj._LOWRANK_MIN_N)
    low = adapt_draws(*args, np.random.default_rng(1))
    try:
        cj._LOWRANK_MIN_N, keep = 10**9, cj._LOWRANK_MIN_N
        dense = adapt_draws(*args, np.random.default_rng(1))
    finally:
        cj._LOWRANK_MIN_N = keep
    np.testing.assert_allclose(low["log_evidence"], dense["log_evidence"], rtol=1e-8)
    np.testing.assert_allclose(low["scale"].mean(), dense["scale"].mean(), rtol=2e-3)
    sd = dense["theta"].std(0)
    assert np.all(np.abs(low["theta"].mean(0) - dense["theta"].mean(0)) < 0.3 * sd)
    np.testing.assert_allclose(low["theta"].std(0), sd, rtol=0.2)


def test_shared_design_eig_is_the_own_update():
    """Near-source components share the population's decomposition of Z V Z', scaled by shrink^2 (what
    _component_log_z passes): the same evidence and draws as computing it for the shrunk prior."""
    from latxfer.models.conjugate import design_eig

    rng = np.random.default_rng(0)
    M, n, S, c = 6, 9, 50, 0.3
    Z = np.c_[np.ones(n), rng.normal(size=(n, M - 1))]
    m0 = rng.normal(size=(S, M))
    L0 = np.tril(rng.normal(size=(S, M, M))) * 0.5
    y = 2.0 * (Z @ m0[0] + 0.1 * rng.normal(size=n))
    pops = (np.full(S, np.log(2.0)), np.ones(S), np.full(S, np.log(0.2)), np.ones(S))
    own = adapt_draws(Z, y, m0, c * L0, *pops, np.random.default_rng(1))
    lam, U = design_eig(Z, L0)
    shared = adapt_draws(Z, y, m0, c * L0, *pops, np.random.default_rng(1), eig=(c**2 * lam, U))
    for k in ("log_evidence", "theta", "scale", "sigma"):
        np.testing.assert_allclose(shared[k], own[k], rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="eig has shapes"):
        adapt_draws(Z[:-1], y[:-1], m0, L0, *pops, rng, eig=(lam, U))


@pytest.fixture(scope="module")
def fitted_fbnet(fbnet_help):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LatencyModel(TINY).fit(fbnet_help.latx.select(["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]),
                                      seed=3)


def test_layer_map_reproduces_an_additive_device(fitted_fbnet, fbnet_layers):
    """B maps coefficients to per-layer costs: a lookup-table device fitted on Z has exactly its layer costs."""
    m = fitted_fbnet
    B, col = m.layer_map()
    e2e = fbnet_layers.latx.end_to_end().sel(device="fpga").sel(arch=m.basis.archs).values
    theta, *_ = np.linalg.lstsq(m.basis.design(), e2e, rcond=None)
    lay = fbnet_layers.latency.sel(device="fpga").sel(arch=m.basis.archs[:50]).values
    ops = fbnet_layers["ops"].sel(arch=m.basis.archs[:50]).values
    feat = col[np.arange(col.shape[0])[None, :], ops]
    pred = np.where(feat >= 0, (B @ theta)[1 + np.maximum(feat, 0)], 0.0)
    np.testing.assert_allclose(pred, lay, atol=1e-6 * np.abs(lay).max())
    np.testing.assert_allclose((B @ theta)[0], float(fbnet_layers["intercept_ms"].sel(device="fpga")),
                               atol=1e-6 * np.abs(lay).max())


def test_adapt_layers(fitted_fbnet, fbnet_layers):
    m = fitted_fbnet
    lay = fbnet_layers.latency.sel(device="eyeriss")
    inter = float(fbnet_layers["intercept_ms"].sel(device="eyeriss"))
    archs = np.array([3, 77, 1200, 4001])
    L = lay.sel(arch=archs).values
    post = m.adapt_layers(archs, L, intercept_ms=inter, device="eyeriss", rng=0).posterior
    n_cells = int((fbnet_layers["ops"].sel(arch=archs).values != 8).sum())
    assert post.info["n_layer_obs"] == n_cells + 1 and post.info["observations"] == "layer-wise"
    assert "layer-wise" in post.label and post.n_measured == len(archs)
    e2e = L.sum(axis=1) + inter
    np.testing.assert_allclose(post.measured_ms[post.positions(archs)], e2e)
    # the layer-wise fit pins the measured architectures' noise-free latency (an exact sum on eyeriss)
    fn = post.mean(noise_free=True)[post.positions(archs)]
    assert np.all(np.abs(fn - e2e) < 0.05 * e2e)
    # without the intercept nothing is "measured" end to end, but the same Dataset path works
    sub = fbnet_layers.latx.select(["eyeriss"]).sel(arch=archs).drop_vars("intercept_ms")
    with pytest.warns(UserWarning, match="without the device's intercept"):
        p2 = m.adapt_dataset(sub, rng=0).posterior
    assert p2.n_measured == 0 and p2.info["n_layer_obs"] == n_cells
    with pytest.raises(ConfigError, match="fast path"):
        m.adapt_dataset(sub, method="exact")


def test_adapt_layers_bad_input(fitted_fbnet, fbnet_layers, fitted):
    m = fitted_fbnet
    ops = fbnet_layers["ops"].sel(arch=[5]).values[0]
    L = fbnet_layers.latency.sel(device="fpga").sel(arch=[5]).values.copy()
    skip_layer = int(np.flatnonzero(ops == 8)[0])
    L[0, skip_layer] = 1.5
    with pytest.raises(InvalidLatencyError, match=rf"architecture 5 layer {skip_layer} .*reference op"):
        m.adapt_layers([5], L)
    with pytest.raises(ConfigError, match="22 layers"):
        m.adapt_layers([5], L[:, :10])
    with pytest.raises(UnknownArchitectureError):
        m.adapt_layers([99999], np.zeros((1, 22)))
    with pytest.raises(ConfigError, match="layer-structured"):
        fitted.adapt_layers([1], np.zeros((1, 6)))


def test_cli_predict_from_a_layer_csv(fitted_fbnet, fbnet_layers, tmp_path, capsys):
    import pandas as pd

    from latxfer.cli import main

    model = fitted_fbnet.save(tmp_path / "fb.zarr")
    archs = [3, 77, 1200]
    lay = fbnet_layers.latency.sel(device="eyeriss", arch=archs).values
    ops = fbnet_layers["ops"].sel(arch=archs).values
    rows = [{"device": "my-asic", "arch_index": a, "layer": i, "op": int(ops[j, i]), "latency_ms": lay[j, i]}
            for j, a in enumerate(archs) for i in range(lay.shape[1])]
    csv = tmp_path / "lay.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    out = tmp_path / "pred.csv"
    with pytest.warns(UserWarning, match="without the device's intercept"):
        assert main(["predict", "--model", str(model), "--target-csv", str(csv), "--out", str(out)]) == 0
    io = capsys.readouterr()
    assert "66 layer-wise measurement(s) of 3 architecture(s)" in io.err and "level from the prior" in io.out
    df = pd.read_csv(out)
    assert len(df) == len(fitted_fbnet.basis.archs) and np.isfinite(df[["mean_ms", "lower_ms", "upper_ms"]]).all().all()
    # with the intercept the three architectures are measured end to end
    inter = float(fbnet_layers["intercept_ms"].sel(device="eyeriss"))
    out2 = tmp_path / "pred2.csv"
    assert main(["predict", "--model", str(model), "--target-csv", str(csv), "--out", str(out2),
                 "--intercept-ms", str(inter)]) == 0
    df2 = pd.read_csv(out2).set_index("arch_index")
    assert df2["measured"].sum() == 3
    np.testing.assert_allclose(df2.loc[archs, "mean_ms"], lay.sum(axis=1) + inter, rtol=0.05)
    # an op that is not the architecture's op at that layer: the file names line and expected op
    bad = pd.DataFrame(rows)
    bad.loc[0, "op"] = (bad.loc[0, "op"] + 1) % 8
    bad.to_csv(tmp_path / "bad.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--target-csv", str(tmp_path / "bad.csv"), "--out",
                 str(tmp_path / "p3.csv")]) == 2
    assert "is not the op these architectures have at that layer" in capsys.readouterr().err
    # --intercept-ms with an end-to-end CSV, and planning from layer-wise data, are refused
    e2e = tmp_path / "e2e.csv"
    pd.DataFrame({"device": "my-asic", "arch_index": archs, "latency_ms": lay.sum(axis=1) + inter}).to_csv(e2e)
    assert main(["predict", "--model", str(model), "--target-csv", str(e2e), "--out", str(tmp_path / "p4.csv"),
                 "--intercept-ms", "1"]) == 2
    assert "applies to layer-wise CSVs" in capsys.readouterr().err
    assert main(["plan", "--model", str(model), "--target-csv", str(csv), "--goal", "srcc>=0.9"]) == 2
    assert "planning simulates end-to-end measurements" in capsys.readouterr().err
