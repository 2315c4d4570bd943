"""Resumed and shared studies without a database server: fingerprints, stale trials, storage errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from optuna.trial import TrialState

from latxfer import nas
from latxfer.errors import ConfigError, StorageError, StudyMismatchError
from latxfer.models import DevicePosterior

from .helpers import ROOT, study_trials, synthetic_problem


@pytest.fixture(scope="module")
def pixel2(nb201_help):
    return nb201_help["latency"].sel(device="pixel2")


def _posterior(pixel2, measured_archs, info=None) -> DevicePosterior:
    y = pixel2.values
    meas = np.full(y.size, np.nan)
    meas[measured_archs] = y[measured_archs]
    post = DevicePosterior.from_gaussian("pixel2", pixel2["arch"].values, np.log(y), 0.15, n_samples=20,
                                         rng=1, measured_ms=meas)
    post.info.update(info or {})
    return post


def _model(scale: float = 1.0):
    """A stand-in fitted model: what model_fingerprint hashes (config and fitted arrays)."""
    rng = np.random.default_rng(0)
    return SimpleNamespace(config={"model": {"name": "hier"}}, source_devices=["a", "b"],
                           source_latency=rng.uniform(1, 9, (2, 50)) * scale,
                           population={"loading": rng.normal(size=(10, 3)), "sigma": np.ones(10)})


# ------------------------------------------------------------------------------------------ fingerprints
def test_fingerprints_are_content_hashes():
    fp = nas.data_fingerprint([3, 1, 2], [0.5, 0.1, 0.2], "pixel2")
    assert fp == nas.data_fingerprint([1, 2, 3], [0.1, 0.2, 0.5], "pixel2")  # row order does not matter
    assert fp != nas.data_fingerprint([1, 2, 3], [0.1, 0.2, 0.51], "pixel2")
    assert fp != nas.data_fingerprint([1, 2, 3], [0.1, 0.2, 0.5], "pixel3")
    assert nas.model_fingerprint(_model()) == nas.model_fingerprint(_model())
    assert nas.model_fingerprint(_model()) != nas.model_fingerprint(_model(1.001))
    assert nas.model_fingerprint(SimpleNamespace(fingerprint=lambda: "given")) == "given"


def test_real_model_fingerprint_survives_save_and_load(tiny_model):
    from latxfer.models import load_model

    a, b = load_model(tiny_model[0]), load_model(tiny_model[0])
    assert nas.model_fingerprint(a) == nas.model_fingerprint(b)
    a.source_latency = a.source_latency * 1.01  # as another fit would differ
    assert nas.model_fingerprint(a) != nas.model_fingerprint(b)


def test_resume_with_other_target_data_or_model_is_refused(tmp_path, pixel2):
    url = f"sqlite:///{tmp_path}/s.db"
    post = _posterior(pixel2, np.arange(0, 15625, 1500))
    pb = nas.NASProblem.from_posterior(post, "cifar10", model=_model())
    nas.run_search(pb, 6, storage=url, study_name="s", sampler="random")
    other = _posterior(pixel2, np.arange(1, 15625, 1500))  # other measurements
    with pytest.raises(StudyMismatchError, match=r"(?s)made with other target data.*--target-csv.*--study NEW"):
        nas.run_search(nas.NASProblem.from_posterior(other, "cifar10", model=_model()), 8, storage=url,
                       study_name="s", sampler="random")
    with pytest.raises(StudyMismatchError, match=r"(?s)made with another model.*--model.*--study NEW"):
        nas.run_search(nas.NASProblem.from_posterior(post, "cifar10", model=_model(2.0)), 8, storage=url,
                       study_name="s", sampler="random")
    # the same model and data resume; a posterior may carry its model's fingerprint itself
    res = nas.run_search(nas.NASProblem.from_posterior(post, "cifar10", model=_model()), 8, storage=url,
                         study_name="s", sampler="random")
    assert (res.n_trials, res.n_new) == (8, 2)
    tagged = _posterior(pixel2, np.arange(0, 15625, 1500), info={"model_fingerprint": "something-else"})
    with pytest.raises(StudyMismatchError, match="another model"):
        nas.run_search(nas.NASProblem.from_posterior(tagged, "cifar10"), 9, storage=url, study_name="s")
    # a measured latency vector is the target data of reuse / oracle searches
    url2 = f"journal:///{tmp_path}/m.log"
    nas.run_search(nas.NASProblem.from_latency(pixel2, "cifar10"), 4, storage=url2, study_name="m")
    with pytest.raises(StudyMismatchError, match="other target data"):
        nas.run_search(nas.NASProblem.from_latency(pixel2 * 1.1, "cifar10"), 5, storage=url2, study_name="m")
    assert issubclass(StudyMismatchError, ConfigError)


def test_cli_resume_with_another_target_csv(tmp_path, pixel2, monkeypatch, capsys):
    import latxfer.models
    from latxfer.cli import main

    class Fake:  # a model whose posterior conditions on the target CSV it is given
        source_latency = None

        def adapt_dataset(self, target, device=None, **kw):
            a = target["arch"].values[np.isfinite(target["latency"].values[0])]
            return SimpleNamespace(posterior=_posterior(pixel2, a))

    monkeypatch.setattr(latxfer.models, "load_model", lambda path, **kw: Fake(), raising=False)
    csvs = []
    for k, start in enumerate((0, 7)):
        f = tmp_path / f"t{k}.csv"
        a = np.arange(start, 15625, 1500)
        pd.DataFrame({"device": "pixel2", "arch_index": a, "latency_ms": pixel2.sel(arch=a).values}).to_csv(f, index=False)
        csvs.append(f)
    args = ["search", "--model", "m", "--storage", f"{tmp_path}/c.log", "--study", "c", "--trials", "5"]
    assert main([*args, "--target-csv", str(csvs[0]), "--out", str(tmp_path / "a.csv")]) == 0
    capsys.readouterr()
    before = (tmp_path / "c.log").read_bytes()
    rc = main([*args, "--target-csv", str(csvs[1]), "--out", str(tmp_path / "b.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "other target data" in err and "--study NEW" in err and "Traceback" not in err
    assert not (tmp_path / "b.csv").exists()
    assert len(study_trials(f"{tmp_path}/c.log", "c")) == 5 and (tmp_path / "c.log").read_bytes()[:len(before)] == before


# ------------------------------------------------------------------------------------------ stale trials
_KILLED = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from nas.helpers import synthetic_problem
    from latxfer import nas
    url, kill_at = sys.argv[1], int(sys.argv[2])
    pb = synthetic_problem()
    evaluate, calls = pb.evaluate, []
    def dying(trial, i):  # killed inside a trial: the trial stays RUNNING with a heartbeat
        calls.append(i)
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return evaluate(trial, i)
    pb.evaluate = dying
    nas.run_search(pb, 100, storage=url, study_name="k", seed=0, population_size=10)
""")


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_trial_of_a_killed_worker_is_failed_once_stale(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("LATXFER_HEARTBEAT_S", "1")  # stale after 3 s without a heartbeat
    url = f"sqlite:///{tmp_path}/k.db" if kind == "sqlite" else f"journal:///{tmp_path}/k.log"
    script = tmp_path / "killed.py"
    script.write_text(_KILLED.format(tests=str(ROOT / "tests")))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(script), url, "7"], env=env, capture_output=True, timeout=120)
    killed_at = time.monotonic()
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    running = study_trials(url, "k", (TrialState.RUNNING,))
    before = [(t.number, t.params) for t in study_trials(url, "k", (TrialState.COMPLETE,))]
    assert len(running) == 1 and len(before) == 6
    # while its heartbeat is recent the trial may belong to a live worker: it is left alone
    import optuna

    st = nas.open_storage(url)
    assert nas.fail_stale_trials(optuna.load_study(study_name="k", storage=st), st) == []
    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    res = nas.run_search(synthetic_problem(), 12, storage=url, study_name="k", seed=1, population_size=10)
    assert res.stale_failed == [running[0].number] and res.n_trials == 12
    states = {t.number: t.state for t in study_trials(url, "k")}
    assert states[running[0].number] == TrialState.FAIL and TrialState.RUNNING not in states.values()
    after = [(t.number, t.params) for t in study_trials(url, "k", (TrialState.COMPLETE,))]
    assert after[:6] == before  # completed trials kept


