"""Which near-source component 10 random measurements put the weight on, and the SRCC that follows.

For NB201 HELP targets given on the command line, 8 random samples of 10 architectures: the number of
disconnected cells among them, the realised SRCC (all / HELP-trimmed) on the unmeasured architectures,
the population's posterior weight and every near-source component above 5% (``lin:`` = the source's
op-linear part).  A diagnosis of a target; nothing is chosen on it.  Run::

    LATXFER_DATA=/work/shared/data LATXFER_OFFLINE=1 .venv/bin/python \\
        docs/results/planning_active_diagnosis/components.py raspi4 > docs/results/planning_active_diagnosis/components.txt
"""

import sys
import warnings
from pathlib import Path

import numpy as np

import latxfer
from latxfer.evaluate import score

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import cached_hier_fit  # noqa: E402

warnings.simplefilter("ignore")
ds = latxfer.load_dataset("nb201-help")
sp = latxfer.get_split("nb201", "help")
m = cached_hier_fit(ROOT / "benchmarks" / "out" / "nb201_help_hier.zarr", ds.latx.select(sp.source))
disc = latxfer.load_space("nb201").is_disconnected(ds.arch.values)
for dev in sys.argv[1:]:
    y = ds.latency.sel(device=dev).values
    for seed in range(8):
        a = np.random.default_rng(seed).choice(ds.arch.values, 10, replace=False)
        post = m.adapt(a, y[a], device="t", rng=seed).posterior
        un = ~post.measured
        sc = score(post.mean(noise_free=True)[un], y[un])
        sw = {**{k: v for k, v in post.info.get("source_weights", {}).items() if v > 0.05},
              **{"lin:" + k: v for k, v in post.info.get("source_linear_weights", {}).items() if v > 0.05}}
        print(f"{dev} seed {seed}: disconnected {int(disc[a].sum())}, SRCC {sc['srcc']:.3f} "
              f"(trimmed {sc['srcc_trimmed']:.3f}), population weight {post.info.get('population_weight')}, {sw}",
              flush=True)
