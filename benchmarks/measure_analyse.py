"""Analysis stage of ``benchmarks/measure.py``: noise, cost, backend SRCC, few-shot adaptation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BACKENDS = ("jax", "onnxruntime")
NS = (5, 10, 20)
N_SPLITS = 20


def _fit(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "latxfer.cli", "fit", "--dataset", "nb201-help", "--sources", "help",
                    "--out", str(path)], check=True)


def _noise_cost(results: Path) -> pd.DataFrame:
    rows = []
    for be in BACKENDS:
        raw = pd.read_csv(results / f"measure_{be}.csv")
        g = raw.groupby("arch_index")["latency_ms"]
        med = g.median()
        spread = (g.quantile(0.9) - g.quantile(0.1)) / med
        costs = pd.read_csv(results / f"measure_costs_{be}.csv")
        meta = json.loads((results / f"measure_{be}.csv.json").read_text())
        rows.append({"backend": be, "archs": int(med.size), "repeats": int(g.size().median()),
                     "median latency ms": round(float(med.median()), 3),
                     "min-max ms": f"{med.min():.2f}-{med.max():.2f}",
                     "median relative spread (p90-p10)/median": round(float(spread.median()), 3),
                     "same, quietest quarter of archs": round(float(spread.quantile(0.25)), 3),
                     "median compile / export s": round(float(costs["compile_s"].median()), 2),
                     "median timing s (warm-up + repeats)": round(float(costs["time_s"].median()), 3),
                     "RSS MB first -> last": f"{costs['rss_mb'].iloc[0]:.0f} -> {costs['rss_mb'].iloc[-1]:.0f}",
                     "threads": meta.get("threads"),
                     "load avg (1 min) at start": round(meta["runs"][0]["load_avg_1m"], 1)})
    return pd.DataFrame(rows).set_index("backend")


def _adapt_table(model, help_ds, targets: dict[str, pd.Series]) -> pd.DataFrame:
    from latxfer.ranks import srcc

    sources = list(model.source_devices)
    lat = help_ds.latx.select(sources)
    src = lat.latx.latency_matrix()
    src_archs = lat["arch"].values
    rows = []
    for be, y in targets.items():
        archs = y.index.to_numpy(np.int64)
        pos = np.searchsorted(src_archs, archs)
        proxy = src[:, pos]  # (source, arch)
        for n in NS:
            res = {"srcc": [], "coverage": [], "proxy_chosen": [], "proxy_oracle": []}
            for s in range(N_SPLITS):
                rng = np.random.default_rng(1000 * n + s)
                pick = rng.choice(len(archs), n, replace=False)
                rest = np.setdiff1d(np.arange(len(archs)), pick)
                ad = model.adapt(archs[pick], y.to_numpy()[pick], device=be, rng=s)
                pred = ad.predict(archs[rest], interval=0.9)
                truth = y.to_numpy()[rest]
                res["srcc"].append(srcc(pred.mean_ms, truth))
                res["coverage"].append(float(np.mean((truth >= pred.lower_ms) & (truth <= pred.upper_ms))))
                on_pick = [srcc(proxy[d, pick], y.to_numpy()[pick]) for d in range(len(sources))]
                best = int(np.nanargmax(on_pick))
                res["proxy_chosen"].append(srcc(proxy[best, rest], truth))
                res["proxy_oracle"].append(max(srcc(proxy[d, rest], truth) for d in range(len(sources))))
            row = {"device": f"{be}-cpu (this machine)", "n": n}
            for k, v in res.items():
                v = np.asarray(v, float)
                row[k] = f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1) / np.sqrt(v.size):.3f}"
            rows.append(row)
        whole = {d: srcc(proxy[i], y.to_numpy()) for i, d in enumerate(sources)}
        best = max(whole, key=whole.get)
        rows.append({"device": f"{be}-cpu (this machine)", "n": "all", "srcc": "",
                     "coverage": "", "proxy_chosen": "", "proxy_oracle": f"{whole[best]:.3f} ({best})"})
    cols = {"srcc": "adapted SRCC on the rest", "coverage": "90% interval coverage",
            "proxy_chosen": "proxy chosen on the n (SRCC on the rest)",
            "proxy_oracle": "best single source proxy (oracle, on the rest)"}
    return pd.DataFrame(rows).rename(columns=cols).set_index(["device", "n"])


def _spread(results: Path, be: str) -> pd.Series:
    g = pd.read_csv(results / f"measure_{be}.csv").groupby("arch_index")["latency_ms"]
    return (g.quantile(0.9) - g.quantile(0.1)) / g.median()


def analyse(args, results: Path) -> None:
    """Write ``docs/results/measure.md`` from the measured CSVs."""
    from _common import md_table, provenance

    import latxfer
    import latxfer.measure
    from latxfer.models import load_model
    from latxfer.ranks import srcc

    model_path = Path(args.model) if args.model else results / "measure_help_model.zarr"
    if not model_path.exists():
        _fit(model_path)
    model = load_model(model_path)
    targets = {be: latxfer.read_csv(results / f"measure_{be}.csv", space="nb201").latx.latency_matrix()[0]
               for be in BACKENDS}
    arch = {be: latxfer.read_csv(results / f"measure_{be}.csv", space="nb201")["arch"].values for be in BACKENDS}
    ys = {be: pd.Series(targets[be], index=arch[be]) for be in BACKENDS}
    common = ys["jax"].index.intersection(ys["onnxruntime"].index)
    between = srcc(ys["jax"][common].to_numpy(), ys["onnxruntime"][common].to_numpy())
    noise = _noise_cost(results)
    help_ds = latxfer.load_dataset("nb201-help")
    table = _adapt_table(model, help_ds, {be: ys[be][common] for be in BACKENDS})
    table.to_csv(results / "measure_adapt.csv")
    load = (results / "measure_load.txt").read_text().strip()
    spread_srcc = {be: srcc(ys[be][common].to_numpy(), _spread(results, be)[common].to_numpy())
                   for be in BACKENDS}
    space = latxfer.measure.load_measure_space("nb201")
    flops_srcc = {be: srcc(space.flops(common.to_numpy()), ys[be][common].to_numpy()) for be in BACKENDS}
    text = "\n".join([
        "# Measuring NB201 on this machine: two new devices (XLA CPU, ONNX Runtime CPU)", "",
        provenance(), f"- model: fitted on the HELP sources (`latxfer fit --dataset nb201-help --sources help`), "
        f"{model_path.name}", "", "Machine load while measuring (`uptime`; the 2 cores were shared with other jobs):",
        "", "```", load, "```", "",
        "## Repeat noise and cost per architecture", "", md_table(noise), "",
        f"SRCC between the two backends on the {len(common)} architectures: **{between:.3f}**.", "",
        "Load (1-minute average) at the start of each backend's run: "
        + ", ".join(f"{be} {r['load avg (1 min) at start']}" for be, r in noise.iterrows())
        + " on 2 cores; where it exceeds the cores, part of the repeats' spread is contention from other "
        "jobs, not the runtime's own noise, and it bounds every SRCC below.  SRCC between an "
        "architecture's median latency and its relative spread: "
        + ", ".join(f"{be} {v:.2f}" for be, v in spread_srcc.items()) + ".  SRCC of the analytic FLOPs "
        "(`NB201Space.flops`) with each backend's latency: "
        + ", ".join(f"{be} {v:.3f}" for be, v in flops_srcc.items()) + ".", "",
        f"## Few-shot adaptation of the HELP model ({N_SPLITS} random draws of the n measured architectures, "
        "mean ± s.e.)", "",
        "Adapted from n measurements of the device, scored on the other architectures measured; next to it "
        "the best of the 9 HELP source devices used as a proxy (chosen on the same n, and the oracle best).", "",
        md_table(table), ""])
    (results / "measure.md").write_text(text, encoding="utf-8")
    print(text)
