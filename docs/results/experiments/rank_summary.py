"""Which point summary of the adapted posterior ranks best?  A diagnosis; nothing in the library changes.

The adapted ranking is the posterior mean of the noise-free latency in ms (``post.mean(noise_free=True)``).
Draws differ in their scale, so a mean in ms weights fast-scale draws less than slow-scale ones, which has
nothing to do with ranking.  Alternatives compared: the mean of the log latency, the median, and the
posterior expected rank (of the noise-free draws, and of the predictive draws: ordering by the expected rank
of the true latency maximises the expected SRCC).  Devices that are not targets only: HELP NB201 validation
devices (model on the nine sources) and pixel3 / samsung_s7 / essential_ph_1 each left out of the sources;
n = 5, 10, 20 random measurements, seeds 0-4; SRCC on the unmeasured architectures, all and HELP-trimmed.

Usage (repository root; fits cached in benchmarks/out)::

    LATXFER_DATA=... python docs/results/experiments/rank_summary.py OUT.csv
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psrcc_nontarget import adapted, nontarget_cases  # noqa: E402

import latxfer  # noqa: E402
from latxfer.evaluate import score  # noqa: E402


def main(out_csv: str) -> None:
    ds = latxfer.load_dataset("nb201-help")
    rows = []
    for _, t, n, seed, _, y, post in adapted(ds, nontarget_cases(latxfer.get_split("nb201", "help")), (5, 10, 20)):
        un = ~post.measured
        f, d = post.mean_fn_ms[:, un], post.draws_ms[:, un]
        points = {"mean_ms (shipped)": f.mean(0), "mean_log": np.log(f).mean(0), "median": np.median(f, 0),
                  "expected_rank_fn": rankdata(f, axis=1).mean(0),
                  "expected_rank_pred": rankdata(d, axis=1).mean(0)}
        for k, p in points.items():
            s = score(p, y[un])
            rows.append(dict(target=t, n=n, seed=seed, point=k, srcc=s["srcc"], trimmed=s["srcc_trimmed"]))
    df = pd.DataFrame(rows)
    df.to_csv(out_csv, index=False)
    print(df.groupby(["n", "point"])[["srcc", "trimmed"]].mean().unstack("n").round(4).to_string())
    print(df[df.n == 10].groupby(["target", "point"]).srcc.mean().unstack("point").round(4).to_string())


if __name__ == "__main__":
    main(sys.argv[1])
