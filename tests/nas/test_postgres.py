"""Many ``latxfer search`` workers on one study in a real PostgreSQL server (``$LATXFER_TEST_POSTGRES_URL``).

Skipped without a server; ``.ci/run`` starts one on 127.0.0.1 and sets the URL, so CI runs them.
"""

from __future__ import annotations

import json
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from optuna.trial import TrialState

from latxfer import nas
from latxfer.errors import StorageError

from .helpers import Proxy, cli, study_trials

pytestmark = pytest.mark.postgres

N = 36  # COMPLETE trials the workers must reach together


def _search_args(tiny_model, url, study, out, seed, trials=N):
    model, target = tiny_model
    return ["search", "--model", str(model), "--target-csv", str(target), "--storage", url, "--study", study,
            "--trials", str(trials), "--seed", str(seed), "--out", str(out), "--json", "--no-progress"]


def _finish(proc, timeout=600) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


def _password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).password or "<no password>"


def _count(url, study, state) -> int:
    """Trials of ``study`` in ``state`` (0 while the study does not exist yet)."""
    try:
        return len(study_trials(url, study, (state,)))
    except KeyError:
        return 0


def _arch(t) -> tuple:
    return tuple(sorted(t.params.items()))


@pytest.fixture(scope="module")
def nb201_problem(nb201_help):
    """An NB201 problem: the mapping of trial parameters (ops per edge) to architecture indices."""
    return nas.NASProblem.from_latency(nb201_help["latency"].sel(device="pixel2"), "cifar10")


def _pareto_of_study(url, study, problem) -> set[int]:
    """The Pareto set one process computes from the study's COMPLETE trials (their stored values)."""
    done = study_trials(url, study, (TrialState.COMPLETE,))
    acc = np.array([t.values[0] for t in done])
    lat = np.array([t.values[1] for t in done])
    archs = [problem.arch_of_params(t.params) for t in done]
    return {a for a, keep in zip(archs, nas.pareto_mask(lat, acc), strict=True) if keep}


def _check_study(url, study, n=N) -> list:
    done = study_trials(url, study, (TrialState.COMPLETE,))
    assert len(done) == n  # together exactly --trials
    assert len({_arch(t) for t in done}) == n  # no architecture evaluated twice
    assert len({t.number for t in done}) == n
    assert not study_trials(url, study, (TrialState.RUNNING,))  # nothing left waiting
    return done


def test_server_refusals_name_the_url_without_password(pg_url, tmp_path, capsys):
    from sqlalchemy.engine import make_url

    good = make_url(pg_url)
    wrong = good.set(password="wrong-Pw-4711").render_as_string(hide_password=False)
    with pytest.raises(StorageError, match="password authentication failed") as e:
        nas.open_storage(wrong)
    assert "wrong-Pw-4711" not in str(e.value) and f"{good.username}:***@" in str(e.value)
    absent = good.set(database="latxfer_no_such_db").render_as_string(hide_password=False)
    with pytest.raises(StorageError, match='database "latxfer_no_such_db" does not exist') as e:
        nas.open_storage(absent)
    assert _password(pg_url) not in str(e.value)
    from latxfer.cli import main

    t = tmp_path / "t.csv"
    pd.DataFrame({"device": "pixel2", "arch_index": [0, 1], "latency_ms": [1.0, 2.0]}).to_csv(t, index=False)
    rc = main(["search", "--model", "m", "--target-csv", str(t), "--out", str(tmp_path / "p.csv"), "--storage", wrong])
    err = capsys.readouterr().err
    assert rc == 2 and "password authentication failed" in err and "wrong-Pw-4711" not in err
    assert "Traceback" not in err


