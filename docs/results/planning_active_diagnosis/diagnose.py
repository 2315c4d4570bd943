"""Why the one-batch-ahead band misses above on NB201 raspi4 with active selection (a diagnosis, no setting).

The real loop of benchmarks/planning.py (shipped model, batches of 5) to k = 10 on a HELP NB201 target; for
each policy and seed: the realised SRCC of the adapted ranking on the unmeasured architectures, the
posterior's own expected SRCC (``expected_rank_quality``), and the posterior medians of the device's latency
scale and of its noise sd at the median architecture (ms), next to the sd of the posterior latency function.

Outputs next to this script: ``raspi4.txt``, ``eyeriss.txt``, ``titanx_256.txt`` were made with every candidate
open to active selection (before ``plan.ACTIVE_TRIM``; reproduce them with ``ACTIVE_TRIM = 0``);
``raspi4_trim.txt`` with the design's extremes left out (``ACTIVE_TRIM = 0.05``, the default since).

Run (from the repository root; the model is cached as in benchmarks/planning.py)::

    LATXFER_DATA=... LATXFER_OFFLINE=1 python docs/results/planning_active_diagnosis/diagnose.py raspi4
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
import planning as P  # noqa: E402

import latxfer  # noqa: E402
from latxfer.models import mixture  # noqa: E402
from latxfer.plan import _light  # noqa: E402

target = sys.argv[1] if len(sys.argv) > 1 else "raspi4"
model = P._model("nb201", Path("/tmp/latxfer-bench-mix"))
light = _light(model, 100)
truth = P._truth(model, latxfer.load_dataset("nb201-help"), target)
print(f"{target}: sd of the true latency over architectures {np.nanstd(truth):.1f} ms")
print("policy  seed  realised  expected  scale_ms  noise_sd_ms  fn_sd_ms  picks (w = relative noise sd)")
for policy in ("active", "random"):
    for seed in range(3):
        *_, (_, _, archs, post, real) = P._rounds(model, light, truth, policy, np.array([0, 5, 10]), seed)
        pos = model.basis.positions(archs)
        theta, scale, sigma, _ = mixture.adapt_fast(light, *light._weighted(pos, truth[pos]), np.random.default_rng(seed))
        q = light.expected_rank_quality(post).mean
        print(f"{policy:7s} {seed:4d}  {real:8.3f}  {q:8.3f}  {np.median(scale):8.1f}  {np.median(scale * sigma):11.1f}"
              f"  {post.mean_fn_ms.std(axis=1).mean():8.1f}  w {np.round(model.basis.noise[pos], 2).tolist()}")
