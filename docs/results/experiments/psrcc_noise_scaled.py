"""Would a model discrepancy that grows with the device's noise level calibrate posterior_srcc per device?

The shipped discrepancy of ``posterior_srcc`` is one sd (``PSRCC_DISCREPANCY``) for every device, so devices
the model describes well get intervals that are too wide and phones ones that are too narrow.  This
diagnosis scales it by the adapted posterior's own noise level (rms over architectures of the predictive
sd of log latency about the noise-free draws; absolute, and relative to the sd of the predicted log
latency) and chooses the scale as the shipped value was chosen: the 90th percentile over the cases of
``psrcc_nontarget.py`` of the discrepancy each needed (its csv, ``need``), here divided by the noise level.
Devices that are not targets only.  Nothing in the library changes.

Usage (repository root; fits cached in benchmarks/out)::

    LATXFER_DATA=... python docs/results/experiments/psrcc_noise_scaled.py psrcc_nontarget_discrepancy.csv
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psrcc_nontarget import adapted, nontarget_cases  # noqa: E402

import latxfer  # noqa: E402


def main(need_csv: str) -> None:
    ds = latxfer.load_dataset("nb201-help")
    rows = []
    for _, t, n, seed, _, _, post in adapted(ds, nontarget_cases(latxfer.get_split("nb201", "help")), (5, 10, 20)):
        lf, ld = np.log(post.mean_fn_ms), np.log(post.draws_ms)
        noise = float(np.sqrt(np.mean(np.var(ld - lf, axis=0))))
        rows.append(dict(target=t, n=n, seed=seed, noise=noise, noise_rel=noise / float(np.std(lf.mean(0)))))
    m = pd.read_csv(need_csv).merge(pd.DataFrame(rows), on=["target", "n", "seed"])
    per = {"one sd (shipped)": m.need <= np.quantile(m.need, 0.9)}
    for col in ("noise", "noise_rel"):
        k = np.quantile(m.need / m[col], 0.9)
        per[f"sd = {k:.3f} x {col}"] = m.need <= k * m[col]
    print(pd.DataFrame({k: v.groupby(m.target).mean() for k, v in per.items()}).round(3).to_string())
    print("pooled:", {k: round(float(v.mean()), 3) for k, v in per.items()})


if __name__ == "__main__":
    main(sys.argv[1])
