"""The loop of docs/guide/measure.md, end to end on the CPU with tiny settings:
fit -> plan --out next.csv -> measure -> plan --target-csv -> measure --append -> assess, predict, search."""

from __future__ import annotations

import pandas as pd

from latxfer.cli import main

TINY_TOML = """
[model]
variant = "hierarchical"
n_factors = 2
fit_archs = 120
noise_power = "auto"

[sampler]
chains = 2
tune = 100
draws = 60
ess_min = 1
rhat_max = 10.0

[adapt]
n_draws = 60
"""

MEASURE = ["--repeats", "3", "--warmup", "1", "--no-progress", "--device-name", "laptop"]
PLAN = ["--goal", "srcc>=0.9", "--batch", "2", "--max", "4", "--worlds", "2"]


def test_measure_your_own_device_loop(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_TOML)
    model, nxt, mine = tmp_path / "m.zarr", tmp_path / "next.csv", tmp_path / "mine.csv"
    assert main(["fit", "--dataset", "nb201-help", "--sources", "1080ti_1,silver_4114,pixel3",
                 "--model", str(cfg), "--out", str(model), "--seed", "1"]) == 0
    # plan exits 1 when the goal is not reachable within --max yet (it still writes the next batch): which
    # of the two a real, noisy measurement gives is not the point of this loop
    assert main(["plan", "--model", str(model), *PLAN, "--out", str(nxt)]) in (0, 1)
    first = pd.read_csv(nxt)["arch_index"].tolist()
    assert len(first) == 2
    assert main(["measure", "--space", "nb201", "--archs", str(nxt), "--out", str(mine), *MEASURE]) == 0
    assert main(["plan", "--model", str(model), "--target-csv", str(mine), *PLAN, "--out", str(nxt),
                 "--overwrite"]) in (0, 1)
    second = pd.read_csv(nxt)["arch_index"].tolist()
    assert not set(second) & set(first)  # the plan moves on to architectures not measured yet
    assert main(["measure", "--space", "nb201", "--archs", str(nxt), "--out", str(mine), "--append",
                 *MEASURE]) == 0
    df = pd.read_csv(mine)
    assert df["arch_index"].tolist() == first + second and (df["latency_ms"] > 0).all()
    capsys.readouterr()
    assert main(["assess", "--model", str(model), "--proxy", "pixel3", "--target-csv", str(mine)]) == 0
    assert "posterior SRCC" in capsys.readouterr().out
    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--target-csv", str(mine), "--out", str(pred)]) == 0
    p = pd.read_csv(pred)
    assert len(p) == 15625 and p["measured"].sum() == 4
    assert (p["lower_ms"] <= p["upper_ms"]).all()
    pareto = tmp_path / "pareto.csv"
    assert main(["search", "--model", str(model), "--target-csv", str(mine), "--trials", "12", "--out",
                 str(pareto), "--no-progress"]) == 0
    assert len(pd.read_csv(pareto)) >= 1
