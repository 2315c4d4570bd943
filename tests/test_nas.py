"""latxfer.nas: Pareto metrics, Optuna searches, workflows, storage (resume, shared workers), CLI, figure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from latxfer import nas
from latxfer.errors import (
    ConfigError,
    DataFileNotFoundError,
    InsufficientDataError,
    MissingColumnError,
)
from latxfer.models import DevicePosterior

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def pixel2(nb201_help):
    return nb201_help["latency"].sel(device="pixel2")


@pytest.fixture(scope="session")
def truth(pixel2):
    return nas.true_pareto_front(pixel2, "cifar10")


@pytest.fixture(scope="session")
def post(pixel2):
    """A stand-in posterior: log-normal draws around pixel2's true latency (not a model's output)."""
    y = pixel2.values
    rng = np.random.default_rng(0)
    meas = np.full(y.size, np.nan)
    idx = rng.choice(y.size, 10, replace=False)
    meas[idx] = y[idx]
    return DevicePosterior.from_gaussian("pixel2", pixel2["arch"].values, np.log(y), 0.15, n_samples=80,
                                         rng=1, measured_ms=meas)


def synthetic_problem(seed: int = 0, n_pos: int = 5) -> nas.NASProblem:
    """A full product space 5**n_pos with random objectives (no data directory needed)."""
    n = 5 ** n_pos
    ops = (np.arange(n)[:, None] // 5 ** np.arange(n_pos)) % 5
    rng = np.random.default_rng(seed)
    return nas.NASProblem(np.arange(n), rng.uniform(50, 95, n), rng.uniform(1, 30, n), objective="measured",
                          ops=ops, space="synthetic", device="toy", latency_source="synthetic")


# ------------------------------------------------------------------------------------------ metrics
def _brute_pareto(lat, acc):
    n = len(lat)
    return np.array([not any(lat[j] <= lat[i] and acc[j] >= acc[i] and (lat[j] < lat[i] or acc[j] > acc[i])
                             for j in range(n)) for i in range(n)])


def test_pareto_mask_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 25))
        lat, acc = rng.integers(0, 6, n).astype(float), rng.integers(0, 6, n).astype(float)
        np.testing.assert_array_equal(nas.pareto_mask(lat, acc), _brute_pareto(lat, acc))
    assert nas.pareto_mask([], []).size == 0


def test_hypervolume_2d_exact_values():
    # (lat 1, acc 3) and (lat 2, acc 5), ref (4, 0): 3*3 + 2*2 = 13
    assert nas.hypervolume_2d([1, 2], [3, 5], (4, 0)) == pytest.approx(13.0)
    # dominated points, duplicates and points outside the reference box add nothing
    assert nas.hypervolume_2d([1, 2, 3, 2, 5, 1], [3, 5, 4, 5, 9, -1], (4, 0)) == pytest.approx(13.0)
    assert nas.hypervolume_2d([], [], (4, 0)) == 0.0
    # against a fine grid on random points
    rng = np.random.default_rng(1)
    lat, acc = rng.uniform(0, 10, 12), rng.uniform(0, 10, 12)
    g = (np.arange(1000) + 0.5) / 100
    X, Y = np.meshgrid(g, g)
    dom = np.zeros_like(X, bool)
    for a, b in zip(lat, acc, strict=True):
        dom |= (X >= a) & (Y <= b)
    assert nas.hypervolume_2d(lat, acc, (10, 0)) == pytest.approx(dom.mean() * 100, abs=0.2)


def test_igd_plus():
    z_lat, z_acc = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    assert nas.igd_plus(z_lat, z_acc, z_lat, z_acc) == 0.0
    # one point (2, 3): to z1=(1,3) distance 1 (slower), to z2=(2,5) distance 2 (less accurate)
    assert nas.igd_plus([2.0], [3.0], z_lat, z_acc) == pytest.approx(1.5)
    # a point better than the front is at distance 0 (the "+")
    assert nas.igd_plus([0.5], [6.0], z_lat, z_acc) == 0.0
    assert nas.igd_plus([], [], z_lat, z_acc) == np.inf


def test_true_front_and_evaluate(truth):
    assert truth.front_archs.size > 5
    lat, acc = truth.lookup(truth.front_archs)
    assert np.all(np.diff(lat) >= 0) and np.all(np.diff(acc) > 0)  # a staircase
    assert truth.ref == (truth.latency_ms.max(), truth.accuracy.min())
    ev = nas.evaluate_front(truth.front_archs, truth)
    assert ev["hv_ratio"] == pytest.approx(1.0) and ev["hv_ratio_nadir"] == pytest.approx(1.0)
    assert ev["igd_plus"] == 0.0 and ev["n_recovered"] == ev["n_front"] == truth.front_archs.size
    worse = nas.evaluate_front(truth.front_archs[::2], truth)
    assert worse["hv_ratio"] < 1.0 and worse["igd_plus"] > 0 and worse["n_recovered"] < ev["n_front"]


# ------------------------------------------------------------------------------------------ problems
def test_nb201_problem_suggests_ops_per_edge(pixel2, nb201_help):
    pb = nas.NASProblem.from_latency(pixel2, "cifar10", device="pixel2")
    assert pb.encoding == "ops" and pb.n_archs == 15625
    ops = nb201_help["ops"].values
    for a in (0, 1462, 15624):
        assert pb.arch_of_params({f"op{p}": int(ops[a, p]) for p in range(6)}) == a


def test_index_encoding_for_sampled_spaces():
    rng = np.random.default_rng(0)
    archs = np.arange(5000)
    ops = rng.integers(0, 9, (5000, 22))  # FBNet-like: 5,000 of 9**22
    pb = nas.NASProblem(archs, rng.uniform(60, 80, 5000), rng.uniform(1, 9, 5000), objective="measured",
                        ops=ops, space="fbnet")
    assert pb.encoding == "index"
    res = nas.run_search(pb, 40, sampler="random", seed=0)
    assert res.n_trials == 40 and set(res.trial_archs) <= set(archs.tolist())


def test_objective_mean_quantile_and_budget(post):
    pm = nas.NASProblem.from_posterior(post, "cifar10")
    np.testing.assert_allclose(pm.latency_ms, post.mean())
    pq = nas.NASProblem.from_posterior(post, "cifar10", objective="q0.9", budget_ms=20, delta=0.1)
    np.testing.assert_allclose(pq.latency_ms, post.quantile(0.9))
    np.testing.assert_allclose(pq.prob_below, post.prob_below(20))
    assert pq.config()["objective"] == "q0.9" and pq.config()["budget_ms"] == 20


def test_search_is_reproducible_and_counts_unique():
    pb = synthetic_problem()
    a = nas.run_search(pb, 120, seed=3, population_size=20)
    b = nas.run_search(pb, 120, seed=3, population_size=20)
    c = nas.run_search(pb, 120, seed=4, population_size=20)
    np.testing.assert_array_equal(a.trial_archs, b.trial_archs)
    assert not np.array_equal(a.trial_archs, c.trial_archs)
    assert a.n_trials == 120 and a.n_unique == np.unique(a.trial_archs).size <= 120
    # the Pareto set is exactly the non-dominated subset of what was evaluated
    ev = np.unique(a.trial_archs)
    m = nas.pareto_mask(pb.latency_ms[ev], pb.accuracy[ev])
    assert set(a.pareto_archs.tolist()) == set(ev[m].tolist())


def test_revisits_are_skipped_not_counted():
    import optuna
    from optuna.trial import TrialState

    pb = synthetic_problem(n_pos=3)  # 125 architectures: NSGA-II revisits often
    res = nas.run_search(pb, 100, seed=0)
    assert res.n_trials == res.n_unique == 100  # every COMPLETE trial is a distinct architecture
    rev = nas.run_search(pb, 100, seed=0, revisit=True)
    assert rev.n_trials == 100 and rev.n_unique < 100  # plain Optuna behaviour on request
    # a study asked for more distinct architectures than the space holds stops when it has them all
    full = nas.run_search(pb, 200, seed=0, sampler="random")
    assert full.n_trials == full.n_unique == pb.n_archs
    # the skipped proposals are PRUNED trials that name the trial they repeat
    st = nas.open_storage(None)
    study = optuna.create_study(storage=st, directions=list(nas.DIRECTIONS), study_name="p")
    obj = nas._UniqueObjective(pb, study, shared=False)
    study.enqueue_trial({f"op{p}": 0 for p in range(3)})
    study.enqueue_trial({f"op{p}": 0 for p in range(3)})
    study.optimize(obj, n_trials=2)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED]
    assert study.trials[1].user_attrs["revisit_of"] == 0


def test_warm_start_is_evaluated_first_capped_and_not_repeated_on_resume(tmp_path):
    from latxfer.errors import UnknownArchitectureError

    pb = synthetic_problem()
    warm = np.array([7, 3, 3, 100, 42])  # a repeat is enqueued once
    res = nas.run_search(pb, 30, seed=0, warm_start=warm)
    assert res.n_warm_start == 4 and res.trial_archs[:4].tolist() == [7, 3, 100, 42]
    capped = nas.run_search(pb, 10, seed=0, warm_start=np.arange(50))
    assert capped.n_warm_start == 5 and capped.trial_archs[:5].tolist() == [0, 1, 2, 3, 4]
    url = f"journal:///{tmp_path}/w.log"
    first = nas.run_search(pb, 20, seed=0, storage=url, study_name="w", warm_start=warm)
    again = nas.run_search(pb, 40, seed=1, storage=url, study_name="w", warm_start=warm)
    assert first.n_warm_start == 4 and again.n_warm_start == 0  # a resumed study is not seeded twice
    assert again.n_trials == again.n_unique == 40
    with pytest.raises(UnknownArchitectureError, match=r"architecture\(s\) \[3126\] are not in this problem"):
        nas.run_search(pb, 10, seed=0, warm_start=[5 ** 5 + 1])


def test_source_fronts_and_warm_started_search(nb201_help, pixel2, truth):
    lat = nb201_help["latency"].sel(device=["pixel3", "silver_4210r"])
    warm = nas.source_fronts(lat, "cifar10")
    acc = nas.load_accuracy("cifar10").reindex(lat["arch"].values).to_numpy()
    fronts = [set(lat["arch"].values[nas.pareto_mask(row, acc)].tolist()) for row in lat.values]
    assert set(warm.tolist()) == fronts[0] | fronts[1] and np.unique(warm).size == warm.size
    # interleaved over devices, each from its fastest architecture
    assert all(float(lat.sel(device=d, arch=a)) == float(lat.sel(device=d).min()) for d, a in
               zip(["pixel3", "silver_4210r"], warm[:2], strict=True))
    # a search warm-started with the target's own front keeps all of it: the seeds enter the Pareto set
    pb = nas.NASProblem.from_latency(pixel2, "cifar10")
    res = nas.run_search(pb, 60, seed=0, warm_start=truth.front_archs)
    assert nas.evaluate_front(res.pareto_archs, truth)["n_recovered"] == truth.front_archs.size
    # the adapt workflow passes it through (and the exhaustive path ignores it)
    from latxfer.models import DevicePosterior

    post = DevicePosterior.from_gaussian("pixel2", pixel2["arch"].values, np.log(pixel2.values), 0.01,
                                         n_samples=4, rng=0)
    a = nas.adapt_workflow(post, "cifar10", n_trials=60, seed=0, warm_start=warm)
    assert a.search.n_warm_start == min(warm.size, 30)
    assert nas.adapt_workflow(post, "cifar10", n_trials=None, warm_start=warm).search.n_warm_start == 0


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_other_samplers(sampler):
    res = nas.run_search(synthetic_problem(), 25, sampler=sampler, seed=0)
    assert res.n_trials == 25 and res.pareto_archs.size >= 1


def test_budget_constraint_in_search(post):
    pb = nas.NASProblem.from_posterior(post, "cifar10", budget_ms=15, delta=0.05)
    res = nas.run_search(pb, 150, seed=0)
    assert res.pareto_archs.size > 0
    p = pb.prob_below[pb.positions(res.pareto_archs)]
    assert np.all(p >= 0.95)
    tab = res.table()
    assert {"arch_index", "accuracy", "latency_ms", "mean_ms", "lower90_ms", "upper90_ms",
            "prob_below_budget"} <= set(tab.columns)


# ------------------------------------------------------------------------------------------ workflows
def test_workflows(pixel2, nb201_help, truth, post):
    proxy = nb201_help["latency"].sel(device="pixel3")
    calls = []

    def measure(archs):
        calls.append(np.asarray(archs))
        return pixel2.sel(arch=archs).values

    r = nas.reuse_workflow(proxy, "cifar10", measure, n_trials=200, seed=0, proxy="pixel3")
    assert len(calls) == 1 and r.n_measurements == calls[0].size == r.info["proxy_pareto"].size
    assert set(r.archs) <= set(calls[0].tolist())
    assert nas.pareto_mask(r.latency_ms, r.accuracy).all()  # dominated re-measured ones dropped
    np.testing.assert_allclose(r.latency_ms, pixel2.sel(arch=r.archs).values)

    a = nas.adapt_workflow(post, "cifar10", n_trials=200, seed=0)
    assert a.n_measurements == 10
    o = nas.oracle_search(pixel2, "cifar10", n_trials=200, seed=0)
    assert o.n_measurements == o.search.n_unique
    ex = nas.adapt_workflow(post, "cifar10", n_trials=None)
    assert ex.search.sampler == "exhaustive"
    for w in (r, a, o, ex):
        ev = nas.evaluate_front(w.archs, truth)
        assert 0.8 < ev["hv_ratio"] <= 1.0 + 1e-12 and np.isfinite(ev["igd_plus"])
    # exhaustive search on the truth itself recovers the whole true front
    oe = nas.oracle_search(pixel2, "cifar10", n_trials=None)
    assert nas.evaluate_front(oe.archs, truth)["n_recovered"] == truth.front_archs.size


# ------------------------------------------------------------------------------------------ bad input
def test_accuracy_table_missing_architectures(tmp_path, post):
    f = tmp_path / "acc.csv"
    pd.DataFrame({"arch_index": np.arange(15625)[5:], "accuracy": 50.0}).to_csv(f, index=False)
    with pytest.raises(InsufficientDataError, match=r"lacks 5 of the 15625.*\[0, 1, 2, 3, 4\]"):
        nas.NASProblem.from_posterior(post, f)
    g = tmp_path / "bad.csv"
    pd.DataFrame({"arch": [0], "acc": [1.0]}).to_csv(g, index=False)
    with pytest.raises(MissingColumnError, match="arch_index"):
        nas.load_accuracy(g, [0])
    with pytest.raises(DataFileNotFoundError):
        nas.load_accuracy(tmp_path / "nope.csv", [0])
    with pytest.raises(ConfigError, match="unknown accuracy 'cifar11'"):
        nas.load_accuracy("cifar11", [0])
    with pytest.raises(ConfigError, match="no built-in accuracy"):
        nas.load_accuracy("cifar10", [0], space="fbnet")


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown latency objective 'p90'.*q0.9"):
        nas.parse_objective("p90")
    with pytest.raises(ConfigError, match="q<p>"):
        nas.parse_objective("q1.5")
    with pytest.raises(ConfigError, match=r"unknown sampler 'cmaes'.*nsga2"):
        nas.make_sampler("cmaes")
    assert nas.parse_objective("q0.9") == ("quantile", 0.9)


def test_storage_that_cannot_be_opened(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        nas.open_storage(f"sqlite:///{tmp_path}/no/such/dir/s.db")
    with pytest.raises(ConfigError, match="does not exist"):
        nas.open_storage(f"journal://{tmp_path}/no/such/dir/s.log")
    with pytest.raises(ConfigError, match="cannot interpret storage"):
        nas.open_storage("study.txt")
    with pytest.raises(ConfigError, match="cannot open storage 'postgresql://u@127.0.0.1:1/db'"):
        nas.open_storage("postgresql://u@127.0.0.1:1/db")
    assert nas.open_storage(None) is None


def test_study_with_different_objectives(tmp_path, post):
    url = f"sqlite:///{tmp_path}/s.db"
    mean = nas.NASProblem.from_posterior(post, "cifar10")
    nas.run_search(mean, 5, storage=url, study_name="s", sampler="random")
    q = nas.NASProblem.from_posterior(post, "cifar10", objective="q0.9")
    with pytest.raises(ConfigError, match=r"already exists with different objectives.*objective: stored 'mean'"):
        nas.run_search(q, 10, storage=url, study_name="s", sampler="random")
    import optuna

    optuna.create_study(storage=url, study_name="other", direction="minimize")
    with pytest.raises(ConfigError, match=r"1 objective\(s\) \['minimize'\]"):
        nas.run_search(mean, 10, storage=url, study_name="other")


# ------------------------------------------------------------------------------------------ storage
_WORKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_nas import synthetic_problem
    from latxfer import nas
    url, name, total, seed, sleep, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \\
        float(sys.argv[5]), sys.argv[6]
    def slow(study, trial):
        if trial.state.name == "COMPLETE":  # revisits are PRUNED and not counted
            with open(log, "a") as f:
                f.write(f"{{trial.number}}\\n")
        time.sleep(sleep)
    nas.run_search(synthetic_problem(), total, storage=url, study_name=name, seed=seed, callbacks=[slow],
                   population_size=10)
""")


