"""``latxfer measure``: the CLI contract (rows as measured, --append, --overwrite, --keep-repeats,
FILE.csv.json) and its bad inputs, each refused before anything is measured or written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import latxfer
from latxfer.cli import main

FAST = ["--repeats", "3", "--warmup", "1", "--no-progress"]


def _measure(*args):
    return main(["measure", "--space", "nb201", *args, *FAST])


def test_measure_append_keep_repeats_and_metadata(tmp_path):
    out = tmp_path / "mine.csv"
    assert _measure("--archs", "7581,649", "--out", str(out), "--device-name", "laptop") == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["device", "arch_index", "latency_ms"]
    assert df["arch_index"].tolist() == [7581, 649] and set(df["device"]) == {"laptop"}
    assert (df["latency_ms"] > 0).all()
    meta = json.loads(Path(str(out) + ".json").read_text())
    for key in ("backend", "jax", "jaxlib", "processor", "threads", "batch_size", "input_resolution",
                "repeats", "warmup", "runs", "space", "device"):
        assert key in meta, key
    assert meta["backend"] == "jax" and meta["input_resolution"] == 32 and meta["runs"][0]["status"] == "complete"
    # --append skips the two measured architectures and adds the new one (one row per repeat)
    plan = tmp_path / "next.csv"
    pd.DataFrame({"device": "laptop", "arch_index": [649, 7581, 1727], "latency_ms": ""}).to_csv(plan, index=False)
    assert _measure("--archs", str(plan), "--out", str(out), "--device-name", "laptop", "--append",
                    "--keep-repeats") == 0
    df = pd.read_csv(out)
    assert df["arch_index"].tolist() == [7581, 649, 1727, 1727, 1727]
    meta = json.loads(Path(str(out) + ".json").read_text())
    assert [r["measured"] for r in meta["runs"]] == [2, 1] and meta["runs"][1]["skipped"] == 2
    ds = latxfer.read_csv(out, space="nb201")  # what `plan --target-csv` reads
    assert ds.sizes["arch"] == 3
    # appending under another device name is refused
    assert _measure("--archs", "5", "--out", str(out), "--append") == 2


def test_bad_inputs_refused_before_any_work(tmp_path, monkeypatch, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("precious\n")
    assert _measure("--archs", "1", "--out", str(out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "precious\n" and not Path(str(out) + ".json").exists()
    # --out equal to --archs
    plan = tmp_path / "plan.csv"
    pd.DataFrame({"device": "x", "arch_index": [1], "latency_ms": ""}).to_csv(plan, index=False)
    assert _measure("--archs", str(plan), "--out", str(plan), "--append") == 2
    assert "also an input" in capsys.readouterr().err
    # an index outside the space, as a list and in a file
    new = tmp_path / "new.csv"
    assert _measure("--archs", "3,15625", "--out", str(new)) == 2
    assert "15625" in capsys.readouterr().err
    pd.DataFrame({"device": "x", "arch_index": [1, 20000], "latency_ms": ""}).to_csv(plan, index=False)
    assert _measure("--archs", str(plan), "--out", str(new)) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "20000" in err and "another space" in err
    # a plan CSV that says it belongs to another space
    pd.DataFrame({"device": "x", "arch_index": [1], "space": "fbnet"}).to_csv(plan, index=False)
    assert _measure("--archs", str(plan), "--out", str(new)) == 2
    assert "fbnet" in capsys.readouterr().err
    # no arch_index column
    pd.DataFrame({"arch": [1]}).to_csv(plan, index=False)
    assert _measure("--archs", str(plan), "--out", str(new)) == 2
    assert "arch_index" in capsys.readouterr().err
    # the backend's package missing: says which extra
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert _measure("--archs", "1", "--out", str(new), "--backend", "onnxruntime") == 2
    assert "latxfer[onnx]" in capsys.readouterr().err
    monkeypatch.undo()
    assert not new.exists()


def test_gpu_asked_for_but_absent(tmp_path, capsys):
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("this machine has a GPU")
    assert _measure("--archs", "1", "--out", str(tmp_path / "g.csv"), "--platform", "gpu") == 2
    err = capsys.readouterr().err
    assert "GPU" in err and "--platform cpu" in err
    assert main(["measure", "--space", "nb201", "--archs", "1", "--out", str(tmp_path / "g.csv"),
                 "--backend", "onnxruntime", "--platform", "gpu"]) == 2
    assert "CUDAExecutionProvider" in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_overwrite_and_ctrl_c_keeps_rows(tmp_path, monkeypatch):
    from latxfer.measure.backends import JaxBackend

    out = tmp_path / "mine.csv"
    out.write_text("old\n")
    real = JaxBackend.time
    calls = []

    def interrupted_second(self, net, warmup, repeats):
        calls.append(net.arch_index)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, net, warmup, repeats)

    monkeypatch.setattr(JaxBackend, "time", interrupted_second)
    assert _measure("--archs", "7581,649,1727", "--out", str(out), "--overwrite") == 130
    df = pd.read_csv(out)
    assert df["arch_index"].tolist() == [7581]
    meta = json.loads(Path(str(out) + ".json").read_text())
    assert meta["runs"][-1]["status"] == "interrupted" and meta["runs"][-1]["measured"] == 1


def test_sigkill_mid_run_keeps_every_row_written(tmp_path):
    """A `measure` killed with SIGKILL keeps each row written before, in a valid CSV; --append resumes."""
    out = tmp_path / "mine.csv"
    archs = "7581,649,1727,4317,11964,2000"
    env = {**os.environ, "PYTHONPATH": str(Path(latxfer.__file__).parents[1])}
    cmd = [sys.executable, "-m", "latxfer.cli", "measure", "--space", "nb201", "--archs", archs, "--out",
           str(out), "--repeats", "400", "--warmup", "0", "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 3:  # header + 2 rows
                break
            time.sleep(0.05)
        assert proc.poll() is None, "measure finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    rows = pd.read_csv(out)
    assert 2 <= len(rows) < 6 and text.endswith("\n")
    assert rows["arch_index"].tolist() == [int(a) for a in archs.split(",")][: len(rows)]
    ds = latxfer.read_csv(out, space="nb201")
    assert ds.sizes["arch"] == len(rows)
    meta = json.loads(Path(str(out) + ".json").read_text())
    assert meta["runs"][-1]["status"] == "running"  # what a kill leaves: the run never finished
    # --append with the measured ones only: nothing to do, nothing lost
    done = ",".join(str(a) for a in rows["arch_index"])
    assert _measure("--archs", done, "--out", str(out), "--append") == 0
    assert pd.read_csv(out).equals(rows)
