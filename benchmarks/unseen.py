"""Devices no setting was chosen on: HW-NAS-Bench's edge GPU and edge TPU, adapted from the HELP sources.

Usage::

    LATXFER_DATA=../shared/data .venv/bin/python benchmarks/unseen.py --seeds 20
    .venv/bin/python benchmarks/unseen.py --quick           # 2 seeds, n in {0, 10}

The HELP NB201 split's targets and validation devices shaped the model (validation devices chose the
settings; targets are reported).  ``hwnb_edgegpu`` (Jetson TX2 class) and ``hwnb_edgetpu`` (Coral) of
``nb201-hwnasbench`` are in neither list and in no source: they are the closest this data gets to "a device
the project has never seen".  Nothing here feeds back into a setting; this script only reports.

Protocol: the evaluation harness (``latxfer.evaluate``) on the 9 HELP NB201 source devices, targets
the two edge devices (1,999 and 1,740 measured NB201 architectures; a target's unmeasured architectures
are simply not scored), n in {0, 5, 10, 20, 50} random target measurements, every baseline of
``default_baselines`` next to ``hier``.  Then the calibration of ``posterior_srcc(proxy, target)`` with
every source as the proxy: the true SRCC is over the architectures measured on the target, and so is the
posterior's.

Writes ``docs/results/unseen.md`` and ``docs/results/unseen*.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, Prefitted, cached_hier_fit, md_table, provenance  # noqa: E402

import latxfer  # noqa: E402
from latxfer import dims as D  # noqa: E402
from latxfer.baselines import default_baselines  # noqa: E402
from latxfer.evaluate import evaluate, measured_sample, summarize, to_table  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
TARGETS = ["hwnb_edgegpu", "hwnb_edgetpu"]


def combined(sources: list[str]) -> xr.Dataset:
    """HELP NB201 sources + the HW-NAS-Bench edge devices on the 15,625 NB201 architectures."""
    help_ = latxfer.load_dataset("nb201-help")
    hw = latxfer.load_dataset("nb201-hwnasbench").sel(device=TARGETS)
    keep = [D.LATENCY, "n_obs"]
    a = help_[keep].sel(device=sources)
    b = hw[keep].reindex(arch=help_.arch)
    b["n_obs"] = b["n_obs"].fillna(0).astype(np.int64)
    ds = xr.concat([a, b], dim=D.DEVICE, coords="different", compat="equals")
    for v in ["ops", "arch_str"]:
        ds[v] = help_[v]
    ds.attrs = dict(help_.attrs, name="nb201-help sources + hwnasbench edge devices")
    return ds


def part_fewshot(args, ds, split, model, log):
    methods = [Prefitted(model, "hier")] + default_baselines(split.source, per_proxy=False)
    t0 = time.perf_counter()
    res = evaluate(ds, split.source, TARGETS, methods, args.ns, args.seeds, progress=True)
    summ = summarize(res)
    summ.to_csv(RESULTS / "unseen_fewshot.csv", index=False)
    from latxfer.plots import plot_fewshot

    plot_fewshot(summ, RESULTS / "unseen_fewshot.png", methods=["hier", "adaproxy-best", "lowrank-svd", "best-proxy"],
                 title="devices no setting was chosen on: SRCC on unmeasured architectures (HELP NB201 sources)")
    log(f"## Few-shot SRCC and calibration ({args.seeds} seeds, {time.perf_counter() - t0:.0f} s)\n")
    log("![SRCC vs n](unseen_fewshot.png)\n")
    log("Scored on the target's measured architectures that were not among its n samples "
        f"(query sets of {int(res['n_query'].min())}-{int(res['n_query'].max())} architectures).\n")
    for metric, title in [("srcc", "SRCC, unmeasured architectures"),
                          ("srcc_trimmed", "SRCC, 10th-90th latency percentile (HELP's trimming)"),
                          ("coverage", "coverage of the 90% predictive intervals (methods with intervals)"),
                          ("top10", "top-10 overlap")]:
        tab = to_table(summ, metric)
        if metric == "coverage":
            tab = tab[tab.index.get_level_values(0).isin(["hier", "lowrank-svd", "target-ridge", "adaproxy-best"])]
        log(f"### {title} (mean ± sd over seeds)\n")
        log(md_table(tab) + "\n")
    return res


def part_psrcc(args, ds, split, model, log):
    rows = []
    Y = {d: ds[D.LATENCY].sel(device=d).values for d in split.source + TARGETS}
    for t in TARGETS:
        pool = ds.latx.measured(t)
        on = np.isin(ds.latx.archs, pool)
        true_srcc = {p: spearmanr(Y[p][on], Y[t][on])[0] for p in split.source}
        for seed in range(args.seeds):
            for n in [5, 10, 20]:
                a = measured_sample(pool, t, n, seed)
                post = model.adapt(a, Y[t][a], device=t, rng=seed).posterior
                for p in split.source:
                    true = true_srcc[p]
                    r = model.posterior_srcc(Y[p], post, threshold=0.9, archs=pool)
                    lo, hi = r.interval
                    rlo, rhi = r.model_posterior().interval  # the model's own, no discrepancy
                    rows.append({"target": t, "seed": seed, "n": n, "proxy": p, "true": true, "mean": r.mean,
                                 "lower": lo, "upper": hi, "covered": bool(lo <= true <= hi),
                                 "raw_covered": bool(rlo <= true <= rhi),
                                 "p_above": r.p_above, "decision": r.decision()})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "unseen_posterior_srcc.csv", index=False)
    log("## Calibration of posterior_srcc(proxy, target), every source as proxy\n")
    log("True SRCC over the target's measured architectures (the posterior's too); 90% intervals, with the "
        "model discrepancy (latxfer.models.latency_model.PSRCC_DISCREPANCY); `raw`: the model's own.\n")
    g = df.assign(err=(df["mean"] - df["true"]).abs(), width=df.upper - df.lower)
    tab = g.groupby(["target", "n"]).agg(cases=("covered", "size"), coverage_90=("covered", "mean"),
                                         raw_coverage_90=("raw_covered", "mean"),
                                         mean_abs_error=("err", "mean"), mean_width=("width", "mean"))
    log(md_table(tab.round(3)) + "\n")
    right = ((df.decision == "reuse") & (df.true >= 0.9)) | ((df.decision == "adapt") & (df.true < 0.9))
    dec = df.assign(right=right, decided=df.decision != "measure more").groupby(["target", "n"]).agg(
        decided=("decided", "sum"), correct=("right", "sum"))
    log("Reuse/adapt decisions (threshold 0.9, confidence 0.9): made / right (true SRCC of every source "
        f"with these targets is {df.true.min():.2f}-{df.true.max():.2f}, so 'adapt' is always right)\n")
    log(md_table(dec) + "\n")


def part_planning(args, ds, split, model, log):
    """The planner's loop with the real table as the oracle: active ("rank") vs random, batches of 5."""
    from planning import GOAL, _cands, _rounds, _truth

    from latxfer.plan import _light, preposterior

    light = _light(model, 100)
    ks = np.arange(0, 51, 5)
    rows = []
    t0 = time.perf_counter()
    for t in TARGETS:
        truth = _truth(model, ds, t)
        cand = _cands(model, truth)  # the planner's default candidates that the target measured
        for policy in ("active", "random"):
            plan = preposterior(light, [], [], goal=f"srcc>={GOAL}", batch=5, max_k=50, policy=policy,
                                n_worlds=args.worlds, candidates=cand, rng=1000, device=t)
            _, lo, hi = plan.band("srcc")
            _, lo1, hi1 = plan.band("srcc", inflation=1.0)  # the simulated worlds' own band (planning --inflation)
            for seed in range(args.plan_seeds):
                curve = []
                for i, k, _a, _p, realised in _rounds(model, light, truth, policy, ks, seed):
                    curve.append(realised)
                    rows.append({"target": t, "policy": policy, "seed": seed, "k": int(k), "srcc": realised,
                                 "lo": lo[i], "hi": hi[i], "inside": bool(lo[i] <= realised <= hi[i]),
                                 "lo_raw": lo1[i], "hi_raw": hi1[i]})
                print(f"{t} {policy} seed {seed}: " + " ".join(f"{v:.3f}" for v in curve), flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "unseen_planning.csv", index=False)
    log(f"## Measurement planning: active vs random ({args.plan_seeds} seeds, "
        f"{time.perf_counter() - t0:.0f} s)\n")
    log("The loop of benchmarks/planning.py (adapt with 100 posterior draws -> select 5 -> measure, read from "
        "the real table), candidates = the architectures measured on the target except degenerate ones (the "
        "planner's default); realised SRCC of the adapted "
        "ranking on every unmeasured measured architecture. Mean (min) over seeds.\n")
    w = df[df.k.isin([0, 10, 20, 30, 50])].groupby(["target", "policy", "k"])["srcc"].agg(["mean", "min"])
    cell = w["mean"].round(3).astype(str) + " (" + w["min"].round(3).astype(str) + ")"
    log(md_table(cell.unstack("k")) + "\n")
    reach = df[df.srcc >= 0.9].groupby(["target", "policy", "seed"])["k"].min()
    n90 = reach.reindex(pd.MultiIndex.from_product(
        [TARGETS, ["active", "random"], range(args.plan_seeds)], names=["target", "policy", "seed"]))
    tab = n90.groupby(["target", "policy"]).agg(n_to_srcc90=("mean"), not_reached=lambda x: int(x.isna().sum()))
    log("Measurements to reach realised SRCC >= 0.9 (mean over the seeds that reach it within 50):\n")
    log(md_table(tab.round(1)) + "\n")
    log(f"Calibration of the k = 0 plan ({args.worlds} simulated devices): realised SRCC inside the predicted "
        "90% band, over k = 0..50 and seeds:\n")
    log(md_table(df.groupby(["target", "policy"])["inside"].mean().round(3).to_frame("inside_90_band")) + "\n")


