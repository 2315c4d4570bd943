"""Calibration of posterior_srcc on devices that are not targets, per device and side of the miss.

HELP NB201 validation devices (model fitted on the nine sources) and pixel3 / samsung_s7 / essential_ph_1
each left out of the sources; n = 10 and 20 random measurements, seeds 0-4, every source as proxy.

Usage (from the repository root; fits are cached in benchmarks/out)::

    LATXFER_DATA=... python docs/results/experiments/psrcc_nontarget.py OUT.csv

Prints, per device and n, the share of true proxy-target SRCCs inside the 90% interval, above and below
it, and the 90th percentile of |z(true) - z(mean)| / half-width on the Fisher-z scale (the widening the
interval would need to hold 90% of them).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import cached_hier_fit  # noqa: E402

import latxfer  # noqa: E402
from latxfer.evaluate import measured_sample  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def adapted(ds, cases, ns, seeds=range(5)):
    """For each (cache, sources, targets) case of ``ds``: yield (model, target, n, seed, measured archs, truth,
    posterior)."""
    for cache, sources, targets in cases:
        m = cached_hier_fit(OUT / f"{cache}.zarr", ds.latx.select(sources))
        for t in targets:
            y = ds.latency.sel(device=t).values
            pool = ds.latx.measured(t)
            for seed in seeds:
                for n in ns:
                    a = measured_sample(pool, t, n, seed)
                    yield m, t, n, seed, a, y, m.adapt(a, y[a], device=t, rng=seed).posterior


def main(out_csv: str) -> None:
    nb = latxfer.get_split("nb201", "help")
    ds = latxfer.load_dataset("nb201-help")
    cases = [(f"nb201_help_hier_without_{o}", [d for d in nb.source if d != o], [o])
             for o in ("pixel3", "samsung_s7", "essential_ph_1")]
    cases += [("nb201_help_hier", nb.source, nb.validation)]
    rows = []
    for m, t, n, seed, _, y, post in adapted(ds, cases, (10, 20)):
        for p in m.source_devices:
            yp = ds.latency.sel(device=p).values
            r = m.posterior_srcc(yp, post)
            lo, hi = r.interval
            rows.append(dict(target=t, n=n, seed=seed, proxy=p, true=spearmanr(yp, y)[0], mean=r.mean,
                             lo=lo, hi=hi))
    df = pd.DataFrame(rows)
    df["inside"] = (df.true >= df.lo) & (df.true <= df.hi)
    df["side"] = np.where(df.inside, "in", np.where(df.true > df.hi, "above", "below"))
    df["z_err"] = (np.arctanh(df.true) - np.arctanh(df["mean"])) / ((np.arctanh(df.hi) - np.arctanh(df.lo)) / 2)
    df.to_csv(out_csv, index=False)
    print(df.groupby(["target", "n"]).agg(
        inside=("inside", "mean"), above=("side", lambda s: (s == "above").mean()),
        below=("side", lambda s: (s == "below").mean()),
        zerr_q90=("z_err", lambda z: np.quantile(np.abs(z), 0.9))).round(3))


if __name__ == "__main__":
    main(sys.argv[1])
