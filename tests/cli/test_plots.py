"""latxfer.plots: figures on the Agg canvas, written atomically, never switching the user's backend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from latxfer.errors import OutputPathError


@pytest.fixture(scope="module")
def srcc_post(fitted, nb201_help):
    a = np.random.default_rng(2).choice(15625, 8, replace=False)
    post = fitted.adapt(a, nb201_help.latency.sel(device="raspi4", arch=a).values, rng=0).posterior
    return post, fitted.posterior_srcc(fitted.source_latency_ms("pixel3"), post)


def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path):
    code = f"""
import matplotlib
matplotlib.use("svg")
import sys
import latxfer
from latxfer.monotonicity import monotonicity_matrix
from latxfer.plots import plot_monotonicity_heatmap
ds = latxfer.load_dataset("nb201-hwnasbench").latx.select(["hwnb_pixel3", "hwnb_raspi4"])
fig = plot_monotonicity_heatmap(monotonicity_matrix(ds, n_boot=0), {str(tmp_path / "h.png")!r})
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
print(type(fig).__name__)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Figure" and (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_figures_are_written_atomically_and_refuse_when_asked(srcc_post, tmp_path):
    from latxfer.plots import plot_posterior_srcc, plot_prediction

    post, r = srcc_post
    f = tmp_path / "p.svg"
    plot_prediction(post, f)
    assert f.read_text().lstrip().startswith("<?xml")
    plot_posterior_srcc(r, f)  # the library's default replaces a figure, as it always did
    with pytest.raises(OutputPathError, match="already exists"):
        plot_posterior_srcc(r, f, overwrite=False)
    with pytest.raises(OutputPathError, match="cannot write a '.docx' file"):
        plot_prediction(post, tmp_path / "p.docx")
    with pytest.raises(OutputPathError, match="does not exist"):
        plot_prediction(post, tmp_path / "no" / "p.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.svg"]  # no temporary file left behind

