"""The ``latxfer`` command line: data subcommands, JSON output and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

from latxfer.cli import main


def test_data_list(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ["nb201-help", "nb201-hwnasbench", "nb201-accuracy", "fbnet-help", "fbnet-layers", "ofa-help", "splits"]:
        assert name in out
    assert main(["data", "list", "--json"]) == 0
    assert {d["name"] for d in json.loads(capsys.readouterr().out)} >= {"nb201-help", "splits"}


def test_data_info_json(capsys, data_dir):
    assert main(["--data-dir", str(data_dir), "data", "info", "nb201-hwnasbench", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_devices"] == 6 and info["n_archs"] == 1999
    tpu = next(d for d in info["devices"] if d["device"] == "hwnb_edgetpu")
    assert tpu["n_measured"] == 1740 and 0.12 < tpu["missing_share"] < 0.14
    assert tpu["min_ms"] > 0


def test_data_info_text(capsys):
    assert main(["data", "info", "nb201-help"]) == 0
    out = capsys.readouterr().out
    assert "27 devices x 15625 architectures" in out and "titan_rtx_256" in out


def test_unknown_dataset_exit_2_no_traceback():
    r = subprocess.run([sys.executable, "-m", "latxfer.cli", "data", "info", "nope"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown dataset 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_bad_data_dir_exit_2(capsys, tmp_path):
    assert main(["--data-dir", str(tmp_path / "x"), "data", "info", "nb201-help"]) == 2
    assert "not found" in capsys.readouterr().err


def test_validate_names_an_implausible_row_and_the_flag_accepts_it(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    rows = [f"newdev,{i},{1.0 + 0.1 * i}" for i in range(10)] + ["newdev,10,1e12"]
    p.write_text("device,arch_index,latency_ms\n" + "\n".join(rows) + "\n")
    assert main(["data", "validate", str(p), "--space", "nb201"]) == 1
    out = capsys.readouterr().out
    assert "ImplausibleLatencyError" in out and "line 12" in out and "--allow-implausible" in out
    assert main(["data", "validate", str(p), "--space", "nb201", "--allow-implausible"]) == 0
    assert "OK" in capsys.readouterr().out
