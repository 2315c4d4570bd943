"""The Bayesian core on the published splits: few-shot accuracy, calibration, pooling trio, speed.

Usage::

    LATXFER_DATA=../shared/data .venv/bin/python benchmarks/bayes.py --seeds 20
    .venv/bin/python benchmarks/bayes.py --quick                      # smoke run
    .venv/bin/python benchmarks/bayes.py --parts exact,speed          # some parts only

Parts (all by default):
  nb201    hierarchical / pooled / unpooled on the HELP NB201 split (targets and validation devices),
           n in {0, 5, 10, 20, 50}: SRCC, HELP-trimmed SRCC, Kendall, top-10, 90% interval coverage
  psrcc    calibration of posterior_srcc(proxy, target): how often its 90% interval holds the true
           proxy-target SRCC, every source device as proxy, n in {5, 10, 20}
  fbnet    the HELP FBNet split, and NASFLAT's FBNet tasks at n = 20
  exact    fast (conditional conjugate) vs exact (joint NUTS re-fit) adaptation at n = 10
  speed    fit time and r_hat of the HELP NB201 source fit; adapt + predict time for 15,625 archs
  novelty  how the novelty grid (priors.op_count_sd) was chosen: validation devices only
  mixture  how the near-source mixture prior (priors.source_shrink / source_weight) was chosen: HELP NB201
           validation devices, leave-one-source-out (pixel3, samsung_s7), FBNet GPUs from phone/CPU sources
  linear   how the op-linear near-source components (priors.source_linear) were chosen: the same cases as
           mixture, then OFA's V100s (the case that suggested them; reported, not used to choose)
  noise    tried, not shipped: a wider population prior for a new device's log noise sd (validation devices)
  noisepower  how model.noise_power (noise sd growing with the architecture's latency) was chosen: the
           mixture part's validation cases, one fit per setting
  quintiles  diagnosis: 90% coverage per quintile of the true latency, predictive vs actual error sd (n = 10)
  layers   FBNet targets with layer-wise tables (fbnet-layers): adapting from n architectures' per-layer
           latencies vs their end-to-end latencies (same architectures), n in {2, 5, 10}
           (run it with --out docs/results/bayes_layers.md to keep bayes.md)
Writes docs/results/bayes.md and docs/results/bayes_*.csv.  Settings of models/hier.toml were chosen
on validation devices and leave-one-source-out, never on the targets.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, Prefitted, cached_hier_fit, load_fit, md_table, provenance  # noqa: E402

import latxfer  # noqa: E402
from latxfer.errors import ConvergenceWarning  # noqa: E402
from latxfer.evaluate import evaluate, measured_sample, summarize  # noqa: E402
from latxfer.models import LatencyModel  # noqa: E402
from latxfer.models.latency_model import PSRCC_DISCREPANCY  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def fmt_pm(df, metric):
    """mean ± sd table over (method, n) x target, plus the mean and min over the targets shown."""
    d = df[(df.metric == metric) & (df.target != "mean")]
    m = d.pivot_table(index=["method", "n"], columns="target", values="mean", sort=False)
    s = d.pivot_table(index=["method", "n"], columns="target", values="sd", sort=False)
    out = m.round(3).astype(str) + " ± " + s.round(3).astype(str)
    out["mean"] = m.mean(axis=1).round(3)
    out["min"] = m.min(axis=1).round(3)
    return out


def part_nb201(args, log):
    split = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    methods = [LatencyModel(c) for c in args.configs.split(",")]
    for m in methods:
        m.name = m.config["model"]["name"]
    res = evaluate(ds, split.source, split.target + split.validation, methods, args.ns, args.seeds,
                   progress=True)
    summ = summarize(res)
    summ.to_csv(RESULTS / "bayes_nb201.csv", index=False)
    tg = summ[summ.target.isin(split.target)]
    va = summ[summ.target.isin(split.validation)]
    pub = split.published["srcc"]
    log(f"## NB201, HELP split: {len(split.source)} sources, 6 targets (+4 validation devices)\n")
    log("HELP (10 + 10 target measurements, trimmed query set): "
        + ", ".join(f"{k} {v}" for k, v in pub.items()) + f"; mean {split.published['mean']}.\n")
    for metric, title in [("srcc", "SRCC, all unmeasured architectures"),
                          ("srcc_trimmed", "SRCC, HELP's trimmed query set (10th-90th latency percentile)"),
                          ("coverage", "empirical coverage of the 90% predictive intervals"),
                          ("top10", "top-10 overlap (fastest 10 predicted vs true)")]:
        log(f"### Targets: {title} (mean ± sd over {args.seeds} seeds)\n")
        log(md_table(fmt_pm(tg, metric)) + "\n")
    log("### Validation devices (used to choose settings): SRCC and coverage\n")
    log(md_table(fmt_pm(va, "srcc")) + "\n")
    log(md_table(fmt_pm(va, "coverage")) + "\n")
    fit = res["fit_seconds"].to_series().round(1).to_dict()
    log(f"Fit seconds per method: {fit}\n")
    return res


def part_psrcc(args, log):
    split = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    model = _hier_nb201(ds, split)
    rows = []
    Y = {d: ds.latency.sel(device=d).values for d in split.source + split.target + split.validation}
    from scipy.stats import spearmanr

    for t in split.target + split.validation:
        pool = ds.latx.measured(t)
        for seed in range(args.seeds):
            for n in [5, 10, 20]:
                a = measured_sample(pool, t, n, seed)
                post = model.adapt(a, Y[t][a], device=t, rng=seed).posterior
                for p in split.source:
                    true = spearmanr(Y[p], Y[t])[0]
                    r = model.posterior_srcc(Y[p], post, threshold=0.9)  # with PSRCC_DISCREPANCY
                    raw = r.model_posterior()  # the model's own posterior
                    lo, hi = r.interval
                    rlo, rhi = raw.interval
                    rows.append({"target": t, "seed": seed, "n": n, "proxy": p, "true": true, "mean": r.mean,
                                 "lower": lo, "upper": hi, "covered": lo <= true <= hi,
                                 "p_above": r.p_above, "decision": r.decision(),
                                 "raw_lower": rlo, "raw_upper": rhi, "raw_covered": rlo <= true <= rhi,
                                 "raw_decision": raw.decision(),
                                 "role": "target" if t in split.target else "validation"})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_posterior_srcc.csv", index=False)
    log("## Calibration of posterior_srcc(proxy, target)\n")
    log("Every source device as proxy, every target / validation device, "
        f"{args.seeds} seeds; the true SRCC is over all 15,625 architectures.  The interval includes the model "
        f"discrepancy PSRCC_DISCREPANCY = {PSRCC_DISCREPANCY} (sd on the Fisher-z scale, chosen on devices that "
        "are not targets); `raw` is the model's own posterior.\n")
    tab = df.groupby(["role", "n"]).agg(cases=("covered", "size"), coverage_90=("covered", "mean"),
                                         raw_coverage_90=("raw_covered", "mean"))
    tab["mean_abs_error"] = df.assign(e=(df["mean"] - df["true"]).abs()).groupby(["role", "n"])["e"].mean()
    tab["mean_width"] = df.assign(w=df.upper - df.lower).groupby(["role", "n"])["w"].mean()
    log(md_table(tab.round(3)) + "\n")
    per = df[df.role == "target"].groupby(["target", "n"])[["covered", "raw_covered"]].mean().unstack().round(3)
    per.columns = [f"{'raw' if c == 'raw_covered' else 'with discrepancy'}, n = {n}" for c, n in per.columns]
    log("Coverage per target:\n\n" + md_table(per) + "\n")
    # decision quality: when the posterior says reuse / adapt, how often is it right?
    for col, what in [("decision", "with discrepancy"), ("raw_decision", "raw")]:
        d = df[df[col] != "measure more"]
        right = ((d[col] == "reuse") & (d.true >= 0.9)) | ((d[col] == "adapt") & (d.true < 0.9))
        dec = d.assign(right=right).groupby("n")["right"].agg(["size", "mean"]).rename(
            columns={"size": "decided", "mean": "correct"})
        dec["measure_more"] = df[df[col] == "measure more"].groupby("n").size()
        log(f"Reuse/adapt decisions ({what}; confidence 0.9, threshold 0.9): how many were made and how many "
            "were right\n")
        log(md_table(dec.round(3)) + "\n")


def _hier_nb201(ds, split):
    return cached_hier_fit(OUT / "nb201_help_hier.zarr", ds.latx.select(split.source))


def part_fbnet(args, log):
    ds = latxfer.load_dataset("fbnet-help")
    split = latxfer.get_split("fbnet", "help")
    res = evaluate(ds, split.source, split.target + split.validation, [LatencyModel(args.fbnet_config)], args.ns,
                   args.seeds, progress=True)
    summ = summarize(res)
    summ.to_csv(RESULTS / "bayes_fbnet.csv", index=False)
    tg = summ[summ.target.isin(split.target)]
    log(f"## FBNet, HELP split ({len(split.source)} sources, model `{args.fbnet_config}`)\n")
    log("HELP (10 + 10): " + ", ".join(f"{k} {v}" for k, v in split.published["srcc"].items())
        + f"; mean {split.published['mean']}.\n")
    for metric in ["srcc", "srcc_trimmed", "coverage"]:
        log(f"### {metric}\n\n" + md_table(fmt_pm(tg, metric)) + "\n")
    va = summ[summ.target.isin(split.validation)]
    log("### validation devices: srcc\n\n" + md_table(fmt_pm(va, "srcc")) + "\n")
    rows = []
    for t in range(1, 6):
        task = latxfer.get_split("fbnet", f"nasflat_{t}")
        r = evaluate(ds, task.source, task.target, [LatencyModel(args.fbnet_config)], [20], args.seeds,
                     progress=False)
        s = summarize(r)
        s = s[s.target != "mean"]
        sr, cv = s[s.metric == "srcc"]["mean"], s[s.metric == "coverage"]["mean"]
        rows.append({"task": t, "sources": len(task.source), "targets": ", ".join(task.target),
                     "latxfer_srcc": round(sr.mean(), 3), "latxfer_min_target": round(sr.min(), 3),
                     "latxfer_coverage": round(cv.mean(), 3),
                     "nasflat_published": task.published["task_srcc_nasflat"]})
    df = pd.DataFrame(rows).set_index("task")
    df.to_csv(RESULTS / "bayes_nasflat.csv")
    log(f"### NASFLAT FBNet tasks, n = 20 target measurements ({args.seeds} seeds)\n\n" + md_table(df) + "\n")


FREE_SETTINGS = {"off": 0.0, "0.49 (default)": 0.49}


def part_free(args, log):
    """The free op-cost novelty (``priors.op_free_sd``) on the held splits: same fits, each setting."""
    cases = [("nb201", "help", "nb201-help", [10], args.seeds), ("fbnet", "help", "fbnet-help", [10], args.seeds)]
    cases += [("fbnet", f"nasflat_{t}", "fbnet-help", [20], args.seeds) for t in range(1, 6)]
    rows = []
    for space, name, dsname, ns, seeds in cases:
        split = latxfer.get_split(space, name)
        ds = latxfer.load_dataset(dsname)
        targets = split.target + (split.validation or [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = load_fit(OUT / f"free_{space}_{name}.zarr", ds.latx.select(split.source))
        for setting, sd in FREE_SETTINGS.items():
            m.config["priors"]["op_free_sd"] = sd
            res = evaluate(ds, split.source, targets, [Prefitted(m, "hier")], ns, seeds, progress=False)
            summ = summarize(res)
            summ = summ[summ.target != "mean"]
            for (t, n), g in summ.groupby(["target", "n"]):
                v = g.set_index("metric")["mean"]
                rows.append({"split": f"{space} {name}", "role": "validation" if t in (split.validation or [])
                             else "target", "setting": setting, "target": t, "n": n, "srcc": v["srcc"],
                             "srcc_trimmed": v["srcc_trimmed"], "coverage": v["coverage"]})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_free.csv", index=False)
    log(f"## Free op-cost novelty on the held splits ({args.seeds} seeds; same fit per split)\n")
    log("Mean over each split's targets (validation devices apart) of SRCC / HELP-trimmed SRCC / 90% coverage.\n")
    tab = df.groupby(["split", "role", "n", "setting"], sort=False)[["srcc", "srcc_trimmed", "coverage"]].mean()
    log(md_table(tab.round(3)) + "\n")


NOVELTY_SETTINGS = {"off": [0.0], "fixed 0.1": [0.1], "fixed 0.3": [0.3], "fixed 1.0": [1.0],
                    "grid [0, 0.1, 0.3, 1]": [0.0, 0.1, 0.3, 1.0]}


def part_novelty(args, log):
    """How the novelty grid was chosen: validation devices only, never a target of any split/task."""
    from scipy.stats import spearmanr

    fb = latxfer.get_split("fbnet", "help")
    nb = latxfer.get_split("nb201", "help")
    cases = [
        ("HELP NB201 validation", "nb201-help", nb.source, nb.validation),
        ("HELP FBNet validation", "fbnet-help", fb.source, fb.validation),
        # NASFLAT task 2's phone/CPU sources; GPUs that are no target of any NASFLAT task
        ("FBNet GPUs from phone/CPU sources", "fbnet-help",
         ["essential_ph_1", "gold_6226", "gold_6240", "pixel3", "raspi4"],
         ["titanx_32", "1080ti_64", "titanxp_64", "titanx_1"]),
    ]
    rows = []
    for label, name, src, vals in cases:
        ds = latxfer.load_dataset(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m = LatencyModel("hier").fit(ds.latx.select(src), seed=0)
        for setting, grid in NOVELTY_SETTINGS.items():
            m.config["priors"]["op_count_sd"] = grid
            for n in (10, 20):
                for t in vals:
                    y = ds.latency.sel(device=t).values
                    pool = ds.latx.measured(t)
                    for seed in range(args.novelty_seeds):
                        a = measured_sample(pool, t, n, seed)
                        post = m.adapt(a, y[a], device=t, rng=seed).posterior
                        un = np.ones(len(y), bool)
                        un[np.searchsorted(post.archs, a)] = False
                        lo, hi = np.quantile(post.draws_ms[:, un], [0.05, 0.95], axis=0)
                        rows.append({"case": label, "setting": setting, "n": n, "device": t, "seed": seed,
                                     "srcc": spearmanr(post.mean_fn_ms.mean(0)[un], y[un])[0],
                                     "coverage": np.mean((y[un] >= lo) & (y[un] <= hi))})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_novelty.csv", index=False)
    log("## Choosing the novelty grid (validation devices only)\n")
    log(f"Mean SRCC on unmeasured architectures (and 90% coverage), {args.novelty_seeds} seeds per device.\n")
    tab = df.groupby(["setting", "case", "n"])[["srcc", "coverage"]].mean().round(3)
    tab = tab.apply(lambda r: f"{r.srcc:.3f} ({r.coverage:.2f})", axis=1).unstack(["case", "n"])
    tab = tab.reindex(list(NOVELTY_SETTINGS))
    tab.columns = [f"{c} n={n}" for c, n in tab.columns]
    log(md_table(tab) + "\n")


# the mixture was chosen before the op-linear components existed: they are off in every arm here
MIXTURE_SETTINGS = {name: {"source_shrink": sh, "source_weight": w, "source_linear": 0.0}
                    for name, (sh, w) in {"off": (0.0, 0.0), "shrink 0.1": (0.1, 0.5),
                                          "shrink 0.3 (default)": (0.3, 0.5), "shrink 0.5": (0.5, 0.5),
                                          "shrink 0.3, weight 0.2": (0.3, 0.2)}.items()}


def _prior_cases(m, ds, targets, proxies, ns, seeds, label, rows, settings):
    """Adapt ``m`` to each held-out device under every prior setting (``{name: priors overrides}``)."""
    from scipy.stats import spearmanr

    from latxfer.evaluate import score

    Y = {d: ds.latency.sel(device=d).values for d in set(targets) | set(proxies)}
    true = {(p, t): spearmanr(Y[p], Y[t])[0] for p in proxies for t in targets}
    for setting, priors in settings.items():
        m.config["priors"].update(priors)
        for t in targets:
            pool = ds.latx.measured(t)
            for seed in range(seeds):
                for n in ns:
                    a = measured_sample(pool, t, n, seed)
                    post = m.adapt(a, Y[t][a], device=t, rng=seed).posterior
                    un = ~post.measured
                    lo, hi = np.quantile(post.draws_ms[:, un], [0.05, 0.95], axis=0)
                    sc = score(post.mean(noise_free=True)[un], Y[t][un], lower=lo, upper=hi)
                    yu = Y[t][un]
                    inside = (yu >= lo) & (yu <= hi)
                    q = np.digitize(yu, np.quantile(yu, [0.2, 0.8]))  # fastest fifth, middle, slowest fifth
                    cov = [float(lo_ <= true[(p, t)] <= hi_) for p in proxies
                           for lo_, hi_ in [m.posterior_srcc(Y[p], post).interval]]
                    rows.append({"case": label, "setting": setting, "device": t, "seed": seed, "n": n,
                                 "srcc": sc["srcc"], "srcc_trimmed": sc["srcc_trimmed"], "coverage": sc["coverage"],
                                 "psrcc_coverage": np.mean(cov), "cov_fastest": inside[q == 0].mean(),
                                 "cov_slowest": inside[q == 2].mean(),
                                 "population_weight": post.info.get("population_weight", 1.0),
                                 "linear_weight": sum(post.info.get("source_linear_weights", {}).values()),
                                 "adapt_seconds": post.info["adapt_seconds"]})


def part_mixture(args, log):
    """How the mixture prior was chosen: validation devices, leave-one-source-out, held-out GPUs."""
    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    rows: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = LatencyModel("hier").fit(ds.latx.select(nb.source), seed=0)
        _prior_cases(m, ds, nb.validation, nb.source, (5, 10, 20), args.mixture_seeds, "HELP NB201 validation", rows,
                     MIXTURE_SETTINGS)
        for out in ("pixel3", "samsung_s7"):
            src = [d for d in nb.source if d != out]
            m = LatencyModel("hier").fit(ds.latx.select(src), seed=0)
            _prior_cases(m, ds, [out], src, (5, 10, 20), args.mixture_seeds, "NB201 leave-one-source-out", rows,
                         MIXTURE_SETTINGS)
        fb = latxfer.load_dataset("fbnet-help")
        src = ["essential_ph_1", "gold_6226", "gold_6240", "pixel3", "raspi4"]
        m = LatencyModel("hier").fit(fb.latx.select(src), seed=0)
        _prior_cases(m, fb, ["titanx_32", "1080ti_64", "titanxp_64", "titanx_1"], src, (10, 20), args.mixture_seeds,
                     "FBNet GPUs from phone/CPU sources", rows, MIXTURE_SETTINGS)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_mixture.csv", index=False)
    log(f"## Choosing the mixture prior (validation devices only, {args.mixture_seeds} seeds)\n")
    log("SRCC on unmeasured architectures / HELP-trimmed / 90% per-architecture coverage / coverage of the 90% "
        "posterior_srcc interval (every source as proxy) / posterior weight of the population component.\n")
    for case in df.case.unique():
        tab = (df[df.case == case].groupby(["setting", "n"])
               [["srcc", "srcc_trimmed", "coverage", "psrcc_coverage", "population_weight"]].mean().round(4))
        tab = tab.reindex(list(MIXTURE_SETTINGS), level=0)
        log(f"### {case}\n\n" + md_table(tab) + "\n")


LINEAR_SETTINGS = {"off": {"source_linear": 0.0}, "0.5 (default)": {"source_linear": 0.5},
                   "1.0": {"source_linear": 1.0}}


def part_linear(args, log):
    """How priors.source_linear was chosen: validation devices, leave-one-source-out, held-out GPUs; then OFA."""
    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    seeds = args.mixture_seeds
    rows: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = _hier_nb201(ds, nb)
        _prior_cases(m, ds, nb.validation, nb.source, (5, 10, 20), seeds, "HELP NB201 validation", rows, LINEAR_SETTINGS)
        for out in ("pixel3", "samsung_s7"):
            src = [d for d in nb.source if d != out]
            m = cached_hier_fit(OUT / f"nb201_help_hier_without_{out}.zarr", ds.latx.select(src))
            _prior_cases(m, ds, [out], src, (5, 10, 20), seeds, "NB201 leave-one-source-out", rows, LINEAR_SETTINGS)
        fb = latxfer.load_dataset("fbnet-help")
        src = ["essential_ph_1", "gold_6226", "gold_6240", "pixel3", "raspi4"]
        m = cached_hier_fit(OUT / "fbnet_phonecpu_hier.zarr", fb.latx.select(src))
        _prior_cases(m, fb, ["titanx_32", "1080ti_64", "titanxp_64", "titanx_1"], src, (10, 20), seeds,
                     "FBNet GPUs from phone/CPU sources", rows, LINEAR_SETTINGS)
        # the case that suggested the components (docs/bayes.md, OFA): reported, not used to choose
        ofa = latxfer.load_dataset("ofa-help")
        tg = ["v100_1", "v100_32", "v100_64"]
        src = [d for d in ofa.latx.devices if d not in tg]
        m = cached_hier_fit(OUT / "ofa_gpus_hier.zarr", ofa.latx.select(src))
        _prior_cases(m, ofa, tg, src, (10,), seeds, "OFA V100s from 9 GPUs (suggested the idea; not used to choose)",
                     rows, LINEAR_SETTINGS)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_linear.csv", index=False)
    log(f"## Choosing the op-linear near-source components (priors.source_linear; {seeds} seeds)\n")
    log("SRCC on unmeasured architectures / HELP-trimmed / 90% per-architecture coverage / coverage of the 90% "
        "posterior_srcc interval (every source as proxy) / posterior weight of the op-linear components / "
        "adaptation time (s, fast path).\n")
    for case in df.case.unique():
        tab = (df[df.case == case].groupby(["setting", "n"])
               [["srcc", "srcc_trimmed", "coverage", "psrcc_coverage", "linear_weight", "adapt_seconds"]]
               .mean().round(4))
        tab = tab.reindex(list(LINEAR_SETTINGS), level=0)
        log(f"### {case}\n\n" + md_table(tab) + "\n")
        if case.startswith("OFA") or case.startswith("NB201 leave"):
            per = (df[(df.case == case)].groupby(["device", "setting"])["srcc"].mean().unstack()
                   .reindex(columns=list(LINEAR_SETTINGS)).round(4))
            log("Per device, SRCC (mean over n and seeds):\n\n" + md_table(per) + "\n")


NOISE_POWER_SETTINGS = {"0 (one noise sd)": 0.0, "auto (default)": "auto", "1.0": 1.0}


def part_noisepower(args, log):
    """How model.noise_power was chosen: the same validation cases as the mixture prior, one fit per setting."""
    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    fb = latxfer.load_dataset("fbnet-help")
    fb_src = ["essential_ph_1", "gold_6226", "gold_6240", "pixel3", "raspi4"]
    seeds = args.mixture_seeds
    cases = [("HELP NB201 validation", ds, nb.source, nb.validation, (5, 10, 20))]
    cases += [("NB201 leave-one-source-out", ds, [d for d in nb.source if d != out], [out], (5, 10, 20))
              for out in ("pixel3", "samsung_s7")]
    cases += [("FBNet GPUs from phone/CPU sources", fb, fb_src, ["titanx_32", "1080ti_64", "titanxp_64", "titanx_1"],
               (10, 20))]
    rows: list = []
    fits: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for label, power in NOISE_POWER_SETTINGS.items():
            for case, data, src, targets, ns in cases:
                m = LatencyModel("hier", model={"noise_power": power}).fit(data.latx.select(src), seed=0)
                fits.append({"setting": label, "case": case, "sources": len(src),
                             "power": round(m.fit_info["noise_power"], 3),
                             "max_rhat": round(m.diagnostics.get("max_rhat", float("nan")), 4),
                             "fit_s": round(m.fit_info["fit_seconds"], 1)})
                log(f"{label}: {case} ({targets}) power {fits[-1]['power']}")
                _prior_cases(m, data, targets, src, ns, seeds, case, rows, {label: {}})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_noisepower.csv", index=False)
    log(f"## Choosing the latency-dependent noise (model.noise_power; validation cases only, {seeds} seeds)\n")
    log("Fits (the power `auto` estimates from the sources' residuals):\n\n" + md_table(pd.DataFrame(fits)) + "\n")
    log("SRCC on unmeasured architectures / HELP-trimmed / 90% per-architecture coverage, overall and in the fastest "
        "and slowest fifth of the true latency / coverage of the 90% posterior_srcc interval (every source as "
        "proxy).\n")
    cols = ["srcc", "srcc_trimmed", "coverage", "cov_fastest", "cov_slowest", "psrcc_coverage"]
    for case in df.case.unique():
        tab = df[df.case == case].groupby(["setting", "n"])[cols].mean().round(4)
        log(f"### {case}\n\n" + md_table(tab.reindex(list(NOISE_POWER_SETTINGS), level=0)) + "\n")
    per = (df[df.n == 10].groupby(["case", "device", "setting"])[["srcc", "coverage"]].mean().unstack()
           .round(3))
    per.columns = [f"{a} {b}" for a, b in per.columns]
    log("Per device at n = 10:\n\n" + md_table(per) + "\n")


def part_noise(args, log):
    """Tried, not shipped: a wider population prior for a new device's log noise sd (validation devices)."""
    from latxfer.evaluate import score

    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    m = _hier_nb201(ds, nb)
    base = m.population["log_sigma_sd"].copy()
    rows = []
    try:
        for f in (1.0, 1.5, 2.0):
            m.population["log_sigma_sd"] = base * f
            for t in nb.validation:
                y = ds.latency.sel(device=t).values
                for seed in range(args.mixture_seeds):
                    a = measured_sample(ds.latx.measured(t), t, 10, seed)
                    post = m.adapt(a, y[np.searchsorted(ds.arch.values, a)], device=t, rng=seed).posterior
                    un = ~post.measured
                    lo, hi = post.interval(0.9)
                    sc = score(post.mean(noise_free=True)[un], y[un], lower=lo[un], upper=hi[un])
                    rows.append({"log_sigma_sd_factor": f, "device": t, "seed": seed, "srcc": sc["srcc"],
                                 "coverage": sc["coverage"]})
    finally:
        m.population["log_sigma_sd"] = base
    df = pd.DataFrame(rows)
    log(f"## Tried, not shipped: a wider prior for a new device's log noise sd (n = 10, {args.mixture_seeds} "
        "seeds, HELP NB201 validation devices)\n")
    tab = df.groupby(["log_sigma_sd_factor", "device"])[["srcc", "coverage"]].mean().unstack().round(4)
    tab.columns = [f"{a} {b}" for a, b in tab.columns]
    tab["srcc mean"] = df.groupby("log_sigma_sd_factor")["srcc"].mean().round(4)
    tab["coverage mean"] = df.groupby("log_sigma_sd_factor")["coverage"].mean().round(4)
    log(md_table(tab) + "\n")


