"""How few measurements could *any* selection need?  A greedy oracle that knows the target's table.

``benchmarks/planning.py`` compares active and random selection.  This script asks what the best
selection could do, to say whether "active needs at most half the measurements of random" is within
reach on a target: one measurement at a time, the oracle tries ``--cands`` architectures drawn from the
planner's default candidates, adapts the model to each (fast path, 100 draws, the same random stream for
every try), scores the realised SRCC against the REAL table on every unmeasured architecture, and keeps
the best.  It stops when the SRCC reaches 0.95 or after ``--max`` measurements.  Greedy and limited to
a sample of candidates, it is not the exact optimum, but it is a selection no real policy can match: it
looks at the answer.

Describes the targets; nothing is chosen on them.  Run::

    LATXFER_DATA=/work/shared/data LATXFER_OFFLINE=1 .venv/bin/python benchmarks/planning_oracle.py \\
        --space nb201 --targets raspi4 eyeriss --seeds 3

Writes ``docs/results/planning_oracle_<space>.md``, ``.csv`` and ``_steps.csv`` (the picks).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, md_table, provenance  # noqa: E402
from planning import GOAL, _cands, _model, _realised_srcc, _truth, check_targets  # noqa: E402


def _posterior(light, archs, truth, seed):
    from latxfer.plan import _adapt

    return _adapt(light, archs, truth[light.basis.positions(archs)], "target", np.random.default_rng(seed)).posterior


def _realised(light, archs, truth, seed) -> float:
    return _realised_srcc(_posterior(light, archs, truth, seed), truth)


def rank_scores(light, post, tries) -> np.ndarray:
    """The score active selection's ``rank`` criterion gives each of ``tries`` as the next single measurement
    (``plan.select_batch``'s first greedy step)."""
    from latxfer.plan import _design, _step_scores, _tie_weighted_gram, shape_gaussian

    d = _design(light)
    V, s2 = shape_gaussian(post, d.Z, d.pinv)
    return _step_scores(d.Z[light.basis.positions(tries)], V, s2, "rank", _tie_weighted_gram(post, d.Z, V, d.G))


def _describe(light, post, tries, best) -> dict:
    """Where the oracle's pick sits among the tried candidates (percentiles, 1 = highest): its leverage in
    the shape design, its posterior-mean latency, and its :func:`rank_scores` score."""
    from scipy.stats import rankdata

    from latxfer.plan import _design

    pos = light.basis.positions(tries)
    rank_score = rank_scores(light, post, tries)
    mu = post.mean(noise_free=True)[pos]

    def pct(x):
        return float(rankdata(x)[best] / len(x))

    return {"leverage_pct": pct(_design(light).leverage[pos]), "latency_pct": pct(mu),
            "rank_score_pct": pct(rank_score)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="nb201", choices=["nb201", "fbnet"])
    ap.add_argument("--targets", nargs="+", required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cands", type=int, default=100, help="architectures tried per step")
    ap.add_argument("--max", type=int, default=8, dest="max_k")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "latxfer-bench"))
    args = ap.parse_args(argv)

    import latxfer
    from latxfer.plan import _light

    check_targets(ap, [args.space], args.targets)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    model = _model(args.space, cache)
    light = _light(model, 100)
    ds = latxfer.load_dataset(f"{args.space}-help")
    rows, steps = [], []
    t0 = time.perf_counter()
    for target in args.targets:
        truth = _truth(model, ds, target)
        pool = _cands(model, truth)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            archs = np.zeros(0, np.int64)
            curve = [_realised(light, archs, truth, 10_000 + seed)]
            while curve[-1] < GOAL and len(archs) < args.max_k:
                left = np.setdiff1d(pool, archs)
                tries = rng.choice(left, min(args.cands, len(left)), replace=False)
                stream = 10_000 + 100 * seed + len(archs) + 1
                score = [_realised(light, np.r_[archs, c], truth, stream) for c in tries]
                best = int(np.argmax(score))
                before = _posterior(light, archs, truth, 10_000 + 100 * seed + len(archs))
                steps.append({"target": target, "seed": seed, "k": len(archs) + 1, "arch": int(tries[best]),
                              "srcc_best": max(score), "srcc_median_try": float(np.median(score)),
                              **_describe(light, before, tries, best)})
                archs = np.r_[archs, tries[best]]
                curve.append(max(score))
                print(f"{target} seed {seed}: k = {len(archs)} SRCC {curve[-1]:.3f} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
            rows.append({"target": target, "seed": seed,
                         "n_to_srcc95": len(archs) if curve[-1] >= GOAL else np.nan,
                         "curve": " ".join(f"{v:.3f}" for v in curve)})
    df, st = pd.DataFrame(rows), pd.DataFrame(steps)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / f"planning_oracle_{args.space}.csv", index=False)
    st.to_csv(RESULTS / f"planning_oracle_{args.space}_steps.csv", index=False)
    summ = df.groupby("target").agg(oracle_mean=("n_to_srcc95", "mean"), oracle_max=("n_to_srcc95", "max"),
                                    not_reached=("n_to_srcc95", lambda x: int(x.isna().sum())))
    text = "\n\n".join([
        f"# A greedy oracle selection ({args.space}): measurements to realised SRCC >= {GOAL}",
        provenance(),
        f"One measurement at a time; at each step the best of {args.cands} candidates by the realised SRCC "
        f"on the real table (it looks at the answer). Up to {args.max_k} measurements; seeds "
        f"{list(range(args.seeds))}. Total {time.perf_counter() - t0:.0f} s.",
        md_table(summ.round(2)),
        "Per seed (SRCC after 0, 1, ... measurements):",
        md_table(df.set_index(["target", "seed"])),
        "## The oracle's picks",
        "Per step: the realised SRCC of the best and of the median tried candidate, and where the best sits "
        "among the tried candidates (percentile, 1 = highest) in leverage in the shape design, in posterior-"
        "mean latency, and in the score of the `rank` criterion (active selection's first greedy pick), all "
        "computed on the posterior before the step.",
        md_table(st.set_index(["target", "seed", "k"]).round(3)),
        "Mean over steps:",
        md_table(st.groupby("target")[["srcc_best", "srcc_median_try", "leverage_pct", "latency_pct",
                                       "rank_score_pct"]].mean().round(3)),
    ])
    (RESULTS / f"planning_oracle_{args.space}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
