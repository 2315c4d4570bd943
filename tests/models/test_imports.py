"""Loading, adapting, predicting and the SRCC posterior never import PyMC, PyTensor or ArviZ (fitting does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pymc", "pytensor", "arviz", "arviz_plots", "matplotlib", "numba")

_SCRIPT = """
import json, sys
import numpy as np
import latxfer.models
from latxfer.models import load_model, posterior_srcc
after_import = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
m = load_model(PATH)
ad = m.adapt(m.basis.archs[:10], np.linspace(1.0, 2.0, 10), rng=0)
ad.predict(m.basis.archs)
posterior_srcc(m.source_latency_ms(m.source_devices[0]), ad.posterior)
m.posterior_srcc(m.source_latency_ms(m.source_devices[1]), ad.posterior)
print(json.dumps({"after_import": after_import,
                  "after_use": sorted({k.split(".")[0] for k in sys.modules if k.split(".")[0] in HEAVY})}))
"""


def test_load_adapt_predict_and_srcc_import_no_pymc(fitted_path):
    code = f"HEAVY = {HEAVY!r}\nPATH = {str(fitted_path)!r}\n" + _SCRIPT
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got == {"after_import": [], "after_use": []}