def _worker(tmp_path, url, name, total, seed, sleep, log):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(tests=str(ROOT / "tests")))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(script), url, name, str(total), str(seed), str(sleep), str(log)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _complete(url, name):
    import optuna
    from optuna.trial import TrialState

    st = nas.open_storage(url)
    return optuna.load_study(study_name=name, storage=st).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def test_resume_in_process(tmp_path):
    url = f"journal://{tmp_path}/r.log"
    pb = synthetic_problem()
    a = nas.run_search(pb, 20, storage=url, study_name="r", seed=0)
    b = nas.run_search(pb, 35, storage=url, study_name="r", seed=0)
    assert (a.n_trials, b.n_trials, b.n_new) == (20, 35, 15)
    np.testing.assert_array_equal(b.trial_archs[:20], a.trial_archs)
    c = nas.run_search(pb, 30, storage=url, study_name="r")  # already there: nothing to run
    assert c.n_new == 0 and c.n_trials == 35


def test_killed_worker_resumes_without_losing_trials(tmp_path):
    url, name, total = f"sqlite:///{tmp_path}/k.db", "k", 40
    log = tmp_path / "k.txt"
    proc = _worker(tmp_path, url, name, 400, 0, 0.05, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().split()) >= 8:
                break
            if proc.poll() is not None:
                pytest.fail(f"worker ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = [(t.number, t.params) for t in _complete(url, name)]
    assert 8 <= len(before) < total
    res = nas.run_search(synthetic_problem(), total, storage=url, study_name=name, seed=1, population_size=10)
    after = _complete(url, name)
    assert res.n_trials == len(after) == total
    assert [(t.number, t.params) for t in after[: len(before)]] == before  # nothing lost or rewritten


def test_two_workers_share_a_journal_study(tmp_path):
    url, name, total = f"journal://{tmp_path}/w.log", "w", 40
    logs = [tmp_path / "w0.txt", tmp_path / "w1.txt"]
    procs = [_worker(tmp_path, url, name, total, s, 0.03, logs[s]) for s in (0, 1)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    done = _complete(url, name)
    ran = [len(f.read_text().split()) for f in logs]
    assert len(done) == total  # together exactly the study's target (tests/nas: three workers, PostgreSQL)
    assert sum(ran) == len(done) and min(ran) > 0  # both workers contributed, no trial counted twice


# ------------------------------------------------------------------------------------------ CLI, figure
@pytest.fixture()
def fake_model(monkeypatch, post):
    import latxfer.models

    seen = {}

    class Fake:
        source_latency = np.stack([post.mean(), post.mean() * 1.2])  # two "source" tables over the space
        basis = SimpleNamespace(archs=post.archs)

        def adapt_dataset(self, target, device=None, **kw):  # the CLI passes the device and rng=--seed
            seen["devices"] = target.latx.devices
            return SimpleNamespace(posterior=post)

    monkeypatch.setattr(latxfer.models, "load_model", lambda path, **kw: Fake(), raising=False)
    return seen


def _target_csv(tmp_path, pixel2):
    f = tmp_path / "t.csv"
    a = np.arange(0, 15625, 1500)
    pd.DataFrame({"device": "pixel2", "arch_index": a, "latency_ms": pixel2.sel(arch=a).values}).to_csv(f, index=False)
    return f


def test_cli_search(tmp_path, pixel2, fake_model, capsys):
    from latxfer.cli import main

    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    rc = main(["search", "--model", "m.zarr", "--target-csv", str(_target_csv(tmp_path, pixel2)),
               "--accuracy", "cifar10", "--objective", "q0.9", "--budget-ms", "20", "--trials", "40",
               "--seed", "1", "--out", str(out), "--plot", str(png), "--storage", f"{tmp_path}/c.log",
               "--study", "c", "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert fake_model["devices"] == ["pixel2"]
    import json

    assert 0 < json.loads(cap.out)["n_warm_start"] <= 20  # the source fronts, at most half of --trials
    tab = pd.read_csv(out)
    assert list(tab.columns[:3]) == ["arch_index", "accuracy", "latency_ms"]
    assert {"mean_ms", "lower90_ms", "upper90_ms", "prob_below_budget"} <= set(tab.columns) and len(tab) > 0
    assert png.stat().st_size > 1000
    # resuming with other objectives is refused without a traceback
    rc = main(["search", "--model", "m.zarr", "--target-csv", str(_target_csv(tmp_path, pixel2)),
               "--trials", "50", "--out", str(out), "--overwrite", "--storage", f"{tmp_path}/c.log", "--study", "c"])
    err = capsys.readouterr().err
    assert rc == 2 and "different objectives" in err and "Traceback" not in err


@pytest.mark.parametrize("extra, msg", [
    (["--storage", "sqlite:////no/such/dir/x.db"], "cannot open storage"),
    (["--objective", "worst"], "unknown latency objective"),
    (["--sampler", "bayes"], "unknown sampler"),
])
def test_cli_bad_input(tmp_path, pixel2, fake_model, capsys, extra, msg):
    from latxfer.cli import main

    rc = main(["search", "--model", "m", "--target-csv", str(_target_csv(tmp_path, pixel2)),
               "--out", str(tmp_path / "p.csv"), "--trials", "5", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and "Traceback" not in err


def test_cli_without_model_module(tmp_path, pixel2, monkeypatch, capsys):
    import latxfer.models
    from latxfer.cli import main

    monkeypatch.delattr(latxfer.models, "load_model", raising=False)
    rc = main(["search", "--model", "m", "--target-csv", str(_target_csv(tmp_path, pixel2)),
               "--out", str(tmp_path / "p.csv")])
    assert rc == 2 and "needs the Bayesian latency model" in capsys.readouterr().err


def test_plots(tmp_path, truth, post):
    from latxfer.plots import plot_pareto_fronts, plot_search

    a = nas.adapt_workflow(post, "cifar10", n_trials=None)
    fig = plot_pareto_fronts({"adapted": a.archs, "front half": truth.front_archs[::2]}, truth,
                             tmp_path / "f.png", title="pixel2")
    assert (tmp_path / "f.png").stat().st_size > 1000 and fig.axes[0].get_xlabel().startswith("true")
    plot_search(a.search, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
