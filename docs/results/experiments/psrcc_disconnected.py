"""Diagnosis: do the disconnected NB201 cells explain posterior_srcc's misses on phones and raspi4?

n = 10 random measurements, seeds 0-4, every source as proxy; the 90% interval of posterior_srcc and the
true proxy-target SRCC over all architectures vs over the connected cells only.  Fits cached in
benchmarks/out.  Usage (repository root): python docs/results/experiments/psrcc_disconnected.py OUT.csv
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from psrcc_nontarget import adapted  # noqa: E402

import latxfer  # noqa: E402

nb = latxfer.get_split("nb201", "help")
ds = latxfer.load_dataset("nb201-help")
space = latxfer.load_space("nb201")
conn = ~space.is_disconnected(ds.arch.values)
cases = [("nb201_help_hier", nb.source, ["raspi4", "pixel2", "gold_6226", "titanx_1"]),
         ("nb201_help_hier_without_pixel3", [d for d in nb.source if d != "pixel3"], ["pixel3"]),
         ("nb201_help_hier_without_samsung_s7", [d for d in nb.source if d != "samsung_s7"], ["samsung_s7"])]
rows = []
for m, t, _, seed, a, y, post in adapted(ds, cases, (10,)):
    for p in m.source_devices:
        yp = ds.latency.sel(device=p).values
        for name, archs in (("all", None), ("connected", ds.arch.values[conn])):
            r = m.posterior_srcc(yp, post, archs=archs)
            sel = np.ones(len(y), bool) if archs is None else conn
            true = spearmanr(yp[sel], y[sel])[0]
            lo, hi = r.interval
            rows.append(dict(target=t, seed=seed, proxy=p, set=name, true=true, mean=r.mean,
                             inside=lo <= true <= hi, above=true > hi, below=true < lo,
                             n_disc_measured=int((~conn[a]).sum())))
df = pd.DataFrame(rows)
df.to_csv(sys.argv[1], index=False)
print(df.groupby(["target", "set"])[["inside", "above", "below"]].mean().round(3))
print(df.groupby(["set"])[["inside"]].mean().round(3))
