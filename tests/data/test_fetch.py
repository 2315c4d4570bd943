"""Fetching public datasets: verified downloads, safe unpickling, exact conversion, atomic cache.

No network: the "upstream" is a mirror with the raw layout, the ``raw/`` folder of the shared data
directory (``$LATXFER_DATA``, default ``../shared/data``), served as a directory, a ``file://`` URL or by
a local HTTP server.  The mirror is read-only; everything is written under ``tmp_path``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from latxfer.data import fetch as F
from latxfer.errors import (
    DataDirError,
    FetchError,
    IntegrityError,
    UnknownDatasetError,
    UnsafePickleError,
)

_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHARED = Path(os.environ.get("LATXFER_DATA") or _DEFAULT)
MIRROR = SHARED / "raw"

pytestmark = pytest.mark.skipif(
    not (MIRROR / "SHA256SUMS").exists(), reason=f"no raw mirror at {MIRROR}; set LATXFER_DATA"
)

HWNB_RAW = F._RAW_NEEDED["nb201-hwnasbench"]


def _fetch(name, cache, mirror=MIRROR, **kw):
    return F.fetch(name, cache_dir=cache, mirror=mirror, progress=False, **kw)


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.part")]


def _assert_same_as_shared(data: Path, rel: str) -> None:
    """Converted file equals the shared one: as a table (exact floats) and byte for byte."""
    got, want = data / rel, SHARED / rel
    if rel.endswith(".csv.gz"):
        a, b = pd.read_csv(got), pd.read_csv(want)
        assert list(a.columns) == list(b.columns)
        keys = [c for c in a.columns if c != "latency_ms"]
        a = a.sort_values(keys).reset_index(drop=True)
        b = b.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert gzip.decompress(got.read_bytes()) == gzip.decompress(want.read_bytes())
    else:
        assert got.read_bytes() == want.read_bytes()


def _mirror_copy(tmp_path: Path, rels) -> Path:
    m = tmp_path / "mirror"
    for rel in rels:
        (m / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MIRROR / rel, m / rel)
    return m


# ---------------------------------------------------------------------------------------------- pins


def test_sources_pin_every_mirror_file_and_the_upstream_commits():
    listed = {}
    for line in (MIRROR / "SHA256SUMS").read_text().splitlines():
        sha, rel = line.split()
        rel = rel.removeprefix("./")
        if rel != "SHA256SUMS":
            listed[rel] = sha
    assert {k: v.sha256 for k, v in F.SOURCES.items()} == listed
    for rel, f in F.SOURCES.items():
        assert f.path == rel and f.size == (MIRROR / rel).stat().st_size
        if rel.startswith("help/"):
            assert f.url == F.HELP_ROOT + rel.removeprefix("help/")
            assert F.HELP_COMMIT in f.url and "/data/" in f.url
        else:
            assert F.ONEPROXY_COMMIT in f.url
    base = F.SOURCES["oneproxy/encode.pickle"].url
    assert base.endswith(F.ONEPROXY_COMMIT + "/encode.pickle")
    assert F.SOURCES["oneproxy/rice_fpga.pickle"].url.endswith("/latency_data/rice_fpga.pickle")
    assert F.SOURCES["oneproxy/rice_raspi4.pickle"].url.endswith(F.ONEPROXY_COMMIT + "/rice_raspi4.pickle")


# ------------------------------------------------------------------------------------ exact conversion


def test_fetch_hwnasbench_equals_shared(tmp_path):
    data = _fetch("nb201-hwnasbench", tmp_path)
    assert data == tmp_path / "data"
    for rel in F.DATASET_FILES["nb201-hwnasbench"]:
        _assert_same_as_shared(data, rel)
    lat = pd.read_csv(data / "nb201/latency_hwnasbench.csv.gz")
    counts = lat.groupby("device").size().to_dict()
    assert counts == {f"hwnb_{d}": 1999 for d in F._HWNB_DEVICES} | {"hwnb_edgetpu": 1740}
    assert (lat.latency_ms > 0).all()  # -1 ("not measured") rows are absent
    assert F.verify("nb201-hwnasbench", tmp_path)
    assert F.cached_data_dir("nb201-hwnasbench", tmp_path) == data
    assert F.cached_data_dir("nb201-help", tmp_path) is None
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("name", ["nb201-help", "fbnet-help"])
def test_fetch_help_equals_shared(tmp_path, name):
    data = _fetch(name, tmp_path)
    for rel in F.DATASET_FILES[name]:
        _assert_same_as_shared(data, rel)
    lat = pd.read_csv(data / F.DATASET_FILES[name][0])
    assert lat.device.nunique() == 27
    assert len(lat) == 27 * (15625 if name == "nb201-help" else 5000)
    assert F.verify(name, tmp_path)


def test_file_url_mirror_and_cached_second_fetch(tmp_path):
    data = _fetch("nb201-hwnasbench", tmp_path, mirror=MIRROR.as_uri())
    _assert_same_as_shared(data, "nb201/latency_hwnasbench.csv.gz")
    # second call: served from the cache, the (now unreachable) mirror is not touched
    assert _fetch("nb201-hwnasbench", tmp_path, mirror=tmp_path / "nowhere") == data
    # a converted file damaged in the cache is detected and rebuilt from the verified raw files
    (data / "nb201/archs.csv").write_text("arch_id\n")
    assert not F.verify("nb201-hwnasbench", tmp_path)
    _fetch("nb201-hwnasbench", tmp_path, mirror=tmp_path / "nowhere")
    _assert_same_as_shared(data, "nb201/archs.csv")


def test_damaged_raw_file_in_cache_is_replaced(tmp_path):
    bad = tmp_path / "raw" / "oneproxy" / "rice_pixel3.pickle"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the published file")
    data = _fetch("nb201-hwnasbench", tmp_path)
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == F.SOURCES["oneproxy/rice_pixel3.pickle"].sha256
    _assert_same_as_shared(data, "nb201/latency_hwnasbench.csv.gz")


# ------------------------------------------------------------------------------------ safe unpickling


def _torch_zip(pkl: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_safe_unpickler_reads_builtins_and_published_files(tmp_path):
    obj = {"a": [1, 2.5, -1.0, "x", None, True, (1, 2)], "b": {"c": [[0, 1], [1, 0]]}}
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        assert F.safe_load_pickle(pickle.dumps(obj, protocol=proto)) == obj
    # bytes pickle as the global _codecs.encode before protocol 3: refused like any global
    assert F.safe_load_pickle(pickle.dumps(b"\x00", protocol=3)) == b"\x00"
    with pytest.raises(UnsafePickleError, match="_codecs.encode"):
        F.safe_load_pickle(pickle.dumps(b"\x00", protocol=2))
    p = tmp_path / "x.pickle"
    p.write_bytes(pickle.dumps(obj))
    assert F.safe_load_pickle(p) == obj
    lat = F.load_torch_zip_pickle(MIRROR / "help/nasbench201/latency/pixel3.pt")
    assert len(lat) == 15625 and lat[0] == 3.6058499999999998
    assert len(F.safe_load_pickle(MIRROR / "oneproxy/encode.pickle")) == 1999


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_pickle_with_a_global_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    cmd = f"touch {marker}"
    # protocol 0 by hand names exactly os.system; pickle.dumps names it posix.system / nt.system
    hostile = [b"cos\nsystem\n(S'" + cmd.encode() + b"'\ntR."]
    hostile += [pickle.dumps(_Evil(cmd), protocol=p) for p in (0, 2, 4, 5)]
    hostile.append(pickle.dumps([1.0, 2.0, _Evil(cmd)]))  # buried in a list of floats
    hostile.append(b"cbuiltins\neval\n(S'1+1'\ntR.")
    for blob in hostile:
        with pytest.raises(UnsafePickleError, match=r"global \w+\.(system|eval)"):
            F.safe_load_pickle(blob)
        f = tmp_path / "evil.pt"
        f.write_bytes(_torch_zip(blob))
        with pytest.raises(UnsafePickleError, match="refused"):
            F.load_torch_zip_pickle(f)
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        F.safe_load_pickle(hostile[0])
    assert not marker.exists()


def test_tensor_storage_and_broken_containers_are_refused(tmp_path):
    with pytest.raises(UnsafePickleError, match="persistent id"):
        F.safe_load_pickle(b"P0\n.")  # what a pickled torch tensor storage looks like
    f = tmp_path / "t.pt"
    f.write_bytes(_torch_zip(b"(lp0\nP1\na."))
    with pytest.raises(UnsafePickleError, match="tensor storage"):
        F.load_torch_zip_pickle(f)
    f.write_bytes(b"PK not a zip")
    with pytest.raises(IntegrityError, match="not a PyTorch zip"):
        F.load_torch_zip_pickle(f)
    with pytest.raises(IntegrityError, match="not a valid pickle"):
        F.safe_load_pickle(pickle.dumps([1.0, 2.0])[:-3])


# ---------------------------------------------------------------------------------- failure handling


def test_tampered_file_is_refused_deleted_and_nothing_is_cached(tmp_path):
    mirror = _mirror_copy(tmp_path, HWNB_RAW)
    target = mirror / "oneproxy/rice_fpga.pickle"
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    target.write_bytes(bytes(blob))
    cache = tmp_path / "cache"
    with pytest.raises(IntegrityError) as ei:
        _fetch("nb201-hwnasbench", cache, mirror=mirror)
    msg = str(ei.value)
    assert "rice_fpga.pickle" in msg
    assert F.SOURCES["oneproxy/rice_fpga.pickle"].sha256 in msg
    assert hashlib.sha256(bytes(blob)).hexdigest() in msg
    assert "LATXFER_DATA" in msg
    assert not list(cache.rglob("rice_fpga.pickle*"))  # neither the file nor its temp copy
    assert not _leftovers(cache)
    assert not (cache / "data").exists()  # nothing converted
    assert F.cached_data_dir("nb201-hwnasbench", cache) is None


def test_download_checks_hash(tmp_path):
    src = MIRROR / "oneproxy/rice_fpga.pickle"
    dest = tmp_path / "d" / "x.pickle"
    with pytest.raises(IntegrityError, match="expected 0{64}"):
        F.download(str(src), dest, "0" * 64, progress=False)
    assert not dest.exists() and not _leftovers(tmp_path)
    sha = F.SOURCES["oneproxy/rice_fpga.pickle"].sha256
    assert F.download(src.as_uri(), dest, sha, progress=False) == dest
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha


def test_missing_file_and_unreachable_mirror_say_how_to_fetch_manually(tmp_path):
    with pytest.raises(FetchError, match="LATXFER_DATA") as ei:
        _fetch("nb201-hwnasbench", tmp_path / "c1", mirror=tmp_path / "empty")
    msg = str(ei.value)
    assert "no such file" in msg and "download" in msg
    # a mirror with some files: what was downloaded is kept and verified, nothing is converted
    part = _mirror_copy(tmp_path, HWNB_RAW[:2])
    with pytest.raises(FetchError, match=r"--mirror|LATXFER_MIRROR"):
        _fetch("nb201-hwnasbench", tmp_path / "c2", mirror=part)
    assert not (tmp_path / "c2" / "data").exists() and not _leftovers(tmp_path / "c2")
    # nothing listens on this port: connection refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="LATXFER_DATA") as ei:
        _fetch("nb201-hwnasbench", tmp_path / "c3", mirror=f"http://127.0.0.1:{port}/raw", timeout=5)
    assert f"127.0.0.1:{port}/raw/" in str(ei.value)
    assert not _leftovers(tmp_path / "c3")


def test_truncated_file_is_an_incomplete_download(tmp_path):
    mirror = _mirror_copy(tmp_path, HWNB_RAW)
    target = mirror / "oneproxy/rice_edgegpu.pickle"
    target.write_bytes(target.read_bytes()[:1000])
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match=r"incomplete download .*got 1000 bytes") as ei:
        _fetch("nb201-hwnasbench", cache, mirror=mirror.as_uri())
    assert "LATXFER_DATA" in str(ei.value)
    assert not list(cache.rglob("rice_edgegpu.pickle*")) and not (cache / "data").exists()


class _Server:
    """Local HTTP server: ``mode`` "ok", "partial" (closes half-way) or "slow" (answers late)."""

    def __init__(self, mode):
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                rel = self.path.split("/raw/", 1)[-1]
                path = MIRROR / rel
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                if outer.mode == "slow":
                    time.sleep(1.5)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.mode == "partial":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.mode = mode
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/raw"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_mirror_partial_download_timeout_and_404(tmp_path):
    rel = "oneproxy/rice_fpga.pickle"
    f = F.SOURCES[rel]
    with _Server("ok") as srv:
        data = _fetch("nb201-hwnasbench", tmp_path / "ok", mirror=srv.url)
        _assert_same_as_shared(data, "nb201/latency_hwnasbench.csv.gz")
        with pytest.raises(FetchError, match="HTTP 404"):
            F.download(srv.url + "/nope.pickle", tmp_path / "x", f.sha256, progress=False)
        srv.mode = "partial"
        with pytest.raises(FetchError, match="incomplete download") as ei:
            F.download(f"{srv.url}/{rel}", tmp_path / "p" / "x.pickle", f.sha256, progress=False)
        assert not isinstance(ei.value, IntegrityError)
        assert f"{f.size}" in str(ei.value) and "LATXFER_DATA" in str(ei.value)
        assert not list((tmp_path / "p").iterdir())
        srv.mode = "slow"
        with pytest.raises(FetchError, match="timed out") as ei:
            F.download(f"{srv.url}/{rel}", tmp_path / "s" / "x.pickle", f.sha256, timeout=0.3,
                       progress=False)
        assert "LATXFER_DATA" in str(ei.value)
        assert not list((tmp_path / "s").iterdir())


def test_progress_bar_counts_bytes(tmp_path):
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    rel = "oneproxy/encode.pickle"
    F.download(str(MIRROR / rel), tmp_path / "e.pickle", F.SOURCES[rel].sha256, progress=bar)
    assert bar.n == F.SOURCES[rel].size
    # progress=True off a terminal: tqdm stays silent and the download still works
    F.download(str(MIRROR / rel), tmp_path / "f.pickle", F.SOURCES[rel].sha256, progress=True)


# ------------------------------------------------------------------------------------ concurrency


def test_concurrent_fetches_of_one_dataset_share_the_cache(tmp_path):
    n = 4
    barrier = threading.Barrier(n)
    results, errors = [], []

    def work():
        try:
            barrier.wait()
            results.append(_fetch("nb201-hwnasbench", tmp_path))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == [tmp_path / "data"] * n
    assert F.verify("nb201-hwnasbench", tmp_path)
    assert not _leftovers(tmp_path)
    for rel in F.DATASET_FILES["nb201-hwnasbench"]:
        _assert_same_as_shared(tmp_path / "data", rel)


# ------------------------------------------------------------------------- names, cache dir, offline


def test_unknown_and_unfetchable_names(tmp_path):
    with pytest.raises(UnknownDatasetError, match="nb201-help"):
        F.fetch("nb201-hlp", cache_dir=tmp_path)
    for name in ["nb201-accuracy", "ofa-help", "fbnet-layers", "splits"]:
        with pytest.raises(FetchError, match="LATXFER_DATA") as ei:
            F.fetch(name, cache_dir=tmp_path)
        assert "cannot be fetched" in str(ei.value)
    assert not list(tmp_path.iterdir())


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("LATXFER_CACHE", str(tmp_path / "env"))
    assert F.cache_dir() == tmp_path / "env"
    assert F.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    data = _fetch("nb201-hwnasbench", None)
    assert data == tmp_path / "env" / "data" and (data / "nb201/archs.csv").exists()
    assert F.cached_data_dir("nb201-hwnasbench") == data
    monkeypatch.delenv("LATXFER_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(F.sys, "platform", "linux")
    assert F.cache_dir() == tmp_path / "xdg" / "latxfer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert F.cache_dir() == tmp_path / "home" / ".cache" / "latxfer"
    monkeypatch.setattr(F.sys, "platform", "darwin")
    assert F.cache_dir() == tmp_path / "home" / "Library" / "Caches" / "latxfer"
    monkeypatch.setattr(F.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert F.cache_dir() == tmp_path / "local" / "latxfer"


def test_is_offline(monkeypatch):
    for v, want in [("1", True), ("true", True), ("0", False), ("", False)]:
        monkeypatch.setenv("LATXFER_OFFLINE", v)
        assert F.is_offline() is want
    monkeypatch.delenv("LATXFER_OFFLINE")
    assert F.is_offline() is False


# ------------------------------------------------------------------------------- CLI and first use


def test_cli_data_fetch(tmp_path, capsys):
    from latxfer.cli import main

    argv = ["data", "fetch", "nb201-hwnasbench", "--cache-dir", str(tmp_path), "--mirror", str(MIRROR)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "data") in out and "LATXFER_DATA" in out
    assert main([*argv, "--json"]) == 0
    assert '"data_dir"' in capsys.readouterr().out
    assert main(["data", "fetch", "fbnet-layers", "--cache-dir", str(tmp_path)]) == 2
    assert "LATXFER_DATA" in capsys.readouterr().err


def test_load_dataset_fetches_on_first_use_unless_offline(tmp_path, monkeypatch):
    import latxfer

    monkeypatch.delenv("LATXFER_DATA")
    monkeypatch.setenv("LATXFER_CACHE", str(tmp_path))
    monkeypatch.setenv("LATXFER_MIRROR", str(MIRROR))
    # offline and nothing cached: no fetching, a clear error
    with pytest.raises(DataDirError):
        latxfer.load_dataset("nb201-hwnasbench")
    assert not (tmp_path / "raw").exists()
    monkeypatch.delenv("LATXFER_OFFLINE")
    ds = latxfer.load_dataset("nb201-hwnasbench")
    assert ds.sizes["device"] == 6 and ds.sizes["arch"] == 1999
    assert F.verify("nb201-hwnasbench", tmp_path)
    # offline again: the cached copy is used
    monkeypatch.setenv("LATXFER_OFFLINE", "1")
    monkeypatch.setenv("LATXFER_MIRROR", str(tmp_path / "nowhere"))
    assert latxfer.load_dataset("nb201-hwnasbench").sizes["arch"] == 1999
