"""Measure architectures on the local device and write the tidy CSV that ``--target-csv`` reads.

Rows are appended to ``FILE.csv`` as each architecture is measured (one ``write`` of whole lines, flushed
and synced), so Ctrl-C, a crash or a kill loses at most the architecture in flight; ``append=True``
skips the architectures already in the file.  ``FILE.csv.json`` beside it records the backend, library
versions, processor, threads, batch size, input resolution, repeats and one entry per run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latxfer.errors import ConfigError, MixedSearchSpaceError, UnknownArchitectureError
from latxfer.outputs import check_output, write_atomic

__all__ = ["HEADER", "MeasureResult", "load_measure_space", "parse_archs", "measure", "meta_path"]

HEADER = "device,arch_index,latency_ms"


def meta_path(out: str | os.PathLike) -> Path:
    """``FILE.csv.json`` of ``FILE.csv``."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def load_measure_space(name: str, data_dir=None):
    """The space with its table; FBNet on its ImageNet 224 skeleton (the one the FBNet paper times)."""
    from latxfer.data.datasets import load_space
    from latxfer.spaces import FBNetSpace

    space = load_space(name, data_dir)
    if space.name == "fbnet":
        space = FBNetSpace(space.arch_table, dataset="imagenet")
    return space


def parse_archs(spec: str, space) -> tuple[np.ndarray, Path | None]:
    """Architecture indices from a CSV with an ``arch_index`` column or a comma list.

    Returns the validated indices (file order, duplicates dropped) and the file path (None for a list).

    Raises
    ------
    UnknownArchitectureError
        An index outside the space or not an integer (names the file, row and value).
    MixedSearchSpaceError
        The CSV's ``space`` column names another space.
    DataFileNotFoundError, MissingColumnError, EmptyDataError
        The file does not exist, lacks ``arch_index`` or lists nothing.
    """
    import pandas as pd

    from latxfer.errors import DataFileNotFoundError, EmptyDataError, MissingColumnError

    spec = str(spec).strip()
    looks_like_list = all(p.strip().lstrip("-").isdigit() for p in spec.split(",") if p.strip())
    if looks_like_list and spec and not Path(spec).exists():
        values = [p.strip() for p in spec.split(",") if p.strip()]
        idx = space.validate_indices(np.array([int(v) for v in values]))
        return pd.unique(idx).astype(np.int64), None
    path = Path(spec)
    if not path.is_file():
        raise DataFileNotFoundError(f"--archs {spec!r}: no such file, and not a comma list of "
                                    "architecture indices (e.g. --archs 7581,4317,649)")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise EmptyDataError(f"--archs {path}: the file is empty") from None
    df.columns = [str(c).strip() for c in df.columns]
    if "arch_index" not in df.columns:
        raise MissingColumnError(f"--archs {path}: no 'arch_index' column (found {list(df.columns)}); "
                                 "expected a plan CSV from `latxfer plan --out` or any CSV with that column")
    if "space" in df.columns:
        other = sorted({s.strip() for s in df["space"] if s.strip() and s.strip() != space.name})
        if other:
            raise MixedSearchSpaceError(f"--archs {path}: its 'space' column holds {other}, but --space is "
                                        f"{space.name!r}")
    if len(df) == 0:
        raise EmptyDataError(f"--archs {path}: the file has a header but no architectures")
    out = []
    for row, v in enumerate(df["arch_index"].tolist(), start=2):
        try:
            i = int(str(v).strip())
        except ValueError:
            raise UnknownArchitectureError(f"--archs {path}, line {row}: arch_index {v!r} is not an "
                                           "integer") from None
        if not 0 <= i < space.n_archs:
            raise UnknownArchitectureError(
                f"--archs {path}, line {row}: arch_index {i} is outside the {space.name} space "
                f"[0, {space.n_archs - 1}] (is this a plan of another space?)")
        out.append(i)
    return pd.unique(np.asarray(out, dtype=np.int64)), path


