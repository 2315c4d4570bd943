"""How priors.op_free_sd was chosen on NB201 (validation cases only; not shipped as a benchmark).

Per device, seed and n: the cached fits of benchmarks/transfer.py (``mobile``: the phones left out of the
fleet) and bayes.py --parts free (``9``: the HELP split's 9 sources; targets the edge GPU / TPU, raspi4,
pixel2, gold_6226) adapted with each op_free_sd, scored on the unmeasured architectures.  Run from the
repository root after those benchmarks (they cache the fits)::

    OPENBLAS_NUM_THREADS=1 python docs/results/experiments/free_sd_nb201.py 9,mobile 0,0.49,1.47,4.9 OUT.csv

The recorded run (free_sd_nb201.csv / .txt) was made when the setting was per op-cost column: its
0 / 0.1 / 0.3 / 1 are today's 0 / 0.49 / 1.47 / 4.9 on NB201's 24 columns (sd x sqrt(24)).
"""
# ruff: noqa  (an experiment script kept as it ran)
import sys, time, numpy as np, latxfer, pandas as pd
from latxfer.models import load_model
from latxfer.ranks import srcc
ds = latxfer.load_dataset("nb201-help"); hw = latxfer.load_dataset("nb201-hwnasbench")
kind = dict(zip(ds.device.values, ds.device_kind.values))
fam = {"gpu": ["1080ti_1", "2080ti_32", "titanxp_256", "titan_rtx_1"], "mobile": [d for d in kind if kind[d] == "mobile"],
       "cpu": [d for d in kind if kind[d] == "cpu"], "simulated": ["eyeriss", "fpga"], "hwnb": ["raspi4", "hwnb_edgegpu", "hwnb_edgetpu"],
       "9": ["hwnb_edgegpu", "hwnb_edgetpu", "raspi4", "pixel2", "gold_6226"]}
fams = sys.argv[1].split(","); rhos = [float(r) for r in sys.argv[2].split(",")]
out = sys.argv[3]
rows = []
for f in fams:
    m = load_model(f"benchmarks/out/transfer/lofo_{f}.zarr" if f != "9" else "benchmarks/out/free_nb201_help.zarr")
    for d in fam[f]:
        lat = (hw if d.startswith("hwnb") else ds).latency.sel(device=d).reindex(arch=ds.arch.values).values
        pool = np.flatnonzero(np.isfinite(lat))
        for seed in range(3):
            perm = np.random.default_rng([seed, 7]).permutation(pool)
            for n in (5, 10, 20, 50, 100):
                tr, te = perm[:n], perm[n:]
                for rho in rhos:
                    m.config["priors"]["op_free_sd"] = rho
                    t = time.time()
                    post = m.adapt(tr, lat[tr], rng=seed, allow_implausible=True).posterior
                    pm = post.mean(noise_free=True)
                    lo, hi = post.interval(0.9)
                    cov = np.mean((lat[te] >= lo[te]) & (lat[te] <= hi[te]))
                    rows.append(dict(fam=f, dev=d, seed=seed, n=n, rho=rho, srcc=srcc(pm[te], lat[te]), cov=cov, sec=time.time() - t,
                                     nw=post.info.get("novelty_weights")))
                print(f, d, seed, n, [round(r["srcc"], 3) for r in rows[-len(rhos):]], [round(r["cov"], 2) for r in rows[-len(rhos):]], flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)
df = pd.DataFrame(rows)
print(df.pivot_table(index=["fam", "dev", "n"], columns="rho", values="srcc").round(3).to_string())
print(df.pivot_table(index=["n"], columns="rho", values=["srcc", "cov"]).round(3).to_string())
