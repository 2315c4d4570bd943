"""Measure NB201 architectures on this machine with both backends, then adapt the HELP model to them.

    python benchmarks/measure.py --stage measure [--n 300] [--repeats 20] [--threads 1]
    python benchmarks/measure.py --stage analyse

``measure`` times ``--n`` architectures (seeded sample of the non-disconnected NB201 cells) with XLA
(``jax``) and ONNX Runtime (``onnxruntime``) on the CPU, ``--keep-repeats``, into
``docs/results/measure_<backend>.csv`` (resumable: rows are appended, finished architectures skipped), and
their per-architecture costs into ``measure_costs_<backend>.csv``.  ``analyse`` reports the repeat noise
(median relative spread (p90 - p10) / median), the cost per architecture, the SRCC between the backends,
and adapts the model fitted on the HELP sources (``latxfer fit --dataset nb201-help --sources help``) from
n = 5, 10, 20 measurements of each backend: SRCC and 90% interval coverage on the rest, next to the best
single source proxy; written to ``docs/results/measure.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latxfer.measure.backends import set_jax_threads  # noqa: E402  (before jax is imported)

BACKENDS = ("jax", "onnxruntime")


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def stage_measure(args, results: Path) -> None:
    import pandas as pd

    from latxfer.measure import load_measure_space, measure

    space = load_measure_space("nb201")
    import numpy as np

    ok = np.flatnonzero(~space.degenerate(space.enumerate()))
    archs = np.random.default_rng(args.seed).choice(ok, size=args.n, replace=False)
    (results / "measure_load.txt").open("a").write(f"start measure: {_uptime()}\n")
    for be in BACKENDS:
        out = results / f"measure_{be}.csv"
        t0 = time.perf_counter()
        res = measure(space, archs, out, backend=be, platform="cpu", repeats=args.repeats, warmup=args.warmup,
                      threads=args.threads, append=out.exists(), keep_repeats=True, progress=True,
                      command=" ".join(sys.argv))
        costs = results / f"measure_costs_{be}.csv"
        df = pd.DataFrame(res.measured)
        df.to_csv(costs, mode="a", header=not costs.exists(), index=False)
        (results / "measure_load.txt").open("a").write(
            f"{be}: {len(res.measured)} measured in {time.perf_counter() - t0:.0f} s; {_uptime()}\n")


def main() -> None:
    from _common import RESULTS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["measure", "analyse", "all"], default="all")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None, help="a saved HELP-sources model (default: fit it, ~45 s)")
    args = p.parse_args()
    set_jax_threads(args.threads)
    results = Path(RESULTS)
    if args.stage in ("measure", "all"):
        stage_measure(args, results)
    if args.stage in ("analyse", "all"):
        from measure_analyse import analyse

        analyse(args, results)


if __name__ == "__main__":
    main()