@dataclass
class MeasureResult:
    """What one :func:`measure` call did.

    Attributes
    ----------
    out : pathlib.Path
        The CSV.
    measured : list of dict
        One record per architecture measured in this run: ``arch_index``, ``median_ms``, ``spread``,
        ``compile_s``, ``time_s``, ``rss_mb`` (resident memory after it).
    skipped : list of int
        Architectures already in the file (``append``).
    interrupted : bool
        The run was stopped by Ctrl-C; the rows so far are in the file.
    """

    out: Path
    measured: list[dict] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    interrupted: bool = False


def _existing(out: Path, device: str, meta: dict | None, settings: dict) -> set[int]:
    """Architectures already in ``out`` (``append``); the file and its metadata must match this run."""
    import pandas as pd

    with open(out, "rb+") as fh:  # a kill mid-write may leave a partial last line: drop it
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    if list(df.columns) != HEADER.split(","):
        raise ConfigError(f"--append {out}: expected the columns {HEADER}, found {list(df.columns)}")
    devices = sorted(set(df["device"]))
    if devices and devices != [device]:
        raise ConfigError(f"--append {out}: the file holds device(s) {devices}, this run measures "
                          f"{device!r}; pass --device-name {devices[0]} or write another file")
    if meta is not None:
        for key in ("space", "backend", "platform", "batch_size"):
            if key in meta and meta[key] != settings[key]:
                raise ConfigError(f"--append {out}: it was measured with {key}={meta[key]!r} "
                                  f"(see {meta_path(out)}), this run has {key}={settings[key]!r}")
    return {int(v) for v in df["arch_index"]}