def test_bad_heartbeat_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("LATXFER_HEARTBEAT_S", "0.5")
    with pytest.raises(ConfigError, match=r"LATXFER_HEARTBEAT_S='0.5'.*whole number of seconds >= 1"):
        nas.open_storage(f"sqlite:///{tmp_path}/h.db")


# ------------------------------------------------------------------------------------------ shared studies
_WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from nas.helpers import synthetic_problem
    from latxfer import nas
    r = nas.run_search(synthetic_problem(n_pos=4), int(sys.argv[2]), storage=sys.argv[1], study_name="w",
                       seed=int(sys.argv[3]), population_size=10)
    print(r.n_new)
""")


def test_three_workers_on_a_journal_reach_n_trials_exactly(tmp_path):
    url, total = f"journal:///{tmp_path}/w.log", 60
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(tests=str(ROOT / "tests")))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, str(script), url, str(total), str(s)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in range(3)]
    mine = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        mine.append(int(out.split()[-1]))
    done = study_trials(url, "w", (TrialState.COMPLETE,))
    archs = [tuple(sorted(t.params.items())) for t in done]
    assert len(done) == total == sum(mine)  # exactly N, and every worker's trials are in the study
    assert len(set(archs)) == total  # no architecture evaluated twice, even by two workers at once
    assert not study_trials(url, "w", (TrialState.RUNNING,))


# ------------------------------------------------------------------------------------------ storage errors
def test_password_is_never_printed(tmp_path, monkeypatch, capsys, pixel2):
    url = "postgresql://bob:s3cr3t-Pw@127.0.0.1:1/db"
    assert nas.redact_url(url) == "postgresql://bob:***@127.0.0.1:1/db"
    assert nas.redact_url("journal:///a/b.log") == "journal:///a/b.log"
    with pytest.raises(StorageError) as e:
        nas.open_storage(url)
    msg = str(e.value)
    assert "s3cr3t" not in msg and "postgresql://bob:***@127.0.0.1:1/db" in msg and "refused" in msg.lower()
    # no driver installed: the message names it and the extra that brings it
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(StorageError, match=r"driver 'psycopg' is not installed; pip install 'latxfer\[postgres\]'") as e:
        nas.open_storage(url)
    assert "s3cr3t" not in str(e.value)
    monkeypatch.undo()
    # through the CLI: rc 2, one message, no password, no traceback
    from latxfer.cli import main

    t = tmp_path / "t.csv"
    pd.DataFrame({"device": "pixel2", "arch_index": [0, 1], "latency_ms": [1.0, 2.0]}).to_csv(t, index=False)
    rc = main(["search", "--model", "m", "--target-csv", str(t), "--out", str(tmp_path / "p.csv"),
               "--storage", url])
    cap = capsys.readouterr()
    assert rc == 2 and "cannot open storage" in cap.err and "Traceback" not in cap.err
    assert "s3cr3t" not in cap.err + cap.out
