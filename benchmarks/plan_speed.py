"""How fast ``latxfer plan`` is, as whole processes, against ``latxfer predict`` and a bare import (same run).

Times, median of ``--repeats`` runs each, in one run on one machine:

(a) ``python -m latxfer.cli plan --model M --proxy pixel3 --goal "srcc>=0.95" --batch 5 --max 50 --target-csv T
    --worlds latxfer.plan.DEFAULT_WORLDS``;
(b) ``python -m latxfer.cli predict --model M --target-csv T --out ...`` (15,625 architectures, n measurements);
(c) ``python -c "import numpy, scipy.stats, pandas, xarray, zarr"``;
(d) ``latxfer.plan.preposterior(...)`` from Python with the defaults (the model loaded once, not timed);
(a') with ``--compare DIR``: (a) from an earlier source tree (``PYTHONPATH=DIR``), for a before/after in one run.

M: a model fitted like ``models/hier-fast.toml`` on the HELP NB201 sources (``--model``; fitted into ``--model`` by
``latxfer fit --dataset nb201-help --sources help --model hier-fast`` when absent).  T: ``--n`` random
measurements of a HELP NB201 validation device (``--device``, not a target) as a new device.  Targets (issue 29):
(a) <= 2 x (b), (b) <= 1.3 x (c).  Writes ``docs/results/plan_speed.md``.

``--calibration``: the real loop's one-batch-ahead band with the batched engine on the validation devices
(``docs/results/plan_engine_calibration.md``).

``--stability``: how many simulated devices make the recommendation stable to one batch between seeds, on the
validation devices (no HELP target): for each device and number of worlds, ``preposterior`` at ``--seeds``
seeds; reported the range (max - min) of the recommended k over seeds.  Writes
``docs/results/plan_worlds_stability.md``.

``--eval-subset``: how far the realised SRCC of a simulated device computed on ``n_eval`` = 2,000 random unmeasured
architectures (what ``preposterior`` does) is from the one on all of them, for 100 posterior draws as true
devices (``docs/results/plan_eval_subset.md``).

Run::

    LATXFER_DATA=/work/shared/data LATXFER_OFFLINE=1 .venv/bin/python benchmarks/plan_speed.py
    ... --stability --worlds 20 50 100 --seeds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, md_table, provenance  # noqa: E402

VALIDATION = ("titanx_1", "titanx_32", "titanx_256", "gold_6240")


def _ensure_model(path: Path) -> Path:
    if not path.exists():
        subprocess.run([sys.executable, "-m", "latxfer.cli", "fit", "--dataset", "nb201-help", "--sources", "help",
                        "--model", "hier-fast", "--out", str(path)], check=True)
    return path


def _target_csv(device: str, n: int, seed: int, folder: Path) -> Path:
    import latxfer

    ds = latxfer.load_dataset("nb201-help")
    y = ds.latency.sel(device=device).values
    archs = ds.arch.values
    ok = np.flatnonzero(np.isfinite(y))
    pick = np.random.default_rng(seed).choice(ok, n, replace=False)
    path = folder / f"{device}_n{n}.csv"
    pd.DataFrame({"device": f"{device}-as-new", "arch_index": archs[pick], "latency_ms": y[pick]}).to_csv(
        path, index=False)
    return path


def _time(cmd: list[str], repeats: int, env: dict | None = None, cwd: str | None = None) -> tuple[float, list[float]]:
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
        walls.append(time.perf_counter() - t)
        if r.returncode not in (0, 1):  # plan exits 1 when the goal is not reachable
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return float(np.median(walls)), walls


def speed(args) -> int:
    import latxfer
    from latxfer.models import load_model
    from latxfer.plan import DEFAULT_WORLDS, preposterior

    model_path = _ensure_model(Path(args.model))
    tmp = Path(tempfile.mkdtemp(prefix="plan_speed_"))
    csv = _target_csv(args.device, args.n, 0, tmp)
    py = sys.executable
    runs = {
        "(a) plan": [py, "-m", "latxfer.cli", "plan", "--model", str(model_path), "--proxy", "pixel3", "--goal",
                     "srcc>=0.95", "--batch", "5", "--max", "50", "--target-csv", str(csv), "--worlds",
                     str(DEFAULT_WORLDS), "--out", str(tmp / "next.csv"), "--overwrite"],
        "(b) predict": [py, "-m", "latxfer.cli", "predict", "--model", str(model_path), "--target-csv", str(csv),
                        "--out", str(tmp / "pred.csv"), "--overwrite"],
        "(c) bare import": [py, "-c", "import numpy, scipy.stats, pandas, xarray, zarr"],
    }
    rows = []
    envs = {name: None for name in runs}
    if args.compare:  # the same plan from an earlier source tree (e.g. `git archive COMMIT | tar -x -C DIR`)
        runs["(a') plan, earlier tree"] = runs["(a) plan"]
        envs["(a') plan, earlier tree"] = {**os.environ, "PYTHONPATH": str(Path(args.compare).resolve())}
    for name, cmd in runs.items():
        # `python -m` puts the working directory first on sys.path: the earlier tree's runs start in it
        med, walls = _time(cmd, args.repeats, envs[name], args.compare if envs[name] else None)
        rows.append({"run": name, "median_wall_s": round(med, 2), "walls_s": " ".join(f"{w:.2f}" for w in walls),
                     "command": (f"`cd {args.compare} && PYTHONPATH={args.compare} " if envs[name] else "`")
                     + " ".join(Path(c).name if c == py else c for c in cmd) + "`"})
        print(rows[-1], flush=True)
    model = load_model(model_path)
    long = pd.read_csv(csv)
    proxy = model.source_latency_ms("pixel3")
    walls = []
    for r in range(args.repeats):
        t = time.perf_counter()
        preposterior(model, long["arch_index"].to_numpy(), long["latency_ms"].to_numpy(), goal="srcc>=0.95",
                     proxy_ms=proxy, rng=r)
        walls.append(time.perf_counter() - t)
    rows.append({"run": "(d) preposterior() from Python", "median_wall_s": round(float(np.median(walls)), 2),
                 "walls_s": " ".join(f"{w:.2f}" for w in walls),
                 "command": f"`latxfer.plan.preposterior(model, archs, y, goal='srcc>=0.95', proxy_ms=pixel3)` "
                            f"(defaults: n_worlds={DEFAULT_WORLDS})"})
    print(rows[-1], flush=True)
    df = pd.DataFrame(rows).set_index("run")
    a, b, c = (df.loc[k, "median_wall_s"] for k in ("(a) plan", "(b) predict", "(c) bare import"))
    ratios = pd.DataFrame([
        {"ratio": "plan / predict", "value": round(a / b, 2), "target": "<= 2"},
        {"ratio": "predict / bare import", "value": round(b / c, 2), "target": "<= 1.3"},
    ]).set_index("ratio")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    load = os.getloadavg()
    text = "\n\n".join([
        "# Speed of `latxfer plan` against `latxfer predict` and a bare import",
        provenance() + f"\n- commit: {commit}\n- load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        f"Model `{model_path}` (hier-fast settings on the HELP NB201 sources); target CSV: {args.n} random "
        f"measurements of `{args.device}` (a validation device, not a HELP target) as a new device. Median of "
        f"{args.repeats} runs each, whole processes, in one run ({latxfer.__version__}).",
        md_table(df), md_table(ratios),
    ])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "plan_speed.md").write_text(text + "\n")
    print(text)
    return 0


def stability_tables(df: pd.DataFrame) -> list[str]:
    """Per device and worlds: the recommended k of each seed and their range; per worlds: the worst range."""
    def rng_k(x):
        if x.isna().all():
            return 0.0
        return np.inf if x.isna().any() else float(x.max() - x.min())

    tab = df.groupby(["device", "worlds"]).agg(
        ks=("recommended_k", lambda x: " ".join("none" if pd.isna(v) else str(int(v)) for v in x)),
        range_k=("recommended_k", rng_k), seconds=("seconds", "median"))
    summ = tab.groupby("worlds").agg(max_range=("range_k", "max"), median_seconds=("seconds", "median"))
    summ["stable_to_one_batch"] = summ["max_range"] <= 5
    return [md_table(tab), md_table(summ)]


def stability(args) -> int:
    import latxfer
    from latxfer.models import load_model
    from latxfer.plan import preposterior

    model = load_model(_ensure_model(Path(args.model)))
    ds = latxfer.load_dataset("nb201-help")
    rows, t_all = [], time.perf_counter()
    for dev in args.devices:
        assert dev in VALIDATION, dev
        y = ds.latency.sel(device=dev).values
        ok = np.flatnonzero(np.isfinite(y))
        pick = np.random.default_rng(0).choice(ok, args.n, replace=False)
        a, v = ds.arch.values[pick], y[pick]
        proxy = model.source_latency_ms("pixel3")
        for W in args.worlds:
            for seed in range(args.seeds):
                t = time.perf_counter()
                res = preposterior(model, a, v, goal=args.goal, proxy_ms=proxy, n_worlds=W, rng=100 + seed,
                                   batch=5, max_k=50, device=dev)
                share = res.goal_share()
                rows.append({"device": dev, "worlds": W, "seed": seed, "recommended_k": res.recommended_k,
                             "goal_share_at_rec": None if res.recommended_k is None else
                             round(float(share[np.searchsorted(res.ks, res.recommended_k)]), 3),
                             "seconds": round(time.perf_counter() - t, 1)})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "plan_worlds_stability.csv", index=False)
    text = "\n\n".join([
        "# How many simulated devices make the plan's recommendation stable",
        provenance(),
        f"Model `{args.model}` (hier-fast settings, HELP NB201 sources). Devices: HELP NB201 validation devices "
        f"(not targets), {args.n} random measurements each; goal `{args.goal}`, proxy pixel3, batch 5, max 50; "
        f"seeds 100..{99 + args.seeds} of `preposterior`. `range_k`: max - min of the recommended k over seeds "
        f"(stable to one batch: <= 5; 'none' = not reachable within max counts as unstable next to a number). "
        f"Total {time.perf_counter() - t_all:.0f} s.",
        *stability_tables(df),
    ])
    (RESULTS / "plan_worlds_stability.md").write_text(text + "\n")
    print(text)
    return 0


AHEAD_AT = (0, 10, 25)


def calibration(args) -> int:
    """The real loop's one-batch-ahead band (what ``SRCC_BAND_INFLATION`` was chosen on) with the batched engine,
    on the validation devices (no HELP target), the real latency table as the oracle: adapt -> select 5 ->
    "measure" (read the table), up to 50; at k in ``AHEAD_AT`` the planner predicts the SRCC one batch later."""
    import latxfer
    from latxfer.models import load_model
    from latxfer.plan import _adapt, default_candidates, preposterior, select_batch
    from latxfer.ranks import srcc

    model = load_model(_ensure_model(Path(args.model)))
    ds = latxfer.load_dataset("nb201-help")
    rows, t_all = [], time.perf_counter()
    for dev in args.devices:
        y = ds.latency.sel(device=dev).values
        truth = np.full(len(model.basis.archs), np.nan)
        truth[model.basis.positions(ds.arch.values)] = y
        cand = np.intersect1d(model.basis.archs[np.isfinite(truth)], default_candidates(model))
        for policy in ("active", "random"):
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                archs, post, band = np.zeros(0, np.int64), None, None
                for k in range(0, 51, 5):
                    if k:
                        new = select_batch(model, post, 5, policy=policy, candidates=cand, rng=rng)
                        archs = np.concatenate([archs, new])
                    post = _adapt(model, archs, truth[model.basis.positions(archs)], dev, rng).posterior
                    un = ~post.measured & np.isfinite(truth)
                    real = srcc(post.mean(noise_free=True)[un], truth[un])
                    if band is not None:
                        rows.append({"device": dev, "policy": policy, "seed": seed, "k": k, "srcc": real,
                                     "lo": band[0], "hi": band[1], "lo_raw": band[2], "hi_raw": band[3]})
                        band = None
                    if k in AHEAD_AT:
                        plan = preposterior(model, archs, truth[model.basis.positions(archs)], goal="srcc>=0.95",
                                            batch=5, max_k=5, policy=policy, n_worlds=args.cal_worlds,
                                            candidates=cand, rng=seed + 7919, device=dev)
                        _, lo, hi = plan.band("srcc")
                        _, lo1, hi1 = plan.band("srcc", inflation=1.0)
                        band = (float(lo[1]), float(hi[1]), float(lo1[1]), float(hi1[1]))
                print(f"{dev} {policy} seed {seed} done ({time.perf_counter() - t_all:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    df = df.assign(inside=(df.srcc >= df.lo) & (df.srcc <= df.hi), below=df.srcc < df.lo, above=df.srcc > df.hi,
                   inside_unwidened=(df.srcc >= df.lo_raw) & (df.srcc <= df.hi_raw))
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "plan_engine_calibration.csv", index=False)
    tab = df.groupby("policy")[["inside", "below", "above", "inside_unwidened"]].mean().assign(
        n=df.groupby("policy").size())
    per = df.groupby(["device", "policy"])["inside"].mean().unstack("policy")
    text = "\n\n".join([
        "# Calibration of the batched engine: the real loop's one-batch-ahead band (devices that are not targets)",
        provenance(),
        f"Model `{args.model}` (hier-fast settings, HELP NB201 sources); HELP NB201 validation devices "
        f"{', '.join(args.devices)}; seeds 0..{args.seeds - 1}; batches of 5 up to 50 with the real table as the "
        f"oracle; at k = {', '.join(map(str, AHEAD_AT))} the planner ({args.cal_worlds} simulated devices) predicts "
        "the 90% band of the realised SRCC after the next batch (widened by plan.SRCC_BAND_INFLATION; "
        f"`inside_unwidened`: the simulated worlds' own band). Goal 85-95% inside. Total "
        f"{time.perf_counter() - t_all:.0f} s.",
        md_table(tab.round(3)), md_table(per.round(3)),
    ])
    (RESULTS / "plan_engine_calibration.md").write_text(text + "\n")
    print(text)
    return 0


def eval_subset(args) -> int:
    """The realised SRCC on 2,000 random unmeasured architectures vs on all of them (see the module docstring)."""
    from latxfer.models import load_model
    from latxfer.plan import _adapt
    from latxfer.ranks import srcc

    model = load_model(_ensure_model(Path(args.model)))
    tmp = Path(tempfile.mkdtemp(prefix="plan_subset_"))
    long = pd.read_csv(_target_csv(args.device, args.n, 0, tmp))
    rng = np.random.default_rng(0)
    post = _adapt(model, long["arch_index"].to_numpy(), long["latency_ms"].to_numpy(), "target", rng).posterior
    mu, un = post.mean(noise_free=True), np.flatnonzero(~post.measured)
    rows = []
    for _ in range(100):
        truth = post.draws_ms[rng.integers(post.n_samples)]
        E = np.sort(rng.choice(un, 2000, replace=False))
        rows.append({"full": srcc(mu[un], truth[un]), "subset": srcc(mu[E], truth[E])})
    df = pd.DataFrame(rows).assign(diff=lambda d: d["subset"] - d["full"])
    tab = pd.DataFrame([{
        "devices": len(df), "median_full_srcc": round(float(df["full"].median()), 4),
        "mean_diff": round(float(df["diff"].mean()), 5), "sd_diff": round(float(df["diff"].std()), 5),
        "max_abs_diff": round(float(df["diff"].abs().max()), 5),
        "other_side_of_0.95": float(np.mean((df["full"] >= 0.95) != (df["subset"] >= 0.95)))}]).set_index("devices")
    text = "\n\n".join([
        "# The realised SRCC of a simulated device on 2,000 architectures vs all of them",
        provenance(),
        f"Model `{args.model}`; {args.n} random measurements of `{args.device}` as a new device; 100 posterior "
        f"predictive draws as true devices; the posterior-mean ranking's SRCC against each on all "
        f"{len(un)} unmeasured architectures and on 2,000 random ones (`preposterior(n_eval=2000)`).",
        md_table(tab)])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "plan_eval_subset.md").write_text(text + "\n")
    print(text)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(tempfile.gettempdir(), "plan_model.zarr"),
                    help="fitted model (fitted with hier-fast on the HELP NB201 sources when absent)")
    ap.add_argument("--device", default="titanx_1", choices=VALIDATION, help="validation device used as the target")
    ap.add_argument("--n", type=int, default=8, help="target measurements in the CSV")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stability", action="store_true", help="the worlds-stability study instead of the timing")
    ap.add_argument("--worlds", type=int, nargs="+", default=[20, 50, 100], help="--stability: worlds tried")
    ap.add_argument("--seeds", type=int, default=3, help="--stability: seeds per device and worlds")
    ap.add_argument("--devices", nargs="+", default=["titanx_1", "gold_6240"], help="--stability: devices")
    ap.add_argument("--goal", default="srcc>=0.95", help="--stability: the plan's goal")
    ap.add_argument("--calibration", action="store_true",
                    help="the one-batch-ahead band of the real loop on validation devices, with the batched engine")
    ap.add_argument("--cal-worlds", type=int, default=100, help="--calibration: simulated devices per plan")
    ap.add_argument("--compare", default=None, metavar="DIR",
                    help="also time (a) from the source tree DIR (PYTHONPATH=DIR), in the same run")
    ap.add_argument("--eval-subset", action="store_true",
                    help="the realised SRCC on 2,000 architectures vs all of them (docs/results/plan_eval_subset.md)")
    args = ap.parse_args(argv)
    if args.eval_subset:
        return eval_subset(args)
    if args.calibration:
        return calibration(args)
    return stability(args) if args.stability else speed(args)


if __name__ == "__main__":
    sys.exit(main())