def part_quintiles(args, log):
    """Diagnosis, nothing chosen: 90% coverage per quintile of the true latency, and the predictive sd over
    the actual error sd, at n = 10 (HELP NB201 validation devices and targets)."""
    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    m = _hier_nb201(ds, nb)
    rows = []
    for kind, devs in (("validation", nb.validation), ("target", nb.target)):
        for t in devs:
            y = ds.latency.sel(device=t).values
            for seed in range(args.mixture_seeds):
                a = measured_sample(ds.latx.measured(t), t, 10, seed)
                post = m.adapt(a, y[np.searchsorted(ds.arch.values, a)], device=t, rng=seed).posterior
                un = ~post.measured & np.isfinite(y)
                lo, hi = post.interval(0.9)
                mu = post.mean(noise_free=True)
                inside = (y >= lo) & (y <= hi)
                q = np.digitize(y, np.quantile(y[un], [0.2, 0.4, 0.6, 0.8]))
                row = {"kind": kind, "device": t, "seed": seed, "coverage": inside[un].mean(),
                       "sd_ratio": float(((hi - lo) / (2 * 1.645))[un].mean() / np.std(y[un] - mu[un]))}
                row.update({f"q{k + 1}": inside[un & (q == k)].mean() for k in range(5)})
                rows.append(row)
    df = pd.DataFrame(rows)
    tab = df.groupby(["kind", "device"])[["coverage", "q1", "q2", "q3", "q4", "q5", "sd_ratio"]].mean().round(3)
    log(f"## Coverage by latency quintile (diagnosis; n = 10, {args.mixture_seeds} seeds)\n")
    log("90% interval coverage on the unmeasured architectures, overall and per quintile of the true latency "
        "(q1 fastest); `sd_ratio`: mean predictive sd (from the 90% interval) over the sd of the actual errors "
        "of the posterior mean.\n")
    log(md_table(tab) + "\n")