def part_nas(args, ds, split, model, log):
    """Which architectures to deploy: exact Pareto sets (no sampler error) scored on the true front."""
    from nas import central_source

    from latxfer import nas

    srcs = ds.latx.latency_matrix(split.source)
    central = central_source(srcs, split.source)
    rows = []
    for t in TARGETS:
        lat_t = ds[D.LATENCY].sel(device=t)
        pool = ds.latx.measured(t)
        pos = np.searchsorted(ds.latx.archs, pool)
        truth = nas.true_pareto_front(lat_t.sel(arch=pool), args.accuracy)

        def measure(a, lat_t=lat_t):
            return lat_t.sel(arch=np.asarray(a)).values

        for name, src in [(f"reuse ({central})", central)]:
            w = nas.reuse_workflow(srcs[split.source.index(src)][pos], args.accuracy, measure, archs=pool,
                                   n_trials=None, proxy=src)
            rows.append({"target": t, "method": name, "n": 0, "seed": 0, "n_measurements": w.n_measurements,
                         **nas.evaluate_front(w.archs, truth)})
        for seed in range(args.nas_seeds):
            for n in (10, 20, 50):
                a = measured_sample(pool, t, n, seed)
                ys = measure(a)
                r = [spearmanr(srcs[j][np.searchsorted(ds.latx.archs, a)], ys)[0] for j in range(len(srcs))]
                best = split.source[int(np.nanargmax(r))]
                w = nas.reuse_workflow(srcs[split.source.index(best)][pos], args.accuracy, measure, archs=pool,
                                       n_trials=None, proxy=best)
                rows.append({"target": t, "method": "reuse-best", "n": n, "seed": seed,
                             "n_measurements": n + w.n_measurements, **nas.evaluate_front(w.archs, truth)})
                post = model.adapt(a, ys, device=t, rng=seed).posterior
                mean = post.mean(noise_free=True)[np.searchsorted(post.archs, pool)]
                prob = nas.NASProblem.from_latency(mean, args.accuracy, archs=pool, device=t,
                                                   latency_source="adapted posterior mean")
                found = nas.exhaustive_search(prob).pareto_archs
                rows.append({"target": t, "method": "adapted", "n": n, "seed": seed, "n_measurements": n,
                             **nas.evaluate_front(found, truth)})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "unseen_nas.csv", index=False)
    log(f"## Which architectures to deploy: exact Pareto sets ({args.nas_seeds} seeds)\n")
    log(f"Accuracy `{args.accuracy}`; every workflow's exact Pareto set over the architectures the target "
        "measured (no sampler error: the NAS sampler is benchmarked in docs/nas.md), re-scored on the TRUE "
        "target latency: hypervolume ratio (reference: max true latency, min accuracy), IGD+, true Pareto "
        "architectures recovered.  `reuse`: the most central source's front (source data only), "
        "re-measured; `reuse-best`: the source with the highest SRCC on the n samples, front re-measured "
        "(measurements = n + front); `adapted`: the posterior mean after n measurements.\n")
    tab = df.groupby(["target", "method", "n"]).agg(
        hv_ratio=("hv_ratio", "mean"), hv_ratio_min=("hv_ratio", "min"), igd_plus=("igd_plus", "mean"),
        recovered=("n_recovered", "mean"), front=("n_front", "first"),
        measurements=("n_measurements", "mean"))
    log(md_table(tab.round(4)) + "\n")


