"""How much does the adapted ranking move between random streams with few measurements and few draws?

For raspi4, titanx_1 and eyeriss (the planning benchmark's cached NB201 model), n = 0, 1, 3, 5, 10 random
measurements, 100 / 300 / 1000 posterior draws: realised SRCC of the posterior-mean ranking on every
unmeasured architecture over 8 random streams.  A diagnosis (changes nothing).  Run from the repository
root::

    LATXFER_DATA=... LATXFER_OFFLINE=1 python docs/results/experiments/mc_small_n.py raspi4 titanx_1 eyeriss
"""

import copy
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from planning import _cands, _model, _realised_srcc, _truth  # noqa: E402

import latxfer  # noqa: E402
from latxfer.plan import _adapt  # noqa: E402

m = _model("nb201", Path("/tmp/latxfer-bench-mix"))
ds = latxfer.load_dataset("nb201-help")
for dev in sys.argv[1:]:
    truth = _truth(m, ds, dev)
    pool = _cands(m, truth)
    for n in (0, 1, 3, 5, 10):
        archs = np.random.default_rng(n).choice(pool, n, replace=False) if n else np.zeros(0, np.int64)
        y = truth[m.basis.positions(archs)]
        for nd in (100, 300, 1000):
            L = copy.copy(m)
            L.config = {**m.config, "adapt": {**m.config["adapt"], "n_draws": nd}}
            r = [_realised_srcc(_adapt(L, archs, y, "t", np.random.default_rng(s)).posterior, truth) for s in range(8)]
            print(dev, n, nd, f"mean {np.mean(r):.3f} sd {np.std(r):.3f} min {np.min(r):.3f} max {np.max(r):.3f}",
                  flush=True)
