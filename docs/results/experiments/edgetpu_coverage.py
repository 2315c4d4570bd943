"""The edge-TPU track-record example of docs/planning.md: true coverage of the 90% intervals after its first
5, 10 and 15 measurements, on every other edge-TPU architecture of HW-NAS-Bench.  A diagnosis.  Run from the
repository root (the CSV is the one the docs' example builds)::

    LATXFER_DATA=... LATXFER_OFFLINE=1 python docs/results/experiments/edgetpu_coverage.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from planning import _truth  # noqa: E402

import latxfer  # noqa: E402
from latxfer.models import load_model  # noqa: E402

m = load_model("benchmarks/out/nb201_help_hier.zarr")
hw = latxfer.load_dataset("nb201-hwnasbench")
truth = _truth(m, hw, "hwnb_edgetpu")
d = hw.latx.select(["hwnb_edgetpu"]).latx.to_long().dropna().sample(15, random_state=0)
for n in (5, 10, 15):
    post = m.adapt(d.arch_index[:n], d.latency_ms[:n], rng=0).posterior
    un = ~post.measured & np.isfinite(truth)
    lo, hi = post.interval(0.9)
    print(f"after {n}: true coverage {np.mean((truth[un] >= lo[un]) & (truth[un] <= hi[un])):.3f}, "
          f"below {np.mean(truth[un] < lo[un]):.3f}")