def part_ceiling(args, ds, split, model, log):
    """What the model's basis could reach with every architecture measured (in-sample least squares)."""
    space = latxfer.load_space("nb201")
    rows = []
    for t in TARGETS:
        y = ds[D.LATENCY].sel(device=t).to_series().dropna()
        a = y.index.to_numpy()
        pos = model.basis.positions(a)
        designs = {
            "[1, F, Q] (the model's basis)": np.column_stack([np.ones(a.size), model.basis.F[pos], model.basis.Q[pos]]),
            "[1, op-type counts] (the novelty term's span)": np.column_stack([np.ones(a.size), space.op_counts(a)]),
        }
        for name, X in designs.items():
            beta, *_ = np.linalg.lstsq(X, y.to_numpy(), rcond=None)
            rows.append({"target": t, "design": name, "columns": X.shape[1], "archs": a.size,
                         "in_sample_srcc": round(float(spearmanr(X @ beta, y.to_numpy())[0]), 3)})
    log("## Ceiling: least squares on every measured architecture (in-sample)\n")
    log("Not a prediction (fitted to the architectures it scores): the best ranking a design's columns can "
        "express for the device, to tell a ceiling of the basis from a shortage of measurements.\n")
    log(md_table(pd.DataFrame(rows).set_index(["target", "design"])) + "\n")


