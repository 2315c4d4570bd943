"""How priors.op_free_sd was chosen on FBNet (validation case only; not shipped as a benchmark).

The validation case of bayes.py --parts novelty: FBNet GPUs that are no NASFLAT target (titanx_32, 1080ti_64,
titanxp_64, titanx_1) adapted from NASFLAT task 2's phone/CPU sources, n = 10 / 20 / 50, 5 seeds, each
op_free_sd.  Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python docs/results/experiments/free_sd_fbnet.py 0,1.33,3.98,0.5

The recorded runs (free_sd_fbnet.txt) were made when the setting was per op-cost column: their 0 / 0.1 /
0.3 / 0.0377 are today's 0 / 1.33 / 3.98 / 0.5 on FBNet's 176 columns (sd x sqrt(176)).
"""
# ruff: noqa  (an experiment script kept as it ran)
import sys, warnings, numpy as np, latxfer, pandas as pd
sys.path.insert(0, "benchmarks")
from _common import Prefitted, load_fit
from pathlib import Path
from latxfer.evaluate import evaluate, summarize
ds = latxfer.load_dataset("fbnet-help")
src = ["essential_ph_1", "gold_6226", "gold_6240", "pixel3", "raspi4"]
vals = ["titanx_32", "1080ti_64", "titanxp_64", "titanx_1"]
m = load_fit(Path("benchmarks/out/free_fbnet_gpu_validation.zarr"), ds.latx.select(src))
rows = []
for sd in [float(v) for v in sys.argv[1].split(",")]:
    m.config["priors"]["op_free_sd"] = sd
    s = summarize(evaluate(ds, src, vals, [Prefitted(m, "hier")], [10, 20, 50], 5, progress=False))
    s = s[(s.target == "mean") & s.metric.isin(["srcc", "coverage"])]
    for _, r in s.iterrows():
        rows.append({"free_sd": sd, "n": r.n, "metric": r.metric, "mean": r["mean"]})
    print(sd, s[["n", "metric", "mean"]].to_string(), flush=True)
df = pd.DataFrame(rows)
print(df.pivot_table(index=["metric", "n"], columns="free_sd", values="mean").round(3))
