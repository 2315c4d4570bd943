"""Bad and unusual input to every command (issue 27): the exit status, a message naming the flag / file /
value at fault, no traceback, and every user file byte-identical afterwards (nothing written on refusal).

Each case runs the CLI in-process (``main([...])``); a few run as subprocesses to prove that no traceback
reaches the terminal.  Paths in the arguments are placeholders filled from the ``work`` directory:
``{w}`` the user's directory, ``{model}`` the shared small fit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latxfer.cli import main

M = ["--model", "{model}"]
T = ["--target-csv", "{w}/mine.csv"]
PRED = ["predict", *M, *T, "--out", "{w}/pred.csv"]
ASSESS = ["assess", *M, "--proxy", "pixel3", *T]
PLAN = ["plan", *M, *T, "--goal", "srcc>=0.5", "--batch", "2", "--max", "2", "--worlds", "2"]
SEARCH = ["search", *M, *T, "--trials", "5", "--out", "{w}/pareto.csv", "--no-progress"]
MONO = ["monotonicity", "--dataset", "nb201-hwnasbench", "--devices", "hwnb_pixel3,hwnb_raspi4", "--n-boot", "0"]
FIT = ["fit", "--dataset", "nb201-hwnasbench", "--sources", "hwnb_pixel3,hwnb_raspi4", "--model", "{w}/tiny.toml"]

# (id, argv, exit status, substrings the message must hold)
CASES = [
    # -- numeric flags, checked at parse time (nothing loaded)
    ("predict-seed-negative", [*PRED, "--seed", "-1"], 2, ["--seed", "-1", ">= 0"]),
    ("assess-seed-negative", [*ASSESS, "--seed", "-1"], 2, ["--seed", "-1"]),
    ("search-seed-negative", [*SEARCH, "--seed", "-1"], 2, ["--seed", "-1"]),
    ("plan-seed-negative", [*PLAN, "--seed", "-1"], 2, ["--seed", "-1"]),
    ("monotonicity-seed-negative", [*MONO, "--seed", "-1"], 2, ["--seed", "-1"]),
    ("fit-seed-negative", [*FIT, "--out", "{w}/m.zarr", "--seed", "-1"], 2, ["--seed", "-1"]),
    ("predict-seed-fraction", [*PRED, "--seed", "1.5"], 2, ["--seed", "'1.5'", "integer"]),
    ("assess-interval-above-1", [*ASSESS, "--interval", "1.5"], 2, ["--interval", "1.5", "(0, 1)"]),
    ("assess-interval-0", [*ASSESS, "--interval", "0"], 2, ["--interval", "(0, 1)"]),
    ("predict-interval-1", [*PRED, "--interval", "1"], 2, ["--interval", "got 1"]),
    ("predict-interval-text", [*PRED, "--interval", "wide"], 2, ["--interval", "'wide'"]),
    ("monotonicity-interval-negative", [*MONO, "--interval", "-0.1"], 2, ["--interval", "-0.1"]),
    ("search-interval-nan", [*SEARCH, "--interval", "nan"], 2, ["--interval", "nan"]),
    ("assess-confidence-0.2", [*ASSESS, "--confidence", "0.2"], 2, ["--confidence", "0.2", "(0.5, 1)"]),
    ("assess-confidence-0.5", [*ASSESS, "--confidence", "0.5"], 2, ["--confidence", "0.5"]),
    ("plan-confidence-1", [*PLAN, "--confidence", "1"], 2, ["--confidence", "got 1"]),
    ("assess-threshold-5", [*ASSESS, "--threshold", "5"], 2, ["--threshold", "5", "(-1, 1)"]),
    ("assess-threshold-nan", [*ASSESS, "--threshold", "nan"], 2, ["--threshold", "nan"]),
    ("assess-threshold-inf", [*ASSESS, "--threshold", "inf"], 2, ["--threshold", "inf"]),
    ("plan-threshold-minus-1", [*PLAN, "--threshold", "-1"], 2, ["--threshold", "-1"]),
    ("monotonicity-n-boot-negative", [*MONO, "--n-boot", "-5"], 2, ["--n-boot", "-5", ">= 0"]),
    ("search-trials-0", [*SEARCH, "--trials", "0"], 2, ["--trials", "0", ">= 1"]),
    ("plan-batch-0", [*PLAN, "--batch", "0"], 2, ["--batch", "0"]),
    ("plan-max-0", [*PLAN, "--max", "0"], 2, ["--max", "0"]),
    ("plan-worlds-1", [*PLAN, "--worlds", "1"], 2, ["--worlds", "1", ">= 2"]),
    ("plan-trim-1.5", [*PLAN, "--trim", "1.5"], 2, ["--trim", "1.5", "[0, 1)"]),
    ("search-budget-0", [*SEARCH, "--budget-ms", "0"], 2, ["--budget-ms", "0"]),
    ("search-budget-negative", [*SEARCH, "--budget-ms", "-5"], 2, ["--budget-ms", "-5"]),
    ("search-delta-1", [*SEARCH, "--delta", "1"], 2, ["--delta", "got 1"]),
    ("search-population-1", [*SEARCH, "--population-size", "1"], 2, ["--population-size", "1", ">= 2"]),
    ("predict-intercept-nan", [*PRED, "--intercept-ms", "nan"], 2, ["--intercept-ms", "nan"]),
    ("fetch-timeout-0", ["data", "fetch", "nb201-help", "--timeout", "0"], 2, ["--timeout", "0"]),
    ("validate-missing-value-text", ["data", "validate", "{w}/mine.csv", "--missing-values", "x"], 2,
     ["--missing-values", "'x'"]),
    ("search-space-unknown", [*SEARCH, "--space", "darts"], 2, ["--space", "darts", "nb201"]),
    ("info-space-unknown", ["data", "info", "{w}/mine.csv", "--space", "darts"], 2, ["--space", "darts"]),
    ("unknown-command", ["train"], 2, ["train"]),
    ("predict-missing-out", ["predict", *M, *T], 2, ["--out"]),
    # -- outputs: refused before any computation, nothing written
    ("predict-out-exists", [*PRED[:-1], "{w}/old.csv"], 2, ["old.csv", "already exists", "--overwrite"]),
    ("predict-plot-exists", [*PRED, "--plot", "{w}/old.png"], 2, ["--plot", "old.png", "already exists"]),
    ("assess-plot-exists", [*ASSESS, "--plot", "{w}/old.png"], 2, ["--plot", "old.png", "already exists"]),
    ("plan-out-exists", [*PLAN, "--out", "{w}/old.csv"], 2, ["--out", "old.csv", "already exists"]),
    ("plan-plot-exists", [*PLAN, "--plot", "{w}/old.png"], 2, ["--plot", "old.png", "already exists"]),
    ("search-out-exists", [*SEARCH[:-2], "{w}/old.csv", "--no-progress"], 2, ["--out", "old.csv", "already exists"]),
    ("search-plot-exists", [*SEARCH, "--plot", "{w}/old.png"], 2, ["--plot", "old.png", "already exists"]),
    ("monotonicity-plot-exists", [*MONO, "--plot", "{w}/old.png"], 2, ["--plot", "old.png", "already exists"]),
    ("plan-out-is-the-target", [*PLAN, "--out", "{w}/mine.csv", "--overwrite"], 2,
     ["--out", "mine.csv", "also an input"]),
    ("predict-out-is-the-target", [*PRED[:-1], "{w}/mine.csv", "--overwrite"], 2, ["mine.csv", "also an input"]),
    ("search-out-is-the-target", [*SEARCH[:-2], "{w}/mine.csv", "--overwrite", "--no-progress"], 2,
     ["mine.csv", "also an input"]),
    ("search-out-is-the-storage", [*SEARCH[:-2], "{w}/study.log", "--storage", "{w}/study.log", "--overwrite"], 2,
     ["study.log", "also an input"]),
    ("predict-out-is-the-model", [*PRED[:-1], "{model}", "--overwrite"], 2, ["--out", "also an input"]),
    ("predict-out-is-a-directory", [*PRED[:-1], "{w}/adir"], 2, ["adir", "is a directory"]),
    ("predict-out-in-missing-directory", [*PRED[:-1], "{w}/nowhere/pred.csv"], 2, ["nowhere", "does not exist"]),
    ("predict-plot-bad-suffix", [*PRED, "--plot", "{w}/fig.txt"], 2, ["--plot", "fig.txt", ".png"]),
    ("plan-plot-bad-suffix-before-out", [*PLAN, "--out", "{w}/next.csv", "--plot", "{w}/fig.txt"], 2,
     ["--plot", "fig.txt", ".png, .pdf, .svg"]),
    ("assess-plot-no-suffix", [*ASSESS, "--plot", "{w}/figure"], 2, ["--plot", "figure", "no suffix"]),
    ("search-plot-jpg", [*SEARCH, "--plot", "{w}/f.jpg"], 2, ["--plot", "f.jpg", ".svg"]),
    ("monotonicity-plot-txt", [*MONO, "--plot", "{w}/h.txt"], 2, ["--plot", "h.txt"]),
    ("plan-out-and-plot-one-path", [*PLAN, "--out", "{w}/both.png", "--plot", "{w}/both.png"], 2,
     ["--plot", "both.png", "--out"]),
    ("fit-out-exists", [*FIT, "--out", "{w}/adir"], 2, ["adir", "already exists"]),
    ("fit-overwrite-foreign-directory", [*FIT, "--out", "{w}/adir", "--overwrite"], 2,
     ["adir", "did not write", "refusing"]),
    ("fit-overwrite-a-file", [*FIT, "--out", "{w}/old.csv", "--overwrite"], 2, ["old.csv", "not a latxfer store"]),
    # -- the target CSV: one reader, the same checks for every command
    ("predict-target-is-a-source", ["predict", *M, "--target-csv", "{w}/src.csv", "--out", "{w}/p.csv"], 2,
     ["src.csv", "'pixel3'", "source device", "--treat-as-known"]),
    ("assess-target-is-a-source", ["assess", *M, "--proxy", "1080ti_1", "--target-csv", "{w}/src.csv"], 2,
     ["src.csv", "'pixel3'", "source device"]),
    ("plan-target-is-a-source", ["plan", *M, "--target-csv", "{w}/src.csv", "--goal", "srcc>=0.9"], 2,
     ["src.csv", "'pixel3'", "source device"]),
    ("search-target-is-a-source", ["search", *M, "--target-csv", "{w}/src.csv", "--out", "{w}/p.csv"], 2,
     ["src.csv", "'pixel3'", "source device"]),
    ("predict-target-other-space", ["predict", *M, "--target-csv", "{w}/fbnet.csv", "--out", "{w}/p.csv"], 2,
     ["fbnet.csv", "'fbnet'", "'nb201'"]),
    ("assess-target-other-space", ["assess", *M, "--proxy", "pixel3", "--target-csv", "{w}/fbnet.csv"], 2,
     ["fbnet.csv", "'fbnet'", "'nb201'"]),
    ("search-target-other-space", ["search", *M, "--target-csv", "{w}/fbnet.csv", "--out", "{w}/p.csv"], 2,
     ["fbnet.csv", "'fbnet'", "'nb201'"]),
    ("search-space-not-the-models", [*SEARCH, "--space", "fbnet"], 2, ["--space fbnet", "'nb201'"]),
    ("predict-target-two-devices", ["predict", *M, "--target-csv", "{w}/two.csv", "--out", "{w}/p.csv"], 2,
     ["two.csv", "2 devices"]),
    ("plan-target-two-devices", ["plan", *M, "--target-csv", "{w}/two.csv", "--goal", "srcc>=0.9"], 2,
     ["two.csv", "2 devices"]),
    ("predict-intercept-end-to-end", [*PRED, "--intercept-ms", "3"], 2, ["--intercept-ms", "mine.csv"]),
    ("predict-target-missing", ["predict", *M, "--target-csv", "{w}/none.csv", "--out", "{w}/p.csv"], 2,
     ["none.csv"]),
    ("assess-target-empty", ["assess", *M, "--proxy", "pixel3", "--target-csv", "{w}/empty.csv"], 2,
     ["empty.csv", "empty"]),
    ("plan-target-arch-outside", ["plan", *M, "--target-csv", "{w}/outside.csv", "--goal", "srcc>=0.9"], 2,
     ["outside.csv", "99999", "not an architecture"]),
    ("search-target-zero-latency", ["search", *M, "--target-csv", "{w}/zero.csv", "--out", "{w}/p.csv"], 2,
     ["zero.csv", "must be > 0"]),
    ("predict-target-text-latency", ["predict", *M, "--target-csv", "{w}/text.csv", "--out", "{w}/p.csv"], 2,
     ["text.csv", "fast"]),
    # -- other inputs
    ("assess-unknown-proxy", [*ASSESS[:4], "nope", *T], 2, ["'nope'", "not a source device"]),
    ("predict-model-not-a-model", ["predict", "--model", "{w}/mine.csv", *T, "--out", "{w}/p.csv"], 2,
     ["mine.csv", "not a latxfer model"]),
    ("predict-model-missing", ["predict", "--model", "{w}/none.zarr", *T, "--out", "{w}/p.csv"], 2, ["none.zarr"]),
    ("search-storage-missing-directory", [*SEARCH, "--storage", "sqlite:///{w}/nowhere/s.db"], 2,
     ["cannot open storage", "nowhere"]),
    ("search-unknown-sampler", [*SEARCH, "--sampler", "bayes"], 2, ["unknown sampler", "'bayes'"]),
    ("plan-goal-grammar", [*PLAN, "--goal", "srcc>1"], 2, ["srcc>1", "goal grammar"]),
    ("plan-decide-without-proxy", [*PLAN[:-6], "--goal", "decide"], 2, ["--proxy"]),
    ("monotonicity-unknown-device", [*MONO[:3], "--devices", "nope,hwnb_fpga"], 2, ["unknown device", "nope"]),
    ("monotonicity-no-devices", [*MONO[:3], "--devices", ","], 2, ["--devices", "no device names"]),
    ("fit-unknown-source", ["fit", "--dataset", "nb201-hwnasbench", "--sources", "hwnb_pixel3,nope", "--model",
                            "{w}/tiny.toml", "--out", "{w}/m.zarr"], 2, ["unknown device", "nope"]),
    ("info-unknown-dataset", ["data", "info", "nope"], 2, ["unknown dataset 'nope'"]),
    ("predict-target-is-a-directory", ["predict", *M, "--target-csv", "{w}/adir", "--out", "{w}/p.csv"], 2,
     ["adir", "is a directory"]),
    ("predict-model-is-a-foreign-directory", ["predict", "--model", "{w}/adir", *T, "--out", "{w}/p.csv"], 2,
     ["adir", "not a latxfer model"]),
    ("info-bad-csv", ["data", "info", "{w}/text.csv"], 2, ["text.csv", "'fast'", "line 2"]),
    ("fit-csv-without-space", ["fit", "--dataset", "{w}/mine.csv", "--sources", "mydev", "--out", "{w}/m.zarr"], 2,
     ["--dataset", "mine.csv", "--space"]),
    ("search-accuracy-missing-file", [*SEARCH, "--accuracy", "{w}/acc.csv"], 2, ["acc.csv", "does not exist"]),
    ("search-accuracy-wrong-columns", [*SEARCH, "--accuracy", "{w}/mine.csv"], 2, ["mine.csv", "'accuracy'"]),
    ("search-objective-q1.5", [*SEARCH, "--objective", "q1.5"], 2, ["'q1.5'", "0 < p < 1"]),
    ("plan-proxy-not-in-proxy-csv", [*PLAN, "--goal", "decide", "--proxy", "nope", "--proxy-csv", "{w}/two.csv"], 2,
     ["--proxy-csv", "two.csv", "'nope'"]),
    ("plan-proxy-unknown", [*PLAN, "--goal", "decide", "--proxy", "nope"], 2, ["--proxy 'nope'", "pixel3"]),
    ("monotonicity-bad-csv", ["monotonicity", "--dataset", "{w}/text.csv"], 2, ["text.csv", "'fast'"]),
    ("assess-intercept-end-to-end", [*ASSESS, "--intercept-ms", "2"], 2, ["--intercept-ms", "mine.csv"]),
    ("validate-bad-file", ["data", "validate", "{w}/outside.csv", "--space", "nb201"], 1, ["outside.csv", "99999"]),
]


def _fill(argv, w, model):
    return [a.replace("{w}", str(w)).replace("{model}", str(model)) for a in argv]


def _snapshot(*roots) -> dict[str, str]:
    """SHA-256 of every file under ``roots`` (the user's directory and the model store)."""
    out = {}
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = Path(dirpath) / f
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory, nb201_help):
    """A user's directory: a good target CSV, bad ones, existing outputs, a foreign directory, a config."""
    w = tmp_path_factory.mktemp("user")
    a = np.random.default_rng(0).choice(15625, 8, replace=False)
    lat = nb201_help.latency.sel(device="raspi4", arch=a).values
    pd.DataFrame({"device": "mydev", "arch_index": a, "latency_ms": lat}).to_csv(w / "mine.csv", index=False)
    pd.DataFrame({"device": "pixel3", "arch_index": a[:4], "latency_ms": lat[:4]}).to_csv(w / "src.csv", index=False)
    pd.DataFrame({"device": "d", "arch_index": [1, 2, 3], "latency_ms": [5.0, 6, 7], "space": "fbnet"}).to_csv(
        w / "fbnet.csv", index=False)
    pd.DataFrame({"device": ["a", "b"], "arch_index": [1, 2], "latency_ms": [5.0, 6]}).to_csv(w / "two.csv", index=False)
    (w / "empty.csv").write_text("")
    (w / "outside.csv").write_text("device,arch_index,latency_ms\nd,99999,1.0\nd,5,2.0\n")
    (w / "zero.csv").write_text("device,arch_index,latency_ms\nd,1,0\nd,5,2.0\n")
    (w / "text.csv").write_text("device,arch_index,latency_ms\nd,1,fast\n")
    (w / "old.csv").write_text("arch_index,mean_ms\n1,2.0\n")
    (w / "old.png").write_bytes(b"\x89PNG\r\n\x1a\n my figure")
    (w / "study.log").write_text("")
    (w / "tiny.toml").write_text("[model]\nn_factors = 1\nfit_archs = 100\n[sampler]\nname = \"map\"\ndraws = 20\n")
    (w / "adir").mkdir()
    (w / "adir" / "thesis.tex").write_text("my thesis")
    return w


