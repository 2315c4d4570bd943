"""Every baseline on the HELP NB201 and FBNet splits at n in {0, 5, 10, 20, 50}: the bar to clear.

Usage::

    LATXFER_DATA=../shared/data .venv/bin/python benchmarks/fewshot.py --seeds 20
    .venv/bin/python benchmarks/fewshot.py --quick     # 2 seeds, 2 n values, for a smoke run

Writes ``docs/results/fewshot_baselines.md`` and ``docs/results/fewshot_baselines.csv`` (tidy summary).
Each method is fitted once per split; the n target samples are shared by all methods (nested in n).
Full source tables are used (HELP meta-trains on 900 / 4000 architectures per source device; pass
``--source-archs`` to mimic that).  Scores on the unmeasured target architectures only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, md_table, provenance  # noqa: E402

import latxfer  # noqa: E402
from latxfer.baselines import default_baselines  # noqa: E402
from latxfer.evaluate import evaluate, summarize, to_table  # noqa: E402

SPLITS = [("nb201", "nb201-help"), ("fbnet", "fbnet-help")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--ns", default="0,5,10,20,50")
    ap.add_argument("--quick", action="store_true", help="2 seeds, n in {0, 10}")
    ap.add_argument("--source-archs", type=int, default=None, help="architectures per source device")
    ap.add_argument("--spaces", default="nb201,fbnet")
    ap.add_argument("--out", default=str(RESULTS / "fewshot_baselines"))
    args = ap.parse_args(argv)
    ns = [0, 10] if args.quick else [int(x) for x in args.ns.split(",")]
    seeds = 2 if args.quick else args.seeds
    sections, tidy = [], []
    for space, dsname in SPLITS:
        if space not in args.spaces.split(","):
            continue
        split = latxfer.get_split(space, "help")
        ds = latxfer.load_dataset(dsname)
        methods = default_baselines(split.source)
        t0 = time.perf_counter()
        res = evaluate(ds, split.source, split.target, methods, ns, seeds,
                       source_archs_per_device=args.source_archs, progress=True)
        el = time.perf_counter() - t0
        summ = summarize(res)
        summ.insert(0, "split", f"{space}/help")
        tidy.append(summ)
        pub = split.published.get("srcc", {})
        pubrow = " | ".join(f"{t} {pub.get(t, '-')}" for t in split.target)
        sec = [f"## {space} / help split ({dsname}): {len(split.source)} sources, targets {', '.join(split.target)}",
               f"{seeds} seeds, n in {ns}; wall time {el:.0f} s (fit once per method).",
               f"HELP published (trimmed SRCC, 10 adaptation + 10 reference archs = 20 target measurements): "
               f"{pubrow}; mean {split.published.get('mean', '-')}.",
               "", "### Trimmed SRCC (query set cut to the 10th-90th target-latency percentile; HELP's metric)", "",
               md_table(to_table(res, "srcc_trimmed")), "", "### Full SRCC (all unmeasured architectures)", "",
               md_table(to_table(res, "srcc")), "", "### Kendall tau-b", "", md_table(to_table(res, "kendall")),
               "", "### Coverage of nominal 90% intervals (methods with intervals, n >= 3)", "",
               md_table(to_table(res, "coverage")), ""]
        sections.append("\n".join(sec))
        print("\n".join(sec))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(tidy).to_csv(out.with_suffix(".csv"), index=False, float_format="%.4f")
    head = ["# Few-shot baselines on the HELP splits", "", provenance(), "",
            "Cells: mean ± sd over seeds; `mean` column = per-seed mean over targets, then averaged. "
            "`-`: not applicable (target-ridge needs n >= 3; no interval). Rows are sorted by method, then n.",
            "Methods: `best-proxy` (source with best SRCC on the n samples; n < 3: most central source), "
            "`flops`, `target-ridge` (op features, target samples only), `adaproxy-best`, `adaproxy:<source>`, "
            "`lowrank-svd`. See docs/monotonicity.md.", ""]
    out.with_suffix(".md").write_text("\n".join(head + sections))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