def _umask_mode(path: Path) -> None:
    """``write_atomic``'s temporary file is created 0600 (``mkstemp``): give the CSV the usual mode."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def _write_meta(path: Path, meta: dict) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8"),
                 overwrite=True, flag="--out (metadata)")
    _umask_mode(path)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def measure(space, archs, out, *, backend: str = "jax", platform: str = "cpu", device_name: str | None = None,
            batch_size: int = 1, repeats: int = 20, warmup: int = 5, threads: int | None = None,
            append: bool = False, overwrite: bool = False, keep_repeats: bool = False, inputs=(),
            progress: bool = True, seed: int = 0, command: str | None = None) -> MeasureResult:
    """Build, compile and time each architecture; append its rows to ``out`` as it is measured.

    Parameters
    ----------
    space : SearchSpace
        The space with its table (:func:`load_measure_space`).
    archs : array-like of int
        Architecture indices, measured in this order.
    out : path-like
        The tidy CSV ``device,arch_index,latency_ms`` (median of the repeats, or one row per repeat with
        ``keep_repeats``); ``out + ".json"`` gets the metadata.
    backend, platform : str
        ``"jax"`` or ``"onnxruntime"``; ``"cpu"`` or ``"gpu"``.
    device_name : str, optional
        The ``device`` column; default ``"<backend>-<platform>"``.
    batch_size, repeats, warmup, threads : int
        Input batch, timed calls, untimed calls, CPU threads of the runtime (None: its default).
    append, overwrite : bool
        Add to an existing ``out`` (skipping its architectures), or replace it.
    keep_repeats : bool
        One row per timed call instead of their median.
    inputs : iterable of path-like
        Input files (``out`` may be none of them).
    progress : bool
        Show a tqdm progress bar with the time left on stderr.
    seed : int
        Seed of the random weights and input.
    command : str, optional
        The command line, recorded in the metadata.

    Returns
    -------
    MeasureResult

    Raises
    ------
    OutputPathError, ConfigError, MissingBackendError, UnknownArchitectureError
        Before anything is measured or written.
    """
    from latxfer.measure.backends import get_backend
    from latxfer.measure.builders import build_network, input_resolution

    if repeats < 1 or warmup < 0:
        raise ConfigError(f"--repeats must be >= 1 and --warmup >= 0, got {repeats} and {warmup}")
    out = check_output(out, overwrite=overwrite or append, inputs=inputs, suffixes=(".csv",))
    mpath = meta_path(out)
    check_output(mpath, overwrite=overwrite or append, inputs=inputs, flag="--out (metadata FILE.csv.json)")
    archs = space.validate_indices(archs)
    if device_name is not None and ("," in device_name or not device_name.strip()):
        raise ConfigError(f"--device-name {device_name!r}: must be non-empty and hold no comma")
    be = get_backend(backend, platform, threads)
    device = device_name or f"{backend}-{be.platform}"
    settings = {"space": space.name, "backend": backend, "platform": be.platform, "batch_size": int(batch_size)}
    old_meta = json.loads(mpath.read_text(encoding="utf-8")) if (append and mpath.is_file()) else None
    done = _existing(out, device, old_meta, settings) if (append and out.exists()) else set()
    res = MeasureResult(out=out, skipped=[int(a) for a in archs if int(a) in done])
    todo = [int(a) for a in archs if int(a) not in done]
    if not (append and out.exists()):
        write_atomic(out, lambda p: p.write_text(HEADER + "\n", encoding="utf-8"), overwrite=True,
                     inputs=inputs)
        _umask_mode(out)
    res_desc = sorted({input_resolution(space, a) for a in archs}) if len(archs) else []
    meta = old_meta or {**settings, "device": device, "skeleton": _skeleton(space), "warmup": warmup,
                        "repeats": repeats, "threads": threads, "keep_repeats": keep_repeats, "seed": seed,
                        "runs": []}
    meta.update(be.info())
    meta["input_resolution"] = res_desc[0] if len(res_desc) == 1 else res_desc
    run = {"started": _now(), "command": command, "requested": len(archs), "skipped": len(res.skipped),
           "measured": 0, "status": "running", "load_avg_1m": os.getloadavg()[0],
           "warmup": warmup, "repeats": repeats, "threads": threads, "keep_repeats": keep_repeats}
    meta["runs"].append(run)
    _write_meta(mpath, meta)
    bar = _bar(len(todo), progress)
    try:
        with open(out, "a", encoding="utf-8") as fh:
            for a in todo:
                net = build_network(space, a, batch_size=batch_size, seed=seed)
                t = be.time(net, warmup, repeats)
                del net
                values = t.repeats_ms if keep_repeats else [t.median_ms]
                fh.write("".join(f"{device},{a},{v:.6g}\n" for v in values))
                fh.flush()
                os.fsync(fh.fileno())
                res.measured.append({"arch_index": a, "median_ms": t.median_ms, "spread": t.spread,
                                     "compile_s": t.compile_s, "time_s": t.time_s, "rss_mb": _rss_mb()})
                run["measured"] = len(res.measured)
                bar.set_postfix_str(f"{a}: {t.median_ms:.3g} ms", refresh=False)
                bar.update(1)
        run["status"] = "complete"
    except KeyboardInterrupt:
        res.interrupted = True
        run["status"] = "interrupted"
    finally:
        bar.close()
        run["finished"] = _now()
        if res.measured:
            run["median_compile_s"] = float(np.median([m["compile_s"] for m in res.measured]))
            run["median_time_s"] = float(np.median([m["time_s"] for m in res.measured]))
            run["median_relative_spread"] = float(np.median([m["spread"] for m in res.measured]))
        if run["status"] == "running":
            run["status"] = "failed"
        _write_meta(mpath, meta)
    return res


def _rss_mb() -> float:
    """Resident memory of this process, MB (Linux ``/proc``; NaN elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _skeleton(space) -> str:
    if space.name == "fbnet":
        return f"FBNet ({space.dataset}, {space.resolution}x{space.resolution})"
    if space.name == "nb201":
        return f"NAS-Bench-201 CIFAR ({space.resolution}x{space.resolution}, {space.n_classes} classes)"
    if space.name in ("mbv2", "proxyless"):  # issue 31
        return f"{space.name} MBConv ImageNet {space.resolution}x{space.resolution} (latxfer.spaces.mbv2)"
    return "OFA MobileNetV3 d234_e346_k357_w1.0"


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="arch", desc="measure", file=sys.stderr, disable=not progress,
                mininterval=0.5, dynamic_ncols=True)
