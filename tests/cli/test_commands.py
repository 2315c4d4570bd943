"""``latxfer fit / predict / assess / search``: the stable CLI contract, strict JSON, and clean errors on bad
input (the long list of refused inputs is test_bad_input.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from latxfer.cli import main


def strict_json(text: str):
    """Parse ``text`` as JSON, failing on NaN / Infinity (which ``json.loads`` accepts by default)."""
    def refuse(const):
        raise AssertionError(f"{const} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def target_csv(tmp_path, nb201_help):
    a = np.random.default_rng(0).choice(15625, 10, replace=False)
    p = tmp_path / "t.csv"
    pd.DataFrame({"device": "newdev", "arch_index": a,
                  "latency_ms": nb201_help.latency.sel(device="raspi4", arch=a).values}).to_csv(p, index=False)
    return p


def test_predict_writes_contract_columns(fitted_path, target_csv, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(fitted_path), "--target-csv", str(target_csv), "--out", str(out),
                 "--interval", "0.8", "--seed", "1"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["arch_index", "mean_ms", "sd_ms", "lower_ms", "upper_ms", "measured"]
    assert len(df) == 15625 and df["measured"].sum() == 10
    assert (df.lower_ms <= df.mean_ms).mean() > 0.95 and (df.upper_ms >= df.lower_ms).all()
    assert main(["predict", "--model", str(fitted_path), "--target-csv", str(target_csv), "--out", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_predict_json_is_strict_and_seeded(fitted_path, target_csv, tmp_path, capsys):
    outs = []
    for i in (1, 2):
        out = tmp_path / f"pred{i}.csv"
        assert main(["predict", "--model", str(fitted_path), "--target-csv", str(target_csv), "--out", str(out),
                     "--seed", "4", "--json"]) == 0
        res = strict_json(capsys.readouterr().out)
        assert res["out"] == str(out) and res["n_measured"] == 10 and res["n_archs"] == 15625
        assert res["device"] == "newdev" and res["seed"] == 4 and res["plot"] is None
        assert 0 < res["mean_ms"]["min"] <= res["mean_ms"]["median"] <= res["mean_ms"]["max"]
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]  # the same seed gives the same numbers


def test_predict_without_measurements_is_labelled_prior(fitted_path, tmp_path, capsys):
    out = tmp_path / "prior.csv"
    assert main(["predict", "--model", str(fitted_path), "--out", str(out)]) == 0
    io = capsys.readouterr()
    assert "PRIOR" in io.err and "prior (no target measurement)" in io.out
    assert "latency level comes from the source devices" in io.err
    assert pd.read_csv(out)["measured"].sum() == 0


def test_assess_json(fitted_path, target_csv, capsys):
    assert main(["assess", "--model", str(fitted_path), "--proxy", "pixel3", "--target-csv", str(target_csv),
                 "--threshold", "0.9", "--json"]) == 0
    res = strict_json(capsys.readouterr().out)
    assert res["decision"] in {"reuse", "adapt", "measure more"}
    assert -1 <= res["lower"] <= res["mean"] <= res["upper"] <= 1 and 0 <= res["p_above_threshold"] <= 1
    assert res["proxy"] == "pixel3" and res["n_measured"] == 10


def test_reuse_calls_below_098_carry_a_caution():
    from latxfer.decision import REUSE_CAUTION_BELOW, decision_reason

    sure, unsure = decision_reason("reuse", 0.995, 0.9, 0.9), decision_reason("reuse", 0.93, 0.9, 0.9)
    assert "can be reused" in sure and "confirm" not in sure
    assert "P(SRCC >= 0.9) = 0.93" in unsure and "confirm with a few more measurements" in unsure
    assert REUSE_CAUTION_BELOW == 0.98
    assert "confirm" not in decision_reason("adapt", 0.02, 0.9, 0.9)
    assert "measure more architectures" in decision_reason("measure more", 0.5, 0.9, 0.9)


def test_search_with_a_real_model_starts_from_the_source_fronts(fitted_path, target_csv, tmp_path, capsys):
    from latxfer import nas
    from latxfer.models import load_model

    warm = nas.source_fronts(load_model(fitted_path), "cifar10")
    assert warm.size > 0
    out = tmp_path / "pareto.csv"
    assert main(["search", "--model", str(fitted_path), "--target-csv", str(target_csv), "--trials", "80",
                 "--out", str(out), "--json", "--no-progress"]) == 0
    summary = strict_json(capsys.readouterr().out)
    assert summary["n_warm_start"] == min(warm.size, 40) and summary["n_trials"] == 80
    assert summary["n_target_measurements"] == 10 and len(pd.read_csv(out)) == summary["n_pareto"] > 0
    assert main(["search", "--model", str(fitted_path), "--target-csv", str(target_csv), "--trials", "80",
                 "--out", str(tmp_path / "cold.csv"), "--warm-start", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_warm_start"] == 0


def test_predict_and_assess_figures(fitted_path, target_csv, tmp_path, capsys):
    pred, fig1, fig2 = tmp_path / "p.csv", tmp_path / "pred.png", tmp_path / "srcc.png"
    assert main(["predict", "--model", str(fitted_path), "--target-csv", str(target_csv), "--out", str(pred),
                 "--plot", str(fig1)]) == 0
    assert main(["assess", "--model", str(fitted_path), "--proxy", "pixel3", "--target-csv", str(target_csv),
                 "--plot", str(fig2)]) == 0
    for f in (fig1, fig2):
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 10_000
    # an existing figure is never overwritten silently; a file name without a figure suffix is refused
    assert main(["assess", "--model", str(fitted_path), "--proxy", "pixel3", "--target-csv", str(target_csv),
                 "--plot", str(fig2)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["assess", "--model", str(fitted_path), "--proxy", "pixel3", "--target-csv", str(target_csv),
                 "--plot", str(tmp_path / "x.txt")]) == 2
    assert ".png" in capsys.readouterr().err


def test_bad_inputs_exit_2(fitted_path, target_csv, tmp_path, capsys, nb201_help):
    # a target device that is a source of the model
    src = tmp_path / "src.csv"
    pd.DataFrame({"device": "pixel3", "arch_index": [1, 2, 3], "latency_ms": [5.0, 6.0, 7.0]}).to_csv(src, index=False)
    assert main(["predict", "--model", str(fitted_path), "--target-csv", str(src), "--out", str(tmp_path / "a.csv")]) == 2
    assert "is a source device" in capsys.readouterr().err
    assert main(["predict", "--model", str(fitted_path), "--target-csv", str(src), "--out", str(tmp_path / "a.csv"),
                 "--treat-as-known"]) == 0
    # architecture outside the space, non-positive latency, empty file
    for text, msg in [("device,arch_index,latency_ms\nd,99999,1.0\n", "not an architecture"),
                      ("device,arch_index,latency_ms\nd,1,0\n", "must be > 0"),
                      ("", "empty")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        assert main(["predict", "--model", str(fitted_path), "--target-csv", str(bad), "--out",
                     str(tmp_path / "b.csv")]) == 2
        assert msg in capsys.readouterr().err
    # not a model file
    assert main(["predict", "--model", str(target_csv), "--target-csv", str(target_csv), "--out",
                 str(tmp_path / "c.csv")]) == 2
    assert "not a latxfer model" in capsys.readouterr().err
    # unknown proxy
    assert main(["assess", "--model", str(fitted_path), "--proxy", "nope", "--target-csv", str(target_csv)]) == 2
    assert "not a source device" in capsys.readouterr().err


def test_fit_cli(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('[model]\nn_factors = 1\nfit_archs = 100\nnoise_power = 0\n[sampler]\nchains = 2\ntune = 100\ndraws = 50\n'
                   'ess_min = 1\nrhat_max = 10.0\n')
    out = tmp_path / "fit.zarr"
    assert main(["fit", "--dataset", "nb201-hwnasbench", "--sources", "hwnb_pixel3,hwnb_raspi4",
                 "--model", str(cfg), "--seed", "0", "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["sources"] == ["hwnb_pixel3", "hwnb_raspi4"] and out.exists()
    assert res["noise_power"] == 0.0  # the tiny configuration keeps one noise sd per device
    assert main(["fit", "--dataset", "nb201-hwnasbench", "--sources", "hwnb_pixel3,hwnb_raspi4",
                 "--model", str(cfg), "--out", str(out)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["fit", "--dataset", "nb201-help", "--sources", "pixel3,nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown device" in capsys.readouterr().err
    assert main(["fit", "--dataset", "nb201-help", "--sources", "help", "--model", "nope",
                 "--out", str(tmp_path / "y")]) == 2
    assert "known configurations" in capsys.readouterr().err


def _tiny_toml(path):
    path.write_text("[model]\nfit_archs = 100\nn_factors = 2\n\n[sampler]\nname = \"map\"\ndraws = 60\n"
                    "ess_min = 1\nrhat_max = 10.0\n\n[adapt]\nn_draws = 60\n")
    return path


def test_fit_on_your_own_source_csv(tmp_path, nb201_help, capsys):
    """A user's own source tables (tidy CSV, some architectures each) fit, save and predict like a named set."""
    rng = np.random.default_rng(1)
    rows = []
    for d in ["1080ti_1", "pixel3", "silver_4114"]:
        a = rng.choice(15625, 300, replace=False)
        rows.append(pd.DataFrame({"device": f"my_{d}", "arch_index": a,
                                  "latency_ms": nb201_help.latency.sel(device=d, arch=a).values}))
    src = tmp_path / "fleet.csv"
    pd.concat(rows).to_csv(src, index=False)
    cfg = _tiny_toml(tmp_path / "tiny.toml")
    out = tmp_path / "fleet.zarr"
    args = ["fit", "--dataset", str(src), "--sources", "my_1080ti_1,my_pixel3,my_silver_4114", "--model", str(cfg),
            "--out", str(out), "--json"]
    # without a space the architectures cannot be encoded: said so, nothing written
    assert main(args) == 2
    assert "--space" in capsys.readouterr().err and not out.exists()
    assert main(args + ["--space", "nb201"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sources"] == ["my_1080ti_1", "my_pixel3", "my_silver_4114"] and out.exists()
    a = rng.choice(15625, 8, replace=False)
    tgt = tmp_path / "t.csv"
    pd.DataFrame({"device": "newdev", "arch_index": a,
                  "latency_ms": nb201_help.latency.sel(device="raspi4", arch=a).values}).to_csv(tgt, index=False)
    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(out), "--target-csv", str(tgt), "--out", str(pred)]) == 0
    df = pd.read_csv(pred)
    assert len(df) == 15625 and df["measured"].sum() == 8 and np.isfinite(df[["mean_ms", "lower_ms"]]).all().all()
    # a device the CSV does not hold is named with the ones it does
    assert main(["fit", "--dataset", str(src), "--space", "nb201", "--sources", "my_1080ti_1,nope",
                 "--model", str(cfg), "--out", str(tmp_path / "x.zarr")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "my_pixel3" in err


def test_search_is_seeded_and_refuses_to_overwrite_without_the_flag(fitted_path, target_csv, tmp_path, capsys):
    """The adaptation behind a search is seeded by --seed (it was not: two runs gave two Pareto sets)."""
    out = tmp_path / "p.csv"
    args = ["search", "--model", str(fitted_path), "--target-csv", str(target_csv), "--trials", "20", "--seed", "2",
            "--out", str(out), "--no-progress", "--warm-start", "none"]
    assert main(args) == 0
    first = out.read_bytes()
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert main([*args, "--overwrite"]) == 0
    assert out.read_bytes() == first  # the same seed gives the same Pareto set


def test_plan_json_is_strict_and_replays_the_file_order(fitted_path, target_csv, tmp_path, capsys):
    out = tmp_path / "next.csv"
    args = ["plan", "--model", str(fitted_path), "--target-csv", str(target_csv), "--goal", "decide",
            "--proxy", "pixel3", "--batch", "4", "--max", "4", "--worlds", "2", "--json", "--out", str(out)]
    rc = main(args)
    d = strict_json(capsys.readouterr().out)
    assert rc == (0 if d["reachable"] else 1) and d["n_measured"] == 10 and d["batch"] == 4
    assert [r["n"] for r in d["track_record"]] == [4, 4, 2]  # the file's 10 rows in rounds of --batch
    assert pd.read_csv(out)["arch_index"].tolist() == d["next_archs"]
    # the template is the command's own output: --overwrite replaces it; the target CSV never
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) in (0, 1)
    capsys.readouterr()
    before = target_csv.read_bytes()
    assert main([*args[:-1], str(target_csv), "--overwrite"]) == 2
    assert "also an input" in capsys.readouterr().err and target_csv.read_bytes() == before


def test_monotonicity_json_is_strict_and_the_plot_needs_overwrite(tmp_path, capsys):
    png = tmp_path / "h.png"
    args = ["monotonicity", "--dataset", "nb201-hwnasbench", "--devices", "hwnb_pixel3,hwnb_eyeriss",
            "--pseudo", "none", "--n-boot", "20", "--json", "--plot", str(png)]
    assert main(args) == 0
    d = strict_json(capsys.readouterr().out)
    assert d["devices"] == ["hwnb_pixel3", "hwnb_eyeriss"] and png.read_bytes()[:4] == b"\x89PNG"
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