def part_layers(args, log):
    """Layer-wise vs end-to-end target measurements of the same architectures (FBNet HELP split)."""
    from latxfer.evaluate import score

    fb = latxfer.get_split("fbnet", "help")
    ds = latxfer.load_dataset("fbnet-help")
    lay = latxfer.load_dataset("fbnet-layers")
    m = cached_hier_fit(OUT / "fbnet_help_hier.zarr", ds.latx.select(fb.source))
    targets = [t for t in fb.target if t in lay.latx.devices]
    rows = []
    for t in targets:
        y = ds.latency.sel(device=t).values
        L = lay.latency.sel(device=t).sel(arch=ds.arch.values).values
        inter = float(lay["intercept_ms"].sel(device=t))
        pool = ds.latx.measured(t)
        for n in (2, 5, 10):
            for seed in range(args.layer_seeds):
                a = measured_sample(pool, t, n, seed)
                pos = np.searchsorted(ds.arch.values, a)
                arms = [("end-to-end", m.adapt, (a, y[pos]), {}),
                        ("layers + intercept", m.adapt_layers, (a, L[pos]), {"intercept_ms": inter}),
                        ("layers only", m.adapt_layers, (a, L[pos]), {})]
                for arm, fn, fargs, kw in arms:
                    t0 = time.perf_counter()
                    post = fn(*fargs, device=t, rng=seed, **kw).posterior
                    sec = time.perf_counter() - t0
                    un = np.ones(len(y), bool)
                    un[pos] = False
                    lo, hi = np.quantile(post.draws_ms[:, un], [0.05, 0.95], axis=0)
                    sc = score(post.mean_fn_ms.mean(0)[un], y[un], lower=lo, upper=hi)
                    rows.append({"target": t, "n": n, "seed": seed, "observations": arm, "srcc": sc["srcc"],
                                 "srcc_trimmed": sc["srcc_trimmed"], "coverage": sc.get("coverage", np.nan),
                                 "seconds": sec})
        print(f"layers: {t} done", file=sys.stderr, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_layers.csv", index=False)
    log(f"## Layer-wise target measurements (FBNet HELP split, {args.layer_seeds} seeds)\n")
    log("Same n architectures per seed in every arm; scores on the unmeasured architectures; "
        "coverage of the 90% end-to-end latency interval.\n")
    for metric in ("srcc", "srcc_trimmed", "coverage"):
        tab = df.groupby(["observations", "n", "target"])[metric].agg(["mean", "std"])
        tab = (tab["mean"].round(3).astype(str) + " ± " + tab["std"].round(3).astype(str)).unstack("target")
        tab["mean"] = df.groupby(["observations", "n"])[metric].mean().round(3)
        log(f"### {metric}\n\n" + md_table(tab) + "\n")
    sec = df.groupby(["observations", "n"])["seconds"].mean().round(2).unstack("n")
    log("### seconds per adaptation (mean)\n\n" + md_table(sec) + "\n")


def part_exact(args, log):
    split = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    model = LatencyModel("hier").fit(ds.latx.select(split.source), seed=0)
    from latxfer.evaluate import score

    rows = []
    for t in ["gold_6240", "titanx_1", "pixel2", "raspi4"]:
        y = ds.latency.sel(device=t).values
        for seed in range(args.exact_seeds):
            a = measured_sample(ds.latx.measured(t), t, 10, seed)
            q = np.setdiff1d(np.arange(15625), a)
            for meth in ["fast", "exact"]:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    ad = model.adapt(a, y[a], device=t, rng=seed, method=meth)
                el = time.perf_counter() - t0
                p = ad.predict(q)
                sc = score(p.mean_ms, y[q], lower=p.lower_ms, upper=p.upper_ms)
                rows.append({"target": t, "seed": seed, "method": meth, "srcc": sc["srcc"],
                             "srcc_trimmed": sc["srcc_trimmed"], "coverage": sc["coverage"], "seconds": el})
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "bayes_fast_vs_exact.csv", index=False)
    tab = df.groupby(["target", "method"])[["srcc", "srcc_trimmed", "coverage", "seconds"]].mean().round(3)
    log(f"## Fast (conditional) vs exact (joint re-fit) adaptation, n = 10, {args.exact_seeds} seeds\n")
    log(md_table(tab.unstack("method")) + "\n")


