"""Many ``latxfer search`` workers on one study: whole-process trials per second with 1, 2 and 4 workers.

Usage::

    .venv/bin/python benchmarks/workers.py --storage postgresql://USER:PASSWORD@127.0.0.1:5432/DB
    .venv/bin/python benchmarks/workers.py --storage ... --workers 1 2 4 --trials 240 --model m.zarr \\
        --target-csv target.csv
    LATXFER_BENCH_STORAGE=postgresql://... .venv/bin/python benchmarks/workers.py   # URL from the environment

For each worker count W, W ``latxfer search`` processes start together on a NEW study of the storage with
``--trials N`` (each its own ``--seed``) and the script waits for the last one.  Whole-process figures: the
wall time runs from the launch of the first process to the exit of the last, so it includes Python start-up,
imports, loading the model and adapting it to the target (``startup`` column: the mean of each process's
wall time minus its own search time).  ``trials/s`` = N / wall; ``search trials/s`` = N / the longest
search phase (``elapsed_s`` of ``--json``).  Every run is checked: the study holds exactly N COMPLETE
trials, all distinct architectures.

Without ``--model`` a tiny model is fitted once (4 NB201 sources, few draws; the search does not depend on
the model's quality: a trial is two table look-ups, the storage dominates).  The target is 11 pixel2
measurements.  Writes ``docs/results/workers.md`` (+ ``workers.csv``) with the command (password hidden),
versions, machine and its load average, which matters on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, md_table, provenance  # noqa: E402

import latxfer  # noqa: E402
from latxfer import nas  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["1080ti_1", "silver_4114", "pixel3", "samsung_a50"]
TINY = {"model": {"fit_archs": 150, "n_factors": 2, "noise_power": "auto"},
        "sampler": {"chains": 2, "tune": 60, "draws": 40, "ess_min": 1, "rhat_max": 100.0},
        "adapt": {"n_draws": 40}}


def tiny_model(d: Path) -> tuple[Path, Path]:
    """``(model.zarr, target.csv)``: a tiny fit on 4 NB201 sources and 11 pixel2 measurements."""
    from latxfer.models import LatencyModel

    ds = latxfer.load_dataset("nb201-help")
    model = LatencyModel(TINY).fit(ds.latx.select(SOURCES), seed=3).save(d / "m.zarr")
    a = np.arange(0, 15625, 1500)
    t = d / "target.csv"
    pd.DataFrame({"device": "pixel2", "arch_index": a,
                  "latency_ms": ds["latency"].sel(device="pixel2", arch=a).values}).to_csv(t, index=False)
    return Path(model), t


def run(storage: str, n_workers: int, n_trials: int, model: Path, target: Path, out: Path) -> dict:
    """One measurement: ``n_workers`` processes on a new study; returns a row of the table."""
    study = f"bench-{n_workers}w-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    procs = []
    for k in range(n_workers):
        cmd = [sys.executable, "-m", "latxfer.cli", "search", "--model", str(model), "--target-csv", str(target),
               "--storage", storage, "--study", study, "--trials", str(n_trials), "--seed", str(k),
               "--out", str(out / f"{study}-{k}.csv"), "--json", "--no-progress"]
        procs.append((subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                      time.perf_counter()))
    summaries, walls = [], []
    for p, started in procs:
        so, se = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed (rc {p.returncode}): {se[-2000:]}")
        walls.append(time.perf_counter() - started)
        summaries.append(json.loads(so))
    wall = time.perf_counter() - t0
    import optuna
    from optuna.trial import TrialState

    done = optuna.load_study(study_name=study, storage=nas.open_storage(storage)).get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,))
    distinct = len({tuple(sorted(t.params.items())) for t in done})
    search = max(s["elapsed_s"] for s in summaries)
    return {"storage": nas.storage_kind(storage) if not storage.startswith("postgres") else "postgresql",
            "workers": n_workers, "trials": n_trials, "complete": len(done), "distinct": distinct,
            "per_worker": "/".join(str(s["n_new_trials"]) for s in summaries),
            "wall_s": round(wall, 1), "trials_per_s": round(n_trials / wall, 2),
            "search_s": round(search, 1), "search_trials_per_s": round(n_trials / search, 2),
            "startup_s": round(float(np.mean([w - s["elapsed_s"] for w, s in zip(walls, summaries, strict=True)])), 1),
            "load_avg_1m": round(os.getloadavg()[0], 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--storage", default=os.environ.get("LATXFER_BENCH_STORAGE"),
                    help="storage URL shared by the workers (default $LATXFER_BENCH_STORAGE), e.g. "
                         "postgresql://user:password@127.0.0.1:5432/db")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts (default 1 2 4)")
    ap.add_argument("--trials", type=int, default=240, help="COMPLETE trials per study (default 240)")
    ap.add_argument("--model", default=None, help="fitted model (default: fit a tiny one)")
    ap.add_argument("--target-csv", default=None, help="target measurements (with --model)")
    args = ap.parse_args(argv)
    if not args.storage:
        ap.error("give --storage URL (or set LATXFER_BENCH_STORAGE)")
    nas.open_storage(args.storage)  # fail fast, with the URL's password hidden
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.model:
            if not args.target_csv:
                ap.error("--model needs --target-csv")
            model, target = Path(args.model), Path(args.target_csv)
        else:
            model, target = tiny_model(d)
        rows = []
        for w in args.workers:
            rows.append(run(args.storage, w, args.trials, model, target, d))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows).set_index(["storage", "workers"])
    sys.argv = [nas.redact_url(a) for a in sys.argv]  # the provenance names the command: no password
    text = "\n\n".join([
        "# Many workers on one study: whole-process trials per second",
        provenance(),
        f"- model: {args.model or 'tiny fit (benchmarks/workers.py TINY, 4 NB201 sources)'}; target: "
        f"{args.target_csv or '11 pixel2 measurements'}; search: NSGA-II, NB201 (ops per edge), warm start "
        "from the source fronts",
        "`wall_s`: launch of the first worker to exit of the last (start-up included); `trials_per_s` = "
        "trials / wall_s; `search_*`: the longest worker's search phase; `startup_s`: mean per worker of its "
        "wall time minus its search time; `per_worker`: COMPLETE trials each worker evaluated.",
        md_table(df),
    ]) + "\n"
    print(md_table(df))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "workers.md").write_text(text)
    df.reset_index().to_csv(RESULTS / "workers.csv", index=False)
    print(f"wrote {RESULTS / 'workers.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