OFA_TARGETS = ["v100_1", "v100_32", "v100_64"]


def part_ofa(args, log):
    """Another space no setting was chosen on: OFA (HELP's ofa-help), V100s adapted from the other GPUs."""
    import warnings

    from latxfer.errors import ConvergenceWarning

    ds = latxfer.load_dataset("ofa-help")
    src = [d for d in ds.latx.devices if d not in OFA_TARGETS]
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = cached_hier_fit(OUT / "ofa_gpus_hier.zarr", ds.latx.select(src))
    conv = "; ".join(str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning))
    d = model.diagnostics
    methods = [Prefitted(model, "hier")] + default_baselines(src, per_proxy=False)
    res = evaluate(ds, src, OFA_TARGETS, methods, args.ns, args.ofa_seeds, progress=True)
    summ = summarize(res)
    summ.to_csv(RESULTS / "unseen_ofa.csv", index=False)
    Y = ds.latx.latency_matrix(src + OFA_TARGETS)
    best = []
    for i, t in enumerate(OFA_TARGETS):
        r = {p: spearmanr(Y[j], Y[len(src) + i])[0] for j, p in enumerate(src)}
        p = max(r, key=r.get)
        best.append(f"{t} {p} ({r[p]:.3f})")
    log(f"## OFA: V100s adapted from the other {len(src)} GPUs ({args.ofa_seeds} seeds, "
        f"{time.perf_counter() - t0:.0f} s)\n")
    log(f"ofa-help (5,000 architectures, 12 GPUs at batch 1 / 32 / 64); sources {src}; the OFA space was "
        "used for no setting.  Best source per target (SRCC over all architectures): " + ", ".join(best)
        + f".  Fit of `hier`: max r_hat {d.get('max_rhat', float('nan')):.3f}, min ESS "
        f"{d.get('min_ess', float('nan')):.0f}, divergences {d.get('divergences')}"
        + (f" (warning: {conv})" if conv else "") + ".\n")
    for metric, title in [("srcc", "SRCC, unmeasured architectures"),
                          ("srcc_trimmed", "SRCC, 10th-90th latency percentile"),
                          ("coverage", "coverage of the 90% predictive intervals")]:
        tab = to_table(summ, metric)
        keep = ["hier", "adaproxy-best", "lowrank-svd", "best-proxy"] + (["target-ridge"] if metric == "coverage"
                                                                          else [])
        tab = tab[tab.index.get_level_values(0).isin(keep)]
        if metric == "coverage":
            tab = tab[tab.index.get_level_values(0) != "best-proxy"]
        log(f"### {title} (mean ± sd over seeds)\n")
        log(md_table(tab) + "\n")


