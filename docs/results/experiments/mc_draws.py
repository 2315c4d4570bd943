"""Monte Carlo noise of the adapted point prediction: posterior-mean ranking with 300 / 1000 / 3000 draws.

HELP NB201 validation devices, n = 10 random measurements, seeds 0-4, two random streams per setting; SRCC
(all / HELP-trimmed) of the posterior mean on the unmeasured architectures, and the mean difference between
the two streams.  Needs the cached fit benchmarks/out/nb201_help_hier.zarr (python benchmarks/bayes.py
--parts psrcc makes it).  Usage (repository root): python docs/results/experiments/mc_draws.py
"""
import numpy as np

import latxfer
from latxfer.evaluate import measured_sample, score
from latxfer.models import load_model

nb = latxfer.get_split("nb201", "help")
ds = latxfer.load_dataset("nb201-help")
m = load_model("benchmarks/out/nb201_help_hier.zarr", config="hier")
print("population draws available:", len(m.population["intercept"]))
res = {}
for t in nb.validation:
    y = ds.latency.sel(device=t).values
    pool = ds.latx.measured(t)
    for seed in range(5):
        a = measured_sample(pool, t, 10, seed)
        for nd in (300, 1000, 3000):
            m.config["adapt"]["n_draws"] = nd
            for rep in range(2):
                post = m.adapt(a, y[a], device=t, rng=seed * 10 + rep).posterior
                un = ~post.measured
                sc = score(post.mean(noise_free=True)[un], y[un])
                res.setdefault((t, nd), []).append((sc["srcc"], sc["srcc_trimmed"]))
    for nd in (300, 1000, 3000):
        v = np.array(res[(t, nd)])
        print(t, nd, v.mean(0).round(4), "rep diff", np.abs(v[::2] - v[1::2]).mean(0).round(4), flush=True)
