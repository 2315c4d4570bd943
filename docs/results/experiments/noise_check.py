"""Predictive vs actual error sd of the adapted posterior (n = 10): is a device's noise level mis-estimated?

HELP NB201: validation devices and targets (model fitted on the nine sources), and pixel3 / samsung_s7 /
essential_ph_1 each left out of the sources; seeds 0-4.  Per device: root mean square of the predictive sd
over the unmeasured architectures divided by that of the actual error of the posterior mean (1 = right;
< 1 intervals too narrow), and the 90% interval coverage.
Usage (repository root): python docs/results/experiments/noise_check.py OUT.csv
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psrcc_nontarget import adapted, nontarget_cases  # noqa: E402

import latxfer  # noqa: E402

nb = latxfer.get_split("nb201", "help")
ds = latxfer.load_dataset("nb201-help")
rows = []
for _, t, _, seed, _, y, post in adapted(ds, nontarget_cases(nb, extra=nb.target), (10,)):
    un = ~post.measured
    fn = post.mean(noise_free=True)[un]
    pred_sd = post.sd()[un]
    err = y[un] - fn
    lo, hi = post.interval(0.9)
    rows.append(dict(device=t, seed=seed, ratio=np.sqrt(np.mean(pred_sd**2)) / np.sqrt(np.mean(err**2)),
                     coverage=np.mean((y[un] >= lo[un]) & (y[un] <= hi[un]))))
df = pd.DataFrame(rows)
print(df.groupby("device")[["ratio", "coverage"]].mean().round(3).to_string())
df.to_csv(sys.argv[1], index=False)
