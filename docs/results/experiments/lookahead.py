"""Can the posterior tell a good next measurement from a bad one?  A one-step lookahead, checked against
the answer.

The oracle of ``benchmarks/planning_oracle.py`` shows that the choice of the next single measurement
matters a lot (the best of 100 candidates leaves a realised SRCC of ~0.91-0.93, the median candidate
~0.77-0.89), but its picks look like random ones in what the ``rank`` criterion sees.  This script asks
whether *any* selection that uses the model could see them: the Bayes-optimal myopic criterion under the
model (a one-step lookahead, "knowledge gradient" on the model's own expected SRCC).  For a candidate c
it simulates ``--outcomes`` measurements y ~ the posterior predictive at c, adapts to each (the fast path
the planner uses), and averages the adapted posterior's expected SRCC (its mean ranking against its own
draws, on ``--n-eval`` unmeasured architectures).  That is what the planner's own simulation would
say about c, at full price.

Two modes, both on devices that are not HELP targets only (the NB201 validation devices; pixel3 and
samsung_s7 left out of the sources, the model refitted without them) unless ``--targets`` is given:

* ``diagnose`` (default): from states reached by ``--start`` random measurements, ``--cands`` random
  candidates are scored by the lookahead, by the ``rank`` criterion, and by the answer (the realised SRCC
  on the REAL table after measuring c).  Reports the Spearman correlation of each score with the answer
  and the realised SRCC of each criterion's pick against the best and median candidate.
* ``loop``: the user's loop one measurement at a time, ``--policy lookahead`` picking the best of
  ``--cands`` random candidates each step (``rank``: the shipped criterion; ``random``), until the
  realised SRCC reaches 0.95 or, with ``--full``, up to ``--max``.

Run from the repository root (fits cached in ``--cache``; the planning benchmark's cache).  The runs
recorded in docs/planning.md ("The best a selection that uses the model can do, tried")::

    export LATXFER_DATA=... LATXFER_OFFLINE=1
    python docs/results/experiments/lookahead.py diagnose OUT.csv \\
        --devices pixel3 samsung_s7 gold_6240 titanx_1 --seeds 3 --start 0 2 5
    python docs/results/experiments/lookahead.py loop OUT.csv --policy lookahead --full --max 12 --seeds 4 \\
        --devices pixel3 samsung_s7 gold_6240 titanx_1        # and --policy rank, --policy random
    python docs/results/experiments/lookahead.py loop OUT.csv --targets raspi4 eyeriss --seeds 5 --max 15
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
from planning import GOAL, _cands, _model, _non_target_cases, _realised_srcc, _truth  # noqa: E402
from planning_oracle import rank_scores  # noqa: E402


def _post(light, archs, y, seed):
    from latxfer.plan import _adapt

    return _adapt(light, archs, y, "target", np.random.default_rng(seed)).posterior


def lookahead_scores(light, post, archs, y, tries, E, outcomes, seed):
    """Mean over ``outcomes`` posterior-predictive measurements at each candidate of the adapted posterior's
    expected SRCC on positions ``E`` (common random numbers across candidates)."""
    from latxfer.plan import _score

    rng = np.random.default_rng(seed)
    draws = rng.choice(post.draws_ms.shape[0], outcomes, replace=False)
    pos = light.basis.positions(tries)
    out = np.zeros(len(tries))
    for j, p in enumerate(pos):
        for m, d in enumerate(draws):
            q = _post(light, np.r_[archs, tries[j]], np.r_[y, post.draws_ms[d, p]], seed + 1 + m)
            Ej = E[~q.measured[E]]
            out[j] += _score(q, None, Ej, None, 0.9)["expected_srcc"] / outcomes
    return out


def _cases(args):
    import latxfer
    from latxfer.plan import _light

    cache = Path(args.cache)
    if args.targets:
        model = _model(args.space, cache)
        ds = latxfer.load_dataset(f"{args.space}-help")
        for t in args.targets:
            yield "target", t, model, _light(model, 100), _truth(model, ds, t)
    else:
        for kind, dev, model, light, truth in _non_target_cases(args.space, cache):
            if args.devices and dev not in args.devices:
                continue
            yield kind, dev, model, light, truth


def diagnose(args) -> pd.DataFrame:
    from scipy.stats import spearmanr

    from latxfer.plan import extreme_candidates

    rows, t0 = [], time.perf_counter()
    for kind, dev, model, light, truth in _cases(args):
        pool = _cands(model, truth)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            for start in args.start:
                archs = rng.choice(pool, start, replace=False) if start else np.zeros(0, np.int64)
                y = truth[light.basis.positions(archs)]
                post = _post(light, archs, y, 10_000 + seed)
                left = np.setdiff1d(pool, archs)
                left = left[~extreme_candidates(light, post, left, 0.05)]
                tries = rng.choice(left, args.cands, replace=False)
                un = np.where(~post.measured)[0]
                E = np.sort(rng.choice(un, min(args.n_eval, len(un)), replace=False))
                la = lookahead_scores(light, post, archs, y, tries, E, args.outcomes, 20_000 + 100 * seed)
                rk = rank_scores(light, post, tries)
                real = np.array([_realised_srcc(_post(light, np.r_[archs, c], np.r_[y, truth[light.basis.positions([c])]],
                                                      30_000 + seed), truth) for c in tries])
                rows.append({"kind": kind, "device": dev, "seed": seed, "start": start,
                             "srcc_now": _realised_srcc(post, truth),
                             "rho_lookahead": spearmanr(la, real).statistic,
                             "rho_rank": spearmanr(rk, real).statistic,
                             "pick_lookahead": real[np.argmax(la)], "pick_rank": real[np.argmax(rk)],
                             "best": real.max(), "median": float(np.median(real)),
                             "lookahead_spread": float(la.max() - la.min())})
                print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def loop(args) -> pd.DataFrame:
    from latxfer.plan import extreme_candidates, select_batch

    rows, t0 = [], time.perf_counter()
    for kind, dev, model, light, truth in _cases(args):
        pool = _cands(model, truth)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rng = np.random.default_rng(seed)
            archs = np.zeros(0, np.int64)
            y = np.zeros(0)
            post = _post(light, archs, y, 10_000 + 100 * seed)
            curve = [_realised_srcc(post, truth)]
            while (args.full or curve[-1] < GOAL) and len(archs) < args.max_k:
                left = np.setdiff1d(pool, archs)
                if args.policy == "random":
                    c = rng.choice(left)
                elif args.policy == "rank":
                    c = select_batch(light, post, 1, candidates=pool)[0]
                else:
                    left = left[~extreme_candidates(light, post, left, 0.05)]
                    tries = rng.choice(left, min(args.cands, len(left)), replace=False)
                    un = np.where(~post.measured)[0]
                    E = np.sort(rng.choice(un, min(args.n_eval, len(un)), replace=False))
                    la = lookahead_scores(light, post, archs, y, tries, E, args.outcomes,
                                          20_000 + 100 * seed + len(archs))
                    c = tries[int(np.argmax(la))]
                archs, y = np.r_[archs, c], np.r_[y, truth[light.basis.positions([c])]]
                post = _post(light, archs, y, 10_000 + 100 * seed + len(archs))
                curve.append(_realised_srcc(post, truth))
                print(f"{dev} {args.policy} seed {seed}: k = {len(archs)} SRCC {curve[-1]:.3f} ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
            rows.append({"kind": kind, "device": dev, "policy": args.policy, "seed": seed,
                         "n_to_srcc95": next((i for i, v in enumerate(curve) if v >= GOAL), np.nan),
                         "curve": " ".join(f"{v:.3f}" for v in curve)})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["diagnose", "loop"])
    ap.add_argument("out", help="CSV to write")
    ap.add_argument("--space", default="nb201", choices=["nb201", "fbnet"])
    ap.add_argument("--targets", nargs="*", default=[], help="HELP targets instead of the non-target devices")
    ap.add_argument("--devices", nargs="*", default=[], help="only these non-target devices")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="loop: go on to --max after reaching 0.95")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--policy", default="lookahead", choices=["lookahead", "rank", "random"], help="loop only")
    ap.add_argument("--start", type=int, nargs="+", default=[0, 3, 6], help="random measurements before (diagnose)")
    ap.add_argument("--cands", type=int, default=30)
    ap.add_argument("--outcomes", type=int, default=4)
    ap.add_argument("--n-eval", type=int, default=1000)
    ap.add_argument("--max", type=int, default=15, dest="max_k")
    ap.add_argument("--cache", default="/tmp/latxfer-bench-mix")
    args = ap.parse_args(argv)
    df = diagnose(args) if args.mode == "diagnose" else loop(args)
    df.to_csv(args.out, index=False)
    print(df.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
