"""Property-based tests of the CSV reader: any bytes give a valid Dataset or a named LatxferError.

Never a traceback, never a silent NaN: a Dataset that comes back holds finite latencies > 0 wherever
``n_obs`` says a measurement was made, and NaN only where none was.  ``validate_csv`` never raises.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latxfer
from latxfer.errors import LatxferError

# LATXFER_HYPOTHESIS_EXAMPLES=2000 for a longer hunt
SETTINGS = settings(max_examples=int(os.environ.get("LATXFER_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="session")
def good_text(nb201_help) -> str:
    """A small valid file made of real measurements (pixel3 and raspi4, NB201)."""
    rows = []
    for dev in ("pixel3", "raspi4"):
        for a in (5, 77, 1200, 3000, 9000, 15000):
            rows.append(f"{dev},{a},{float(nb201_help.latency.sel(device=dev, arch=a))!r}")
    return "device,arch_index,latency_ms\n" + "\n".join(rows) + "\n"


def _check_file(data: bytes, suffix: str = ".csv", space: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        problems = latxfer.validate_csv(p, space=space, reference=None)  # never raises
        assert all(isinstance(q.message, str) and q.message for q in problems)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # e.g. an overflowing integer cast
                ds = latxfer.read_csv(p, space=space)
        except LatxferError as exc:
            assert str(exc)
            assert problems, f"read_csv raised {type(exc).__name__} but validate_csv found nothing"
            return
        assert not problems, [q.message for q in problems]
        lat = ds["latency"].values
        measured = ds["n_obs"].values > 0
        assert np.all(np.isfinite(lat[measured])) and np.all(lat[measured] > 0)
        assert np.all(np.isnan(lat[~measured]))
        assert measured.any()


TOKENS = st.sampled_from([
    "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1e308", "-1", "0", "-0", "1e-400", "", " ", '"',
    '""', "'", ",", ";", "\t", "|", "\r\n", "\n", "\r", "\ufeff", "\x00", "é", "1,5", "0x10", "1_000",
    "9" * 30, "1e30", "-5", "3.5", "7", "device", "arch_index", "latency_ms", "layer", "op", "space",
    "nb201", "fbnet", "#", "NA", "None", "null", "true", "\\",
])


@st.composite
def mutated(draw, text: str) -> bytes:
    """``text`` with a few edits: tokens inserted or swapped in, pieces deleted, then maybe re-encoded."""
    s = text
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "replace", "delete", "truncate", "dup_header", "sep"]))
        i = draw(st.integers(0, len(s)))
        if kind == "insert":
            s = s[:i] + draw(TOKENS) + s[i:]
        elif kind == "replace":
            j = min(len(s), i + draw(st.integers(1, 12)))
            s = s[:i] + draw(TOKENS) + s[j:]
        elif kind == "delete":
            s = s[:i] + s[min(len(s), i + draw(st.integers(1, 20))):]
        elif kind == "truncate":
            s = s[:i]
        elif kind == "dup_header":
            s = s.split("\n", 1)[0] + "\n" + s
        else:
            s = s.replace(",", draw(st.sampled_from([";", "\t", "|", ", ", " ,", ",,"])))
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "crlf"]))
    if enc == "crlf":
        return s.replace("\n", "\r\n").encode("utf-8")
    return s.encode(enc, errors="replace")


@given(st.binary(max_size=400))
@SETTINGS
def test_random_bytes(data):
    _check_file(data)


@given(st.binary(max_size=400))
@SETTINGS
def test_random_bytes_as_gzip(data):
    _check_file(data, suffix=".csv.gz")


@given(data=st.data())
@SETTINGS
def test_mutated_valid_file(good_text, data):
    _check_file(data.draw(mutated(good_text)), space=data.draw(st.sampled_from([None, "nb201"])))


@given(data=st.data())
@SETTINGS
def test_mutated_gzip_file(good_text, data):
    raw = gzip.compress(data.draw(mutated(good_text)))
    if data.draw(st.booleans()):  # truncated or corrupted compressed stream
        i = data.draw(st.integers(0, len(raw)))
        raw = raw[:i] + data.draw(st.binary(max_size=8))
    _check_file(raw, suffix=".csv.gz")


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), TOKENS,
                       st.text(max_size=12)),
       arch=st.one_of(st.integers(-10, 2**70).map(str), TOKENS, st.floats().map(repr)))
@SETTINGS
def test_any_single_cell(good_text, value, arch):
    lines = good_text.splitlines()
    lines[3] = f"pixel3,{arch},{value}"
    _check_file(("\n".join(lines) + "\n").encode("utf-8", errors="replace"), space="nb201")
    _check_file(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))


def test_bom_and_crlf_are_read(good_text):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "bom.csv"
        p.write_bytes(("\ufeff" + good_text).replace("\n", "\r\n").encode("utf-8"))
        ds = latxfer.read_csv(p, space="nb201")
        assert ds.sizes["device"] == 2 and ds.sizes["arch"] == 6
