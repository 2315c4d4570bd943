"""Converting the verified upstream files into the tidy files of a latxfer data directory."""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from latxfer.data._fetch_download import _replace
from latxfer.data._fetch_sources import (
    _ENCODE,
    _FBNET_ARCH,
    _FBNET_OPS_CSV,
    _HELP_FBNET_DEVICES,
    _HELP_NB201_DEVICES,
    _HWNB_DEVICES,
    _LATENCY_HEADER,
    _NB201_INDEX,
    _NB201_OPS,
    _NB201_RE,
)
from latxfer.data._fetch_unpickle import _load_raw
from latxfer.errors import IntegrityError

# ----------------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------------


def _floats(obj, n: int, what: str) -> list[float]:
    if not isinstance(obj, list) or len(obj) != n:
        got = f"{type(obj).__name__} of length {len(obj)}" if hasattr(obj, "__len__") else type(obj).__name__
        raise IntegrityError(f"{what}: expected a list of {n} latencies, got a {got}")
    for v in obj:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise IntegrityError(f"{what}: expected numbers, found {type(v).__name__} {v!r}")
    return obj


def _rows(device: str, pairs: Iterable[tuple[int, float]]) -> Iterable[str]:
    for i, v in pairs:
        if v == -1:  # upstream's "not measured"
            continue
        yield f"{device},{i},{float(v)!r}\r\n"


def _nb201_index(raw: Path) -> dict[str, int]:
    idx = _load_raw(raw / _NB201_INDEX)
    if not isinstance(idx, dict) or sorted(idx.values()) != list(range(15625)):
        raise IntegrityError(f"{_NB201_INDEX}: expected a dict of 15,625 arch strings -> 0..15624")
    return idx


def _nb201_archs_csv(idx: dict[str, int]) -> str:
    lines = ["arch_id,arch_str," + ",".join(f"op_e{i}" for i in range(6)) + "\n"]
    for s, i in sorted(idx.items(), key=lambda kv: kv[1]):
        m = _NB201_RE.match(s)
        if m is None or any(op not in _NB201_OPS for op in m.groups()):
            raise IntegrityError(f"{_NB201_INDEX}: not a NAS-Bench-201 arch string: {s!r}")
        codes = ",".join(str(_NB201_OPS.index(op)) for op in m.groups())
        lines.append(f"{i},{s},{codes}\n")
    return "".join(lines)


def _latency_csv(raw: Path, rels: dict[str, str], n: int) -> str:
    """``device -> raw file`` of plain latency lists indexed by arch, devices sorted."""
    parts = [_LATENCY_HEADER]
    for dev in sorted(rels):
        lat = _floats(_load_raw(raw / rels[dev]), n, rels[dev])
        parts.extend(_rows(dev, enumerate(lat)))
    return "".join(parts)


def _convert_nb201_help(raw: Path) -> dict[str, str]:
    rels = {d: f"help/nasbench201/latency/{d}.pt" for d in _HELP_NB201_DEVICES}
    return {
        "nb201/latency_help.csv.gz": _latency_csv(raw, rels, 15625),
        "nb201/archs.csv": _nb201_archs_csv(_nb201_index(raw)),
    }


def _convert_nb201_hwnasbench(raw: Path) -> dict[str, str]:
    idx = _nb201_index(raw)
    enc = _load_raw(raw / _ENCODE)
    if not isinstance(enc, list):
        raise IntegrityError(f"{_ENCODE}: expected a list of encodings")
    arch = []
    for r, row in enumerate(enc):
        if not (isinstance(row, list) and len(row) == 31 and row[30] == 1
                and all(sum(row[5 * e:5 * e + 5]) == 1 for e in range(6))):
            raise IntegrityError(f"{_ENCODE}: row {r} is not 6 one-hot groups of 5 plus a constant 1")
        ops = [_NB201_OPS[row[5 * e:5 * e + 5].index(1)] for e in range(6)]
        arch.append(idx["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)])
    parts = [_LATENCY_HEADER]
    for dev in _HWNB_DEVICES:
        rel = f"oneproxy/rice_{dev}.pickle"
        lat = _floats(_load_raw(raw / rel), len(arch), rel)
        parts.extend(_rows(f"hwnb_{dev}", zip(arch, lat, strict=True)))
    return {
        "nb201/latency_hwnasbench.csv.gz": "".join(parts),
        "nb201/archs.csv": _nb201_archs_csv(idx),
    }


def _convert_fbnet_help(raw: Path) -> dict[str, str]:
    archs = _load_raw(raw / _FBNET_ARCH)
    if not (isinstance(archs, list) and len(archs) == 5000 and all(
            isinstance(a, list) and len(a) == 22 and all(type(o) is int and 0 <= o <= 8 for o in a)
            for a in archs)):
        raise IntegrityError(f"{_FBNET_ARCH}: expected 5,000 lists of 22 op codes 0..8")
    lines = ["arch_id," + ",".join(f"op_l{i}" for i in range(22)) + "\n"]
    lines += [f"{i}," + ",".join(map(str, a)) + "\n" for i, a in enumerate(archs)]
    rels = {d: f"help/fbnet/latency/{d}.pt" for d in _HELP_FBNET_DEVICES}
    return {
        "fbnet/latency_help.csv.gz": _latency_csv(raw, rels, 5000),
        "fbnet/archs.csv": "".join(lines),
        "fbnet/ops.csv": _FBNET_OPS_CSV,
    }


_CONVERTERS: dict[str, Callable[[Path], dict[str, str]]] = {
    "nb201-help": _convert_nb201_help,
    "nb201-hwnasbench": _convert_nb201_hwnasbench,
    "fbnet-help": _convert_fbnet_help,
}


def _encode(rel: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if rel.endswith(".gz"):
        buf = io.BytesIO()
        # mtime=0 and a fixed name: identical bytes from every (concurrent) conversion
        with gzip.GzipFile(filename=Path(rel).name[:-3], mode="wb", fileobj=buf, mtime=0,
                           compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