def part_ofa_sources(args, log):
    """Why the model trails AdaProxy on v100_1: what each OFA source's table, op-linear fit and basis fit say."""
    ds = latxfer.load_dataset("ofa-help")
    src = [d for d in ds.latx.devices if d not in OFA_TARGETS]
    model = cached_hier_fit(OUT / "ofa_gpus_hier.zarr", ds.latx.select(src))
    # what a source contributes: its raw table, its op-linear fit (AdaProxy's proxy weights) and its fit
    # on the model's basis [1, F, Q] (what a near-source prior component reproduces)
    enc = latxfer.load_space("ofa").encode(ds.latx.archs)
    X1 = np.column_stack([np.ones(len(enc)), enc])
    Z = np.column_stack([np.ones(len(enc)), model.basis.F[model.basis.positions(ds.latx.archs)],
                         model.basis.Q[model.basis.positions(ds.latx.archs)]])
    rows = []
    for t in OFA_TARGETS:
        yt = ds[D.LATENCY].sel(device=t).values
        for p in src:
            y = ds[D.LATENCY].sel(device=p).values
            rows.append({"target": t, "source": p, "raw": spearmanr(y, yt)[0],
                         "op_linear_fit": spearmanr(X1 @ np.linalg.lstsq(X1, y, rcond=None)[0], yt)[0],
                         "basis_fit": spearmanr(Z @ np.linalg.lstsq(Z, y, rcond=None)[0], yt)[0]})
    diag = pd.DataFrame(rows)
    diag.to_csv(RESULTS / "unseen_ofa_sources.csv", index=False)
    log("## OFA: what the sources carry\n")
    log("SRCC with each target of a source's raw table, of its least-squares fit on the op encoding "
        "(AdaProxy's proxy weights) and of its fit on the model's basis [1, F, Q] (what a near-source prior "
        "component reproduces); all 5,000 architectures; the fits are in-sample fits of the SOURCE.  The "
        "three most rank-correlated sources per target:\n")
    best3 = diag.sort_values("raw", ascending=False).groupby("target").head(3).set_index(["target", "source"])
    log(md_table(best3.round(3)) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--ns", default="0,5,10,20,50")
    ap.add_argument("--parts", default="ceiling,fewshot,psrcc,planning,nas,ofa,ofa-sources")
    ap.add_argument("--plan-seeds", type=int, default=5)
    ap.add_argument("--nas-seeds", type=int, default=10)
    ap.add_argument("--accuracy", default="cifar10")
    ap.add_argument("--ofa-seeds", type=int, default=10)
    ap.add_argument("--worlds", type=int, default=12, help="simulated devices per k = 0 plan")
    ap.add_argument("--quick", action="store_true", help="2 seeds, n in {0, 10}")
    ap.add_argument("--out", default=str(RESULTS / "unseen.md"))
    args = ap.parse_args(argv)
    args.ns = [0, 10] if args.quick else [int(x) for x in args.ns.split(",")]
    args.seeds = 2 if args.quick else args.seeds
    if args.quick:
        args.plan_seeds, args.worlds, args.nas_seeds, args.ofa_seeds = 1, 4, 2, 2
    parts = args.parts.split(",")
    nb201_parts = [p for p in parts if not p.startswith("ofa")]
    lines = ["# Devices and a space no setting was chosen on\n", provenance() + "\n"]
    if nb201_parts:
        split = latxfer.get_split("nb201", "help")
        leak = set(TARGETS) & set(split.source + split.target + split.validation)
        assert not leak, leak
        ds = combined(split.source)
        model = cached_hier_fit(OUT / "nb201_help_hier.zarr", ds.latx.select(split.source))
        lines += [f"NB201 parts ({', '.join(nb201_parts)}): HW-NAS-Bench edge GPU and edge TPU\n",
                  f"- sources: the HELP NB201 split's {len(split.source)} sources {split.source}; model `hier` "
                  "(models/hier.toml, settings chosen on the HELP validation devices and left-out sources)",
                  f"- targets: {TARGETS} (nb201-hwnasbench), in no split list; nothing here tunes anything\n"]
        Y = ds.latx.latency_matrix(split.source + TARGETS)
        best = {}
        for i, t in enumerate(TARGETS):
            on = np.isfinite(Y[len(split.source) + i])
            r = {p: spearmanr(Y[j][on], Y[len(split.source) + i][on])[0] for j, p in enumerate(split.source)}
            p = max(r, key=r.get)
            best[t] = f"{t}: {int(on.sum())} architectures measured, best source {p} (SRCC {r[p]:.3f})"
        lines += ["Monotonicity with the sources (on the target's measured architectures): "
                  + "; ".join(best.values()) + ".\n"]

    def log(s):
        print(s, flush=True)
        lines.append(s)

    if "ceiling" in parts:
        part_ceiling(args, ds, split, model, log)
    if "fewshot" in parts:
        part_fewshot(args, ds, split, model, log)
    if "psrcc" in parts:
        part_psrcc(args, ds, split, model, log)
    if "planning" in parts:
        part_planning(args, ds, split, model, log)
    if "nas" in parts:
        part_nas(args, ds, split, model, log)
    if "ofa" in parts:
        part_ofa(args, log)
    if "ofa-sources" in parts:
        part_ofa_sources(args, log)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
