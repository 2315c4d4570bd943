"""Devices unlike the sources: leave one device out, leave one family out, own-data learners and ceilings.

Protocol (issue 30; nothing here is tuned on a HELP or NASFLAT target, and nothing chooses a setting)::

    LATXFER_DATA=../shared/data OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/transfer.py \
        --protocols lofo,lodo --seeds 3

1. **Leave one family out** (``lofo``): the 27 HELP NB201 devices in five families by ``device_kind``:
   ``gpu`` (15), ``mobile`` (5), ``cpu`` (4 Xeons), ``simulated`` (eyeriss, fpga) and ``hwnb`` (the
   HW-NAS-Bench devices without a HELP twin: raspi4, and HW-NAS-Bench's edge GPU and edge TPU, which
   measured 1,999 / 1,740 architectures).  ``hier`` is fitted on every HELP device outside the family.
   **Leave one device out** (``lodo``): each HELP device, ``hier`` fitted on the other 26.
2. Next to ``hier``, on the same samples (``latxfer.evaluate``: nested in n, shared by every method): the
   **own-data learners** (:mod:`latxfer.baselines.own`: ridge and a GP on the device's own n measurements
   over the op encoding with pairwise terms) and the **ceiling**: the better of the own-data ridge on log
   latency and on milliseconds, fitted on a random 75% of the device's measured architectures and scored
   on the other 25% (the GP is not fitted at that size; its kernel is the ridge's features).
3. **More sources** (``sources``): the HELP split's 9 sources against the 26 HELP devices outside the
   ``hwnb`` family, on raspi4 and the two edge devices, the same samples for both.
4. n = 0, 5, 10, 20, 50, 100 (``--ns``), ``--seeds`` seeds; SRCC on unmeasured architectures, full and
   HELP-trimmed (10th-90th latency percentile), and coverage of the 90% intervals.

Fits are cached in ``benchmarks/out/transfer/`` (``--cache``); a cached fit made with another
configuration is refitted.  Writes ``transfer.md`` / ``transfer*.csv`` / ``transfer.png`` under
``docs/results/`` (or ``$LATXFER_BENCH_RESULTS``).  About 5 minutes per fit of 26 sources on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, Prefitted, load_fit, md_table, provenance  # noqa: E402

import latxfer  # noqa: E402
from latxfer import dims as D  # noqa: E402
from latxfer.baselines.own import OwnGP, OwnRidge  # noqa: E402
from latxfer.data.datasets import load_space  # noqa: E402
from latxfer.evaluate import evaluate, summarize  # noqa: E402
from latxfer.ranks import srcc  # noqa: E402

HWNB = ["hwnb_edgegpu", "hwnb_edgetpu"]
OWN = ["own-ridge", "own-gp"]


def combined() -> xr.Dataset:
    """The 27 HELP NB201 devices + HW-NAS-Bench's edge GPU and edge TPU on the 15,625 NB201 architectures."""
    help_ = latxfer.load_dataset("nb201-help")
    hw = latxfer.load_dataset("nb201-hwnasbench").sel(device=HWNB)
    keep = [D.LATENCY, "n_obs"]
    b = hw[keep].reindex(arch=help_.arch)
    b["n_obs"] = b["n_obs"].fillna(0).astype(np.int64)
    ds = xr.concat([help_[keep], b], dim=D.DEVICE, coords="different", compat="equals", join="outer")
    for v in ["ops", "arch_str"]:
        ds[v] = help_[v]
    ds.attrs = dict(help_.attrs, name="nb201-help + hwnasbench edge devices")
    return ds


def families(ds: xr.Dataset) -> dict[str, list[str]]:
    """The five device families of the protocol (module docstring)."""
    kind = {str(d): str(k) for d, k in zip(ds[D.DEVICE].values, ds["device_kind"].values, strict=True)}
    fam = {"gpu": [], "mobile": [], "cpu": [], "simulated": [], "hwnb": list(HWNB)}
    for d, k in kind.items():
        if d in HWNB:
            continue
        key = {"gpu": "gpu", "mobile": "mobile", "cpu": "cpu", "asic": "simulated", "fpga": "simulated",
               "edge_cpu": "hwnb"}[k]
        fam[key].append(d)
    return fam


def ceiling(ds, space, device: str, share: float = 0.75, seed: int = 0) -> dict:
    """SRCC (full, trimmed) of the own-data ridge fitted on ``share`` of the device's measured architectures."""
    y = ds[D.LATENCY].sel(device=device).values
    pool = np.flatnonzero(np.isfinite(y))
    perm = np.random.default_rng([seed, len(pool)]).permutation(pool)
    k = int(share * len(pool))
    tr, te = np.sort(perm[:k]), np.sort(perm[k:])
    archs = ds[D.ARCH].values
    lo, hi = np.quantile(y[te], [0.1, 0.9])
    keep = (y[te] >= lo) & (y[te] <= hi)
    best = None
    for log in (True, False):
        a = OwnRidge(log=log).fit(None, space).adapt(archs[tr], y[tr])
        pred = a.predict(archs[te]).mean_ms
        r = {"device": device, "ceiling": srcc(pred, y[te]), "ceiling_trimmed": srcc(pred[keep], y[te][keep]),
             "ceiling_scale": "log" if log else "ms", "ceiling_pair_weight": a.info["pair_weight"],
             "ceiling_train": k}
        if best is None or r["ceiling"] > best["ceiling"]:
            best = r
    return best


