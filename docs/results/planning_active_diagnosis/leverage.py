"""Where active selection measures without the trim: leverage and latency percentiles of its picks (a diagnosis).

The real loop of benchmarks/planning.py (shipped model, batches of 5) to k = 10 with every candidate open to
active selection (``trim=0``, as before ``plan.ACTIVE_TRIM``), on the devices given, seeds 0-1, active and
random.  For each pick: its percentile among the planner's default candidates in leverage (Mahalanobis
distance in the shape design ``[F, Q]``, the statistic ``plan.extreme_candidates`` uses) and in the relative
noise sd ``w`` (the architecture's latency level over the sources; 0 = fastest, 1 = slowest).

Run (from the repository root; the model is cached as in benchmarks/planning.py)::

    LATXFER_DATA=... LATXFER_OFFLINE=1 python docs/results/planning_active_diagnosis/leverage.py raspi4 titanx_256 gold_6240
"""
import sys
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
import planning as P  # noqa: E402

import latxfer  # noqa: E402
from latxfer.plan import _design, _light, default_candidates  # noqa: E402

model = P._model("nb201", Path("/tmp/latxfer-bench-mix"))
light = _light(model, 100)
d = _design(model)
lev = d.leverage
cp = model.basis.positions(default_candidates(model))
lev_pct, w_pct = np.zeros(len(lev)), np.zeros(len(lev))
lev_pct[cp] = rankdata(lev[cp]) / len(cp)
w_pct[cp] = rankdata(model.basis.noise[cp]) / len(cp)
ds = latxfer.load_dataset("nb201-help")
print("device policy seed realised_at_10 | leverage percentile of the 10 picks | w percentile of the 10 picks")
for target in sys.argv[1:] or ["raspi4"]:
    truth = P._truth(model, ds, target)
    for policy in ("active", "random"):
        for seed in range(2):
            *_, (_, _, archs, _, real) = P._rounds(model, light, truth, policy, np.array([0, 5, 10]), seed, trim=0.0)
            pos = model.basis.positions(archs)
            print(f"{target} {policy} {seed} {real:.3f} | {np.round(lev_pct[pos], 2).tolist()} | "
                  f"{np.round(w_pct[pos], 2).tolist()}")
