"""posterior_srcc's calibration on a space its discrepancy was not chosen on: FBNet, HELP split.

``PSRCC_DISCREPANCY`` was chosen on NB201 devices that are not targets
(``psrcc_nontarget.py``).  Here the same check runs on FBNet (5,000 architectures): model ``hier`` fitted on
the nine HELP FBNet sources, every target and validation device, n = 5, 10, 20 random measurements, seeds
0-4, every source as proxy; the truth is the proxy-target SRCC over all architectures.  Share of the
truths inside the 90% interval, with the discrepancy (shipped) and without (the model's own posterior).
Nothing is chosen here.

Usage (repository root; the fit is cached in benchmarks/out)::

    LATXFER_DATA=... python docs/results/experiments/psrcc_fbnet.py OUT.csv
"""

import sys
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import cached_hier_fit  # noqa: E402

import latxfer  # noqa: E402
from latxfer.evaluate import measured_sample  # noqa: E402


def main(out_csv: str) -> None:
    split = latxfer.get_split("fbnet", "help")
    ds = latxfer.load_dataset("fbnet-help")
    m = cached_hier_fit(ROOT / "benchmarks" / "out" / "fbnet_help_hier.zarr", ds.latx.select(split.source))
    Y = {d: m.source_latency_ms(d) for d in split.source}
    rows = []
    for t in split.target + split.validation:
        y = pd.Series(ds.latx.latency_matrix([t])[0], index=ds.latx.archs)  # end-to-end ms
        pool = ds.latx.measured(t)
        for seed in range(5):
            for n in (5, 10, 20):
                a = measured_sample(pool, t, n, seed)
                post = m.adapt(a, y[a].to_numpy(), device=t, rng=seed).posterior
                truth = y.reindex(post.archs).to_numpy()
                for p in split.source:
                    r = m.posterior_srcc(Y[p], post)
                    true = spearmanr(Y[p], truth)[0]
                    lo, hi = r.interval
                    rlo, rhi = r.model_posterior().interval
                    rows.append(dict(target=t, role="target" if t in split.target else "validation", n=n,
                                     seed=seed, proxy=p, true=true, mean=r.mean, covered=lo <= true <= hi,
                                     raw_covered=rlo <= true <= rhi))
        print(t, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out_csv, index=False)
    print(df.groupby(["role", "n"])[["covered", "raw_covered"]].mean().round(3).to_string())
    print(df.groupby(["target", "n"])[["covered", "raw_covered"]].mean().unstack("n").round(2).to_string())


if __name__ == "__main__":
    main(sys.argv[1])