def run_fold(ds, space, name: str, sources: list[str], targets: list[str], args, cache: Path) -> pd.DataFrame:
    """Fit (or load) ``hier`` on ``sources`` and evaluate it and the own-data learners on ``targets``."""
    t0 = time.perf_counter()
    model = load_fit(cache / f"{name}.zarr", ds.latx.select(sources), args.config)
    fit_s = time.perf_counter() - t0
    methods = [Prefitted(model, "hier"), OwnRidge(), OwnGP()]
    res = evaluate(ds, sources, targets, methods, args.ns, args.seeds, progress=False, space=space)
    summ = summarize(res)
    summ = summ[summ.target != "mean"].pivot_table(index=["method", "target", "n"], columns="metric",
                                                   values="mean").add_suffix("_mean").reset_index()
    summ.insert(0, "fold", name)
    print(f"{name}: {len(sources)} sources, fit/load {fit_s:.0f} s, evaluated {len(targets)} target(s) in "
          f"{time.perf_counter() - t0 - fit_s:.0f} s", flush=True)
    return summ


def report(summ: pd.DataFrame, ceil: pd.DataFrame, protocol: str, log) -> pd.DataFrame:
    """Per-n means over devices, the targets' checks, and a per-device table at n = 10 and 50."""
    s = summ.copy()
    piv = s.pivot_table(index=["target", "n"], columns="method", values="srcc_mean")
    piv_t = s.pivot_table(index=["target", "n"], columns="method", values="srcc_trimmed_mean")
    cov = s.pivot_table(index=["target", "n"], columns="method", values="coverage_mean")
    by_n = pd.concat({"srcc": piv.groupby("n").mean(), "trimmed": piv_t.groupby("n").mean(),
                      "coverage": cov.groupby("n").mean()}, axis=1).round(3)
    by_n.columns = [f"{a} {b}" for a, b in by_n.columns]
    log(f"### {protocol}: mean over devices (SRCC on unmeasured architectures; HELP-trimmed; 90% coverage)\n")
    log(md_table(by_n) + "\n")
    c = ceil.set_index("device")
    rows = []
    for (t, n), r in piv.iterrows():
        own = max(r.get("own-ridge", np.nan), r.get("own-gp", np.nan))
        rows.append({"device": t, "n": n, "hier": r["hier"], "own best": own,
                     "hier - own": r["hier"] - own if np.isfinite(own) else np.nan,
                     "ceiling": c.loc[t, "ceiling"], "ceiling - hier": c.loc[t, "ceiling"] - r["hier"],
                     "coverage": cov.loc[(t, n), "hier"]})
    dev = pd.DataFrame(rows)
    for n in (10, 50):
        log(f"#### {protocol}, n = {n}: per device\n")
        log(md_table(dev[dev.n == n].drop(columns="n").set_index("device").round(3)) + "\n")
    below = dev[(dev["hier - own"] < 0)]
    log(f"Cases with hier below the better own-data learner (device x n, seed means): {len(below)} of "
        f"{int(dev['hier - own'].notna().sum())}" + (": " + ", ".join(
            f"{r.device} n={r.n} ({r['hier - own']:+.3f})" for _, r in below.iterrows()) if len(below) else "")
        + "\n")
    return dev


