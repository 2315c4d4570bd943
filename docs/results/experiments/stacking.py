"""Experiment (did not ship): stack the adapted hier posterior with the own-data GP by leave-one-out.

Per target and n: hier's PSIS-LOO (ArviZ's psislw on the pointwise log-likelihood of its fast-path draws)
and the GP's closed-form LOO (Rasmussen & Williams eq. 5.12) on the n measurements; stacking weights that
maximise the LOO log score (``w``) or minimise the LOO squared error of log latency (``wp``).  Families:
``9`` = the 9 HELP NB201 sources' fit, targets edge GPU / TPU, raspi4, pixel2, gold_6226; ``mobile``,
``cpu`` = leave-one-family-out fits of benchmarks/transfer.py.  Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python docs/results/experiments/stacking.py 9 stack9.csv
    OPENBLAS_NUM_THREADS=1 python docs/results/experiments/stacking.py mobile,cpu stackm.csv

Finding: the weights stay near 1 (hier) except on the edge GPU at n = 50, mean SRCC over the ``9`` targets
at n = 50 0.931 -> 0.937/0.938, elsewhere within 0.001.
"""
# ruff: noqa  (an experiment script kept as it ran)
import sys

import numpy as np
import pandas as pd
from arviz_stats.base import array_stats
from scipy import optimize, stats
from scipy.special import logsumexp

import latxfer
from latxfer.baselines.own import OwnGP
from latxfer.data.datasets import load_space
from latxfer.models import load_model, mixture
from latxfer.ranks import srcc

ds = latxfer.load_dataset("nb201-help"); hw = latxfer.load_dataset("nb201-hwnasbench")
sp = load_space("nb201")
kind = dict(zip(ds.device.values, ds.device_kind.values))
fam = {"gpu": ["1080ti_1", "2080ti_32", "titanxp_256", "titan_rtx_1"], "mobile": [d for d in kind if kind[d] == "mobile"],
       "cpu": [d for d in kind if kind[d] == "cpu"], "simulated": ["eyeriss", "fpga"], "hwnb": ["raspi4", "hwnb_edgegpu", "hwnb_edgetpu"],
       "9": ["hwnb_edgegpu", "hwnb_edgetpu", "raspi4", "pixel2", "gold_6226"]}
fams = sys.argv[1].split(","); out = sys.argv[2]
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
                rng = np.random.default_rng(seed)
                y = lat[tr]
                pos = m.basis.positions(tr)
                theta, scale, sigma, info = mixture.adapt_fast(m, *m._weighted(pos, y), rng)
                fn_obs = scale[:, None] * (theta @ m.basis.design(pos).T)
                sd_obs = (scale * sigma)[:, None] * m.basis.noise_at(pos)[None, :]
                ll = stats.norm.logpdf(y[None, :], fn_obs, sd_obs)  # (S, n)
                lw, k = array_stats.psislw(-ll, r_eff=1, axis=0)
                lw = np.moveaxis(np.asarray(lw), -1, 0) if np.asarray(lw).shape != ll.shape else np.asarray(lw)
                lw = lw - logsumexp(lw, axis=0)
                elpd_h = logsumexp(ll + lw, axis=0)
                fn_all = scale[:, None] * (theta @ m.basis.design().T)
                ph = np.maximum(fn_all.mean(0), 1e-3)
                r = dict(fam=f, dev=d, seed=seed, n=n, hier=srcc(ph[te], lat[te]), khat=float(np.max(k)))
                if n >= 5:
                    g = OwnGP().fit(None, sp).adapt(tr, y)
                    pg = g.predict(np.arange(15625)).mean_ms
                    r["gp"] = srcc(pg[te], lat[te])
                    # GP LOO on log scale
                    gi = g.info
                    from latxfer.baselines.own import pairwise_features
                    X1, X2 = pairwise_features(sp, tr)
                    z = np.log(y); mu, sdz = z.mean(), z.std()
                    C = gi["const"] + gi["first_order_var"] * X1 @ X1.T + gi["pairwise_var"] * X2 @ X2.T + (gi["noise_var"] + 1e-8) * np.eye(n)
                    Ci = np.linalg.inv(C); yy = (z - mu) / sdz
                    a = Ci @ yy
                    mloo = yy - a / np.diag(Ci); vloo = 1 / np.diag(Ci)
                    elpd_g = stats.norm.logpdf(yy, mloo, np.sqrt(vloo)) - np.log(sdz) - z
                    obj = lambda w: -np.sum(np.logaddexp(np.log(max(w, 1e-12)) + elpd_h, np.log(max(1 - w, 1e-12)) + elpd_g))
                    w = optimize.minimize_scalar(obj, bounds=(0, 1), method="bounded").x
                    r["w"] = w
                    r["elpd_h"], r["elpd_g"] = elpd_h.sum(), elpd_g.sum()
                    r["stack"] = srcc((w * ph + (1 - w) * pg)[te], lat[te])
                    wl = np.exp(lw)
                    hl = np.log(np.maximum((wl * fn_obs).sum(0), 1e-6))  # PSIS-LOO mean of hier, log ms
                    gl = mloo * sdz + mu  # GP LOO mean, log ms
                    dd = hl - gl
                    wp = float(np.clip(np.dot(z - gl, dd) / max(np.dot(dd, dd), 1e-12), 0, 1))
                    r["wp"] = wp
                    r["mse_h"], r["mse_g"] = float(np.mean((z - hl) ** 2)), float(np.mean((z - gl) ** 2))
                    r["stack_pt"] = srcc((wp * np.log(ph) + (1 - wp) * np.log(pg))[te], lat[te])
                    # rank-average variant: log-mean mixture
                    r["stack_log"] = srcc((w * np.log(ph) + (1 - w) * np.log(pg))[te], lat[te])
                rows.append(r); print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)
df = pd.DataFrame(rows)
print(df.groupby(["fam", "dev", "n"])[["hier", "gp", "stack", "w", "stack_pt", "wp"]].mean().round(3).to_string())
print(df.groupby(["n"])[["hier", "gp", "stack", "w", "stack_pt", "wp"]].mean().round(3).to_string())
