"""Reuse/adapt decisions of ``posterior_srcc`` after very few measurements, on devices that are not targets.

Cases as psrcc_nontarget.py (HELP NB201 validation devices; pixel3 / samsung_s7 / essential_ph_1 each left
out of the sources), n = 1, 2, 3, 5, 10 random measurements, seeds 0-4, every source as proxy; the shipped
model discrepancy, threshold 0.9, decision at 90% confidence (``SRCCPosterior.decision``).  Prints, per n,
the share of cases decided (reuse or adapt, not "measure more") and the share of decided cases that are
wrong (the truth on the other side of 0.9).  At 90% confidence, at most about 10% of them should be.

Usage (from the repository root; fits are cached in benchmarks/out)::

    LATXFER_DATA=... python docs/results/experiments/decisions_small_n.py OUT.csv
"""

import sys
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psrcc_nontarget import adapted, nontarget_cases  # noqa: E402

import latxfer  # noqa: E402


def main(out_csv: str) -> None:
    ds = latxfer.load_dataset("nb201-help")
    rows = []
    cases = nontarget_cases(latxfer.get_split("nb201", "help"))
    for m, t, n, seed, _, y, post in adapted(ds, cases, (1, 2, 3, 5, 10)):
        for p in m.source_devices:
            yp = ds.latency.sel(device=p).values
            r = m.posterior_srcc(yp, post)
            true = spearmanr(yp, y)[0]
            kind = r.decision()
            rows.append(dict(target=t, n=n, seed=seed, proxy=p, true=true, mean=r.mean, p_above=r.p_above,
                             decision=kind, wrong=(kind == "reuse" and true < 0.9) or (kind == "adapt" and true >= 0.9)))
    df = pd.DataFrame(rows)
    df.to_csv(out_csv, index=False)
    dec = df[df.decision != "measure more"]
    print("cases per n:", df.groupby("n").size().iloc[0])
    summary = pd.DataFrame({"decided": df.groupby("n").decision.apply(lambda s: (s != "measure more").mean()),
                            "wrong_of_decided": dec.groupby("n").wrong.mean(),
                            "wrong_reuse": dec[dec.decision == "reuse"].groupby("n").wrong.mean(),
                            "wrong_adapt": dec[dec.decision == "adapt"].groupby("n").wrong.mean()})
    print(summary.round(3).to_string())
    print("\nwrong decisions by target device (all n):")
    print(dec.groupby("target").wrong.agg(["sum", "count"]).to_string())


if __name__ == "__main__":
    main(sys.argv[1])