def test_three_workers_reach_n_trials_exactly(pg_url, study_name, tiny_model, tmp_path, nb201_problem):
    outs = [tmp_path / f"p{k}.csv" for k in range(3)]
    procs = [cli(*_search_args(tiny_model, pg_url, study_name, outs[k], k)) for k in range(3)]
    results = [_finish(p) for p in procs]
    _check_study(pg_url, study_name)
    assert sum(r["n_new_trials"] for r in results) == N  # every worker's trials are in the study, once
    assert all(r["n_trials"] == N for r in results)
    expected = _pareto_of_study(pg_url, study_name, nb201_problem)
    for out in outs:  # every worker exports the Pareto set of the same completed trials
        assert set(pd.read_csv(out)["arch_index"]) == expected
    # a single process resuming the complete study runs nothing and exports the same set
    again = _finish(cli(*_search_args(tiny_model, pg_url, study_name, tmp_path / "single.csv", 9)))
    assert again["n_new_trials"] == 0 and set(pd.read_csv(tmp_path / "single.csv")["arch_index"]) == expected
    assert _password(pg_url) not in json.dumps(results)


def test_killed_worker_restarted(pg_url, study_name, tiny_model, tmp_path, nb201_problem):
    env = {"LATXFER_HEARTBEAT_S": "1"}  # a RUNNING trial without heartbeat for 3 s is stale
    stale = None
    for attempt in range(5):  # kill the worker while it holds a RUNNING trial
        victim = cli(*_search_args(tiny_model, pg_url, study_name, tmp_path / "v.csv", attempt, trials=400),
                     env=env)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and victim.poll() is None:
                if _count(pg_url, study_name, TrialState.COMPLETE) >= 8 and \
                        _count(pg_url, study_name, TrialState.RUNNING):
                    victim.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.02)
            else:
                pytest.fail(f"the worker ended or stalled before the kill: {victim.communicate()[1][-2000:]}")
        finally:
            if victim.poll() is None and victim.returncode is None:
                victim.kill()
            victim.communicate(timeout=60)
        running = study_trials(pg_url, study_name, (TrialState.RUNNING,))
        if running:
            stale = running[0].number
            break
    assert stale is not None, "the worker was never killed inside a trial"
    before = [(t.number, t.params) for t in study_trials(pg_url, study_name, (TrialState.COMPLETE,))]
    assert len(before) >= 8
    # how many trials completed before the kill depends on the machine's speed (warm-start trials complete
    # in a burst); the restarted workers always have work left: N or 12 more than were done
    n_total = max(N, len(before) + 12)
    time.sleep(3.5)
    outs = [tmp_path / f"r{k}.csv" for k in range(3)]
    procs = [cli(*_search_args(tiny_model, pg_url, study_name, outs[k], 10 + k, trials=n_total), env=env)
             for k in range(3)]
    results = [_finish(p) for p in procs]
    done = _check_study(pg_url, study_name, n_total)
    assert [(t.number, t.params) for t in done[: len(before)]] == before  # completed trials kept
    states = {t.number: t.state for t in study_trials(pg_url, study_name)}
    assert states[stale] == TrialState.FAIL  # the killed worker's trial failed, not waited for
    assert sum(r["n_new_trials"] for r in results) == n_total - len(before)
    expected = _pareto_of_study(pg_url, study_name, nb201_problem)
    assert all(set(pd.read_csv(o)["arch_index"]) == expected for o in outs)


def test_server_gone_mid_search(pg_url, study_name, tiny_model, tmp_path, capsys):
    from sqlalchemy.engine import make_url

    from latxfer.cli import main

    u = make_url(pg_url)
    proxy = Proxy(u.host, u.port or 5432)
    via = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    def cut_when_started():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if _count(pg_url, study_name, TrialState.COMPLETE) >= 5:
                break
            time.sleep(0.05)
        proxy.close()  # the server "goes away" for this worker

    threading.Thread(target=cut_when_started, daemon=True).start()
    rc = main(_search_args(tiny_model, via, study_name, tmp_path / "p.csv", 0, trials=400))
    cap = capsys.readouterr()
    assert rc == 2, cap.err[-2000:]
    assert "lost the storage" in cap.err and "completed" in cap.err and "run the same command again" in cap.err
    assert "Traceback" not in cap.err and _password(pg_url) not in cap.err + cap.out
    kept = study_trials(pg_url, study_name, (TrialState.COMPLETE,))
    assert len(kept) >= 5
    # the server is back (direct URL): the same command resumes and completes the study
    assert main(_search_args(tiny_model, pg_url, study_name, tmp_path / "q.csv", 1)) == 0
    capsys.readouterr()
    assert len(study_trials(pg_url, study_name, (TrialState.COMPLETE,))) == max(N, len(kept))
