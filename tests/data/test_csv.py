"""Reading users' CSV files: good input, and every kind of bad input with a clear error."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import latxfer
from latxfer.cli import main
from latxfer.errors import (
    DataFileNotFoundError,
    EmptyDataError,
    InvalidLatencyError,
    MissingColumnError,
    MixedSearchSpaceError,
    UnknownArchitectureError,
)


def write(tmp_path, text, name="m.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "device,arch_index,latency_ms\nmydev,0,1.5\nmydev,1,2.5\nmydev,1,2.7\nmydev,1,2.9\nother,0,3.0\n"


def test_read_good_csv(tmp_path):
    p = write(tmp_path, GOOD)
    before = p.read_text()
    ds = latxfer.read_csv(p, space="nb201")
    assert ds.latx.devices == ["mydev", "other"]
    assert ds.arch.values.tolist() == [0, 1]
    assert ds.latency.sel(device="mydev", arch=1).item() == 2.7  # median of repeats
    assert ds.n_obs.sel(device="mydev", arch=1).item() == 3
    assert np.isnan(ds.latency.sel(device="other", arch=1).item())
    assert ds.attrs["space"] == "nb201"
    assert p.read_text() == before  # nothing the user gave us is touched


def test_read_rows_keeps_file_order_and_repeats(tmp_path):
    from latxfer.data.csvio import read_rows

    p = write(tmp_path, "device,arch_index,latency_ms\nmydev,7,1.5\nmydev,2,-1\nmydev,3,2.5\nmydev,7,1.6\n")
    rows = read_rows(p, missing_values=[-1])
    assert rows["arch_index"].tolist() == [7, 3, 7] and rows["latency_ms"].tolist() == [1.5, 2.5, 1.6]
    assert rows.attrs["n_missing_markers"] == 1 and rows.attrs["space"] is None
    with pytest.raises(InvalidLatencyError, match="line"):
        read_rows(write(tmp_path, "device,arch_index,latency_ms\nmydev,7,-1\n"))


def test_read_gzip_and_all_archs(tmp_path):
    p = tmp_path / "m.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write(GOOD)
    ds = latxfer.read_csv(p, space="nb201", all_archs=True)
    assert ds.sizes["arch"] == 15625


def test_layer_csv(tmp_path):
    # fbnet/archs.csv: arch 0 has ops 7, 8 at layers 0, 1; arch 1 has op 5 at layer 0
    p = write(tmp_path, "device,arch_index,layer,op,latency_ms\nd,0,0,7,0.5\nd,0,1,8,0.0\nd,1,0,5,0.2\n")
    ds = latxfer.read_csv(p, space="fbnet")
    assert ds.latency.dims == ("device", "arch", "layer")
    # an op the architecture does not have at that layer (a wrong arch_index, another table): refused
    p = write(tmp_path, "device,arch_index,layer,op,latency_ms\nd,0,0,7,0.5\nd,1,0,3,0.2\n", "w.csv")
    with pytest.raises(MixedSearchSpaceError, match=r"w.csv: op '3' at line 3 is not the op .* \(expected '5'\)"):
        latxfer.read_csv(p, space="fbnet")


def test_missing_file(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="nope.csv: no such file"):
        latxfer.read_csv(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    with pytest.raises(EmptyDataError, match="empty"):
        latxfer.read_csv(write(tmp_path, ""))
    with pytest.raises(EmptyDataError, match="no measurement row"):
        latxfer.read_csv(write(tmp_path, "device,arch_index,latency_ms\n"))


def test_missing_and_misspelled_column(tmp_path):
    p = write(tmp_path, "device,arch_idx,latency_ms\nd,0,1.0\n")
    with pytest.raises(MissingColumnError, match=r"m.csv: missing column\(s\) \['arch_index'\].*'arch_idx' looks like a misspelling"):
        latxfer.read_csv(p)
    p = write(tmp_path, "device,arch_index\nd,0\n", "n.csv")
    with pytest.raises(MissingColumnError, match="latency_ms"):
        latxfer.read_csv(p)
    p = write(tmp_path, "device;arch_index;latency_ms\nd;0;1.0\n", "s.csv")
    with pytest.raises(MissingColumnError, match="separated by ';'; latxfer reads comma-separated"):
        latxfer.read_csv(p)


def test_non_numeric_latency_names_lines(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,1.0\nd,1,fast\nd,2,\n")
    with pytest.raises(InvalidLatencyError, match=r"got 'fast', '' at lines 3, 4"):
        latxfer.read_csv(p)


def test_non_positive_latency(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,1.0\nd,1,0\nd,2,-3.5\n")
    with pytest.raises(InvalidLatencyError, match=r"must be > 0; got '0', '-3.5' at lines 3, 4"):
        latxfer.read_csv(p)


def test_infinite_latency(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,inf\nd,1,1.0\n")
    with pytest.raises(InvalidLatencyError, match="infinite at line 2"):
        latxfer.read_csv(p)


def test_minus_one_is_error_unless_missing_value(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,-1\nd,1,1.0\nd,2,2.0\n")
    with pytest.raises(InvalidLatencyError, match="missing_values=\\[-1\\]"):
        latxfer.read_csv(p)
    ds = latxfer.read_csv(p, missing_values=[-1])
    assert ds.arch.values.tolist() == [1, 2]
    assert ds.attrs["n_missing_markers"] == 1


def test_unknown_architecture_index(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,1.0\nd,15625,1.0\nd,1.5,2.0\n")
    with pytest.raises(UnknownArchitectureError, match="non-negative integer; got '1.5' at line 4"):
        latxfer.read_csv(p, space="nb201")
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,1.0\nd,15625,1.0\n", "o.csv")
    with pytest.raises(UnknownArchitectureError, match=r"'15625' at line 3 is not an architecture of search space 'nb201' \(valid: 0..15624\)"):
        latxfer.read_csv(p, space="nb201")
    with pytest.raises(UnknownArchitectureError, match="valid: 0..4999"):
        latxfer.read_csv(p, space="fbnet")


def test_mixed_search_spaces(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms,space\nd,0,1.0,nb201\nd,1,1.0,fbnet\n")
    with pytest.raises(MixedSearchSpaceError, match="mixes search spaces"):
        latxfer.read_csv(p)
    p = write(tmp_path, "device,arch_index,latency_ms,space\nd,0,1.0,nb201\n", "s.csv")
    with pytest.raises(MixedSearchSpaceError, match="space='fbnet'"):
        latxfer.read_csv(p, space="fbnet")
    assert latxfer.read_csv(p).attrs["space"] == "nb201"
    p = write(tmp_path, "device,arch_index,layer,latency_ms\nd,0,0,1.0\nd,1,,1.0\n", "l.csv")
    with pytest.raises(MixedSearchSpaceError, match="either end-to-end or layer-wise"):
        latxfer.read_csv(p)


def test_validate_reports_every_problem(tmp_path):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,x\nd,99999,1.0\nd,2,-2\n,3,1\n")
    problems = latxfer.validate_csv(p, space="nb201")
    kinds = sorted(pr.error.__name__ for pr in problems)
    assert kinds == ["InvalidLatencyError", "InvalidLatencyError", "InvalidLatencyError", "UnknownArchitectureError"]
    assert latxfer.validate_csv(write(tmp_path, GOOD, "g.csv"), space="nb201") == []


def test_cli_validate(tmp_path, capsys):
    p = write(tmp_path, "device,arch_index,latency_ms\nd,0,x\nd,99999,1.0\n")
    assert main(["data", "validate", str(p), "--space", "nb201"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s)" in out and "line 2" in out and "line 3" in out
    assert main(["data", "validate", str(write(tmp_path, GOOD, "g.csv"))]) == 0
    assert main(["data", "validate", str(tmp_path / "missing.csv"), "--json"]) == 1
    assert '"valid": false' in capsys.readouterr().out