@pytest.mark.parametrize("argv, code, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(argv, code, needles, user_dir, fitted_path, capsys):
    before = _snapshot(user_dir, fitted_path)
    rc = main(_fill(argv, user_dir, fitted_path))
    io = capsys.readouterr()
    msg = io.err + io.out
    assert rc == code, msg
    assert "Traceback" not in msg
    for needle in needles:
        assert _fill([needle], user_dir, fitted_path)[0] in msg, f"{needle!r} not in {msg!r}"
    assert _snapshot(user_dir, fitted_path) == before  # byte-identical, and nothing new (no temp file either)
    assert "usage:" not in msg  # a message, not a usage dump


def test_cases_are_many_and_distinct():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into any directory")
def test_out_in_an_unwritable_directory(user_dir, fitted_path, capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main(_fill([*PRED[:-1], str(ro / "p.csv")], user_dir, fitted_path)) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("argv, needles", [
    (["predict", "--model", "m", "--out", "p.csv", "--seed", "-1"], ["--seed must be an integer >= 0, got -1"]),
    (["data", "info", "nope"], ["unknown dataset 'nope'"]),
    (["assess", "--model", "{w}/mine.csv", "--proxy", "p", "--target-csv", "{w}/mine.csv"], ["not a latxfer model"]),
    (["plan", "--model", "{model}", "--goal", "srcc>=0.9", "--plot", "{w}/f.txt"], ["--plot", "f.txt"]),
], ids=["parse-time", "unknown-dataset", "not-a-model", "bad-plot-suffix"])
def test_no_traceback_in_a_real_process(argv, needles, user_dir, fitted_path):
    before = _snapshot(user_dir)
    r = subprocess.run([sys.executable, "-m", "latxfer.cli", *_fill(argv, user_dir, fitted_path)],
                       capture_output=True, text=True, timeout=120, cwd=user_dir)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout and r.stdout == ""
    for n in needles:
        assert _fill([n], user_dir, fitted_path)[0] in r.stderr
    assert _snapshot(user_dir) == before