def plot(summ: pd.DataFrame, ceil: pd.DataFrame, fam: dict, path: Path) -> None:
    """SRCC vs n per family: hier, the own-data learners, the ceiling (mean over the family's devices)."""
    from matplotlib.figure import Figure

    fams = [f for f in fam if any(d in set(summ.target) for d in fam[f])]
    fig = Figure(figsize=(3.2 * len(fams), 3.0), layout="constrained")
    axes = fig.subplots(1, len(fams), sharey=True, squeeze=False)[0]
    c = ceil.set_index("device")["ceiling"]
    for ax, f in zip(axes, fams, strict=True):
        s = summ[summ.target.isin(fam[f])]
        for meth, style in [("hier", "-o"), ("own-ridge", "--s"), ("own-gp", ":^")]:
            m = s[s.method == meth].groupby("n")["srcc_mean"].mean()
            ax.plot(m.index, m.values, style, ms=4, label=meth)
        ax.axhline(c[c.index.isin(fam[f])].mean(), color="grey", lw=1, label="ceiling (75% own)")
        ax.set_title(f"{f} left out ({len(fam[f])})", fontsize=9)
        ax.set_xscale("symlog", linthresh=5)
        ax.set_xlabel("target measurements n")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SRCC, unmeasured architectures")
    axes[0].set_ylim(0.3, 1.0)
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", default="lofo,lodo,sources")
    ap.add_argument("--ns", default="0,5,10,20,50,100")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--families", default=None, help="lofo: only these families (comma list)")
    ap.add_argument("--devices", default=None, help="lodo: only these devices (comma list)")
    ap.add_argument("--config", default="hier",
                    help="model configuration (a cached fit whose fit-time settings match is reused)")
    ap.add_argument("--cache", default=str(Path(__file__).resolve().parent / "out" / "transfer"))
    ap.add_argument("--out", default="transfer")
    ap.add_argument("--report-only", action="store_true", help="rebuild the report from the saved CSVs")
    args = ap.parse_args(argv)
    args.ns = [int(v) for v in args.ns.split(",")]
    cache = Path(args.cache)
    RESULTS.mkdir(parents=True, exist_ok=True)
    ds = combined()
    space = load_space("nb201")
    fam = families(ds)
    help_devs = [d for f in fam.values() for d in f if d not in HWNB]
    lines = [f"# Devices unlike the sources: leave-one-family-out and leave-one-device-out ({args.out})\n",
             provenance(), "",
             "Protocol: `benchmarks/transfer.py`'s docstring.  Families: "
             + "; ".join(f"{f}: {', '.join(v)}" for f, v in fam.items()) + ".\n"]
    log = lines.append
    if args.report_only:
        log("Rebuilt from the saved CSVs of `benchmarks/transfer.py --protocols lofo,lodo --seeds 3` and "
            "`--protocols sources --seeds 10` (`--report-only`).\n")
    t_all = time.perf_counter()
    ceil_csv = RESULTS / f"{args.out}_ceiling.csv"
    if args.report_only and ceil_csv.exists():
        ceil = pd.read_csv(ceil_csv)
    else:
        ceil = pd.DataFrame([ceiling(ds, space, d) for d in help_devs + HWNB])
        ceil.round(4).to_csv(ceil_csv, index=False)
    for protocol in [] if args.report_only else args.protocols.split(","):
        if protocol == "lofo":
            chosen = args.families.split(",") if args.families else list(fam)
            folds = [(f"lofo_{f}", [d for d in help_devs if d not in fam[f]], fam[f]) for f in chosen]
        elif protocol == "lodo":
            chosen = args.devices.split(",") if args.devices else help_devs
            folds = [(f"lodo_{d}", [s for s in help_devs if s != d], [d]) for d in chosen]
        elif protocol == "sources":
            # do more sources help?  The HELP split's 9 sources vs every HELP device but the targets (26),
            # on the same samples of the devices outside both: raspi4 and the two edge devices
            nine = latxfer.get_split("nb201", "help").source
            targets = fam["hwnb"]
            folds = [("sources_help9", nine, targets), ("lofo_hwnb", [d for d in help_devs if d not in targets], targets)]
        else:
            raise SystemExit(f"--protocols: unknown protocol {protocol!r}; expected lofo, lodo or sources")
        parts = []
        for name, sources, targets in folds:
            parts.append(run_fold(ds, space, name, sources, targets, args, cache))
            # saved after every fold: a long run that is stopped keeps what it did
            summ = pd.concat(parts, ignore_index=True)
            summ.insert(0, "protocol", protocol)
            summ.to_csv(RESULTS / f"{args.out}_{protocol}.csv", index=False)
    # the report: every protocol whose results exist (this run's or an earlier one's)
    for protocol in ("lofo", "lodo", "sources"):
        path = RESULTS / f"{args.out}_{protocol}.csv"
        if not path.exists():
            continue
        summ = pd.read_csv(path)
        if protocol == "sources":
            log("## Do more sources help? 9 HELP sources vs 26 (every HELP device but the targets)\n")
            tab = summ[summ.method == "hier"].pivot_table(index=["target", "n"], columns="fold",
                                                          values=["srcc_mean", "coverage_mean"])
            tab.columns = [f"{a.replace('_mean', '')} {b}" for a, b in tab.columns]
            log(md_table(tab.round(3)) + "\n")
            continue
        log(f"## {protocol} ({summ.fold.nunique()} folds, {summ.target.nunique()} devices)\n")
        if protocol == "lofo":
            plot(summ, ceil, fam, RESULTS / f"{args.out}_{protocol}.png")
            log(f"![SRCC vs n, leave one family out]({args.out}_{protocol}.png)\n")
        dev = report(summ, ceil, protocol, log)
        dev.round(4).to_csv(RESULTS / f"{args.out}_{protocol}_devices.csv", index=False)
    log("## Ceilings: own-data ridge on 75% of the device, scored on the rest\n")
    log(md_table(ceil.set_index("device").round(4)) + "\n")
    log(f"This run: {time.perf_counter() - t_all:.0f} s.\n")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