def part_speed(args, log):
    split = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    fits = []
    for seed in range(args.speed_fits):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True):
            m = LatencyModel("hier").fit(ds.latx.select(split.source), seed=seed)
        fits.append({"seed": seed, "fit_seconds": round(time.perf_counter() - t0, 1),
                     "max_rhat": round(m.diagnostics["max_rhat"], 4), "min_ess": round(m.diagnostics["min_ess"]),
                     "divergences": m.diagnostics["divergences"]})
    y = ds.latency.sel(device="pixel2").values
    rows = []
    for n in (10, 30, 60, 100):  # 10: the issue's target; 30-60: what `latxfer plan` re-adapts to
        times = []
        for seed in range(20 if n == 10 else 5):
            a = measured_sample(ds.latx.measured("pixel2"), "pixel2", n, seed)
            t0 = time.perf_counter()
            ad = m.adapt(a, y[a], rng=seed)
            s = ad.posterior.summary(0.9)
            times.append(time.perf_counter() - t0)
            assert s.sizes["arch"] == 15625
        rows.append({"n": n, "calls": len(times), "median_s": round(float(np.median(times)), 3),
                     "max_s": round(float(np.max(times)), 3)})
    log("## Speed (2-core machine)\n")
    log("Fit of the HELP NB201 source split (9 devices, models/hier.toml):\n\n" + md_table(pd.DataFrame(fits)) + "\n")
    log(f"Adapt (n = 10) + predict all 15,625 architectures with 90% intervals, model loaded: median "
        f"{rows[0]['median_s']:.3f} s, max {rows[0]['max_s']:.3f} s over {rows[0]['calls']} calls.  By the number "
        "of target measurements n (pixel2, random architectures):\n\n" + md_table(pd.DataFrame(rows)) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--ns", default="0,5,10,20,50")
    ap.add_argument("--configs", default="hier,pooled,unpooled")
    ap.add_argument("--parts", default="nb201,psrcc,fbnet,exact,speed")
    ap.add_argument("--exact-seeds", type=int, default=2)
    ap.add_argument("--novelty-seeds", type=int, default=3)
    ap.add_argument("--layer-seeds", type=int, default=5)
    ap.add_argument("--mixture-seeds", type=int, default=3)
    ap.add_argument("--speed-fits", type=int, default=3)
    ap.add_argument("--fbnet-config", default="hier",
                    help="model configuration of the FBNet fits (FBNet has 176 op-cost features per device)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(RESULTS / "bayes.md"))
    args = ap.parse_args(argv)
    args.ns = [int(x) for x in args.ns.split(",")]
    if args.quick:
        args.seeds, args.ns, args.exact_seeds, args.speed_fits = 2, [0, 10], 1, 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    parts = args.parts.split(",")
    text = [f"# Bayesian core benchmarks\n\n{provenance()}\n"]

    def log(s=""):
        print(s, flush=True)
        text.append(s)
        out.write_text("\n".join(text) + "\n")

    for p in parts:
        t0 = time.perf_counter()
        {"nb201": part_nb201, "psrcc": part_psrcc, "fbnet": part_fbnet, "exact": part_exact,
         "speed": part_speed, "novelty": part_novelty, "layers": part_layers,
         "mixture": part_mixture, "linear": part_linear,
         "noise": part_noise, "quintiles": part_quintiles, "noisepower": part_noisepower,
         "free": part_free}[p](args, log)
        log(f"_(part {p}: {time.perf_counter() - t0:.0f} s)_\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
