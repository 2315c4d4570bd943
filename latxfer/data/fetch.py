"""Fetch the public latency datasets from where their authors published them, verified and converted.

``fetch(name)`` downloads the raw upstream files a dataset needs (HELP's PyTorch-zip pickles, OneProxy's
pickles of HW-NAS-Bench latencies), checks every byte against the SHA-256 pinned in this module, reads
them with an unpickler that admits no global at all (so a tampered or hostile file cannot run code),
converts them to the tidy files of a latxfer data directory and returns that directory::

    <cache>/raw/help/nasbench201/latency/pixel3.pt     verified upstream files (kept for re-conversion)
    <cache>/raw/oneproxy/rice_edgegpu.pickle
    <cache>/data/nb201/latency_help.csv.gz             converted, same layout and bytes as shared/data
    <cache>/data/nb201/archs.csv
    <cache>/data/.latxfer-fetch/<name>.json            completion marker with the outputs' SHA-256

The cache is ``cache_dir`` > ``$LATXFER_CACHE`` > the platform's user cache + ``/latxfer``.  Every
file is written to a temporary file in its destination directory, verified, then renamed with
:func:`os.replace`, so concurrent fetches of the same dataset never leave a torn file.

``mirror`` (or ``$LATXFER_MIRROR``) replaces the upstream roots with a directory or URL laid out like
``help/...`` and ``oneproxy/...`` (the ``raw/`` folder of the shared data directory).
``LATXFER_OFFLINE=1`` disables fetching on first use in :func:`latxfer.load_dataset`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from latxfer.data._fetch_convert import _CONVERTERS, _encode, _write_atomic
from latxfer.data._fetch_download import _is_url, _make_bar, _sha256_file, download
from latxfer.data._fetch_sources import (  # noqa: F401 - re-exported: the pinned list is part of this module's API
    _HWNB_DEVICES,
    _MARKER_DIR,
    _RAW_NEEDED,
    DATASET_FILES,
    ENV_CACHE,
    ENV_DATA,
    ENV_MIRROR,
    ENV_OFFLINE,
    FETCHABLE,
    HELP_COMMIT,
    HELP_ROOT,
    NOT_FETCHABLE,
    ONEPROXY_COMMIT,
    ONEPROXY_ROOT,
    SOURCES,
    RawFile,
)
from latxfer.data._fetch_unpickle import load_torch_zip_pickle, safe_load_pickle
from latxfer.errors import FetchError, UnknownDatasetError

__all__ = [
    "SOURCES",
    "RawFile",
    "DATASET_FILES",
    "FETCHABLE",
    "NOT_FETCHABLE",
    "ENV_CACHE",
    "ENV_OFFLINE",
    "ENV_MIRROR",
    "ENV_DATA",
    "safe_load_pickle",
    "load_torch_zip_pickle",
    "download",
    "cache_dir",
    "fetch",
    "cached_data_dir",
    "verify",
    "is_offline",
    "add_fetch_subcommand",
    "run_fetch",
]


# ----------------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------------


def is_offline() -> bool:
    """True when ``$LATXFER_OFFLINE`` is set to 1/true/yes/on: no fetching on first use."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _user_cache_root() -> Path:
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) if base else home / "AppData" / "Local"
    if sys.platform == "darwin":
        return home / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The fetch cache: ``cache_dir`` argument > ``$LATXFER_CACHE`` > user cache + ``/latxfer``.

    The user cache is ``$XDG_CACHE_HOME`` (else ``~/.cache``) on Linux, ``~/Library/Caches`` on macOS and
    ``%LOCALAPPDATA%`` on Windows.  The directory is not created here.
    """
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return _user_cache_root() / "latxfer"


_resolve_cache = cache_dir  # fetch() & co. take a ``cache_dir`` argument that shadows the function


# ----------------------------------------------------------------------------------------------------
# Fetch
# ----------------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name in FETCHABLE:
        return
    if name in NOT_FETCHABLE:
        raise FetchError(
            f"dataset {name!r} cannot be fetched: {NOT_FETCHABLE[name]}. Point {ENV_DATA} at a copy of the "
            f"latxfer data directory that holds it (e.g. `export {ENV_DATA}=/path/to/shared/data`, or pass "
            f"data_dir= / --data-dir). Fetchable datasets: {', '.join(FETCHABLE)}."
        )
    import difflib

    close = difflib.get_close_matches(name, [*FETCHABLE, *NOT_FETCHABLE], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}; fetchable datasets: {', '.join(FETCHABLE)}.{hint}"
    )


def _marker(data: Path, name: str) -> Path:
    return data / _MARKER_DIR / f"{name}.json"


def _complete(data: Path, name: str) -> bool:
    """The converted files of ``name`` are in ``data`` and match the hashes recorded when written."""
    try:
        rec = json.loads(_marker(data, name).read_text())
        files = rec["files"]
        if set(files) != set(DATASET_FILES[name]):
            return False
        return all(_sha256_file(data / rel) == sha for rel, sha in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _source_url(rel: str, mirror: str | os.PathLike | None) -> str:
    if mirror is None or str(mirror) == "":
        return SOURCES[rel].url
    m = os.fspath(mirror)
    if _is_url(m):
        return m.rstrip("/") + "/" + urllib.parse.quote(rel)
    return str(Path(m).expanduser() / rel)


def _have_raw(dest: Path, f: RawFile) -> bool:
    """A verified copy of ``f`` is at ``dest``; a mismatching one is deleted."""
    if not dest.is_file():
        return False
    if dest.stat().st_size == f.size and _sha256_file(dest) == f.sha256:
        return True
    dest.unlink(missing_ok=True)
    return False


def fetch(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    timeout: float = 60,
    force: bool = False,
) -> Path:
    """Download, verify and convert a public dataset into the cache; return the data directory.

    Parameters
    ----------
    name : str
        One of :data:`FETCHABLE` (``nb201-help``, ``nb201-hwnasbench``, ``fbnet-help``).
    cache_dir : path-like, optional
        Cache root (default ``$LATXFER_CACHE`` or the user cache, see :func:`cache_dir`).
    mirror : str or path-like, optional
        Directory or URL (``file://``, ``https://``) replacing the upstream roots, laid out like
        ``help/...`` and ``oneproxy/...``; default ``$LATXFER_MIRROR``, else upstream.
    progress : bool
        Show a download progress bar (when stderr is a terminal).
    timeout : float
        Seconds per connection / read.
    force : bool
        Re-download (raw files failing verification are always re-downloaded) and re-convert.

    Returns
    -------
    Path
        ``<cache>/data``, a data directory usable as ``data_dir`` / ``$LATXFER_DATA``.

    Raises
    ------
    UnknownDatasetError
        ``name`` is not a dataset.
    FetchError
        The dataset is not published upstream, or a download failed (the message says how to fetch
        manually or where to point ``LATXFER_DATA``).
    IntegrityError
        A downloaded file does not match its pinned SHA-256 (it is deleted; nothing is converted).
    UnsafePickleError
        An upstream file holds a pickled global (cannot happen with verified files).
    """
    _check_name(name)
    root = _resolve_cache(cache_dir)
    data = root / "data"
    if not force and _complete(data, name):
        return data
    if mirror is None:
        mirror = os.environ.get(ENV_MIRROR) or None
    raw = root / "raw"
    needed = [SOURCES[rel] for rel in _RAW_NEEDED[name]]
    missing = [f for f in needed if force or not _have_raw(raw / f.path, f)]
    bar, own_bar = _make_bar(progress, sum(f.size for f in missing), f"latxfer: fetching {name}") \
        if missing else (None, False)
    try:
        for f in missing:
            url = _source_url(f.path, mirror)
            try:
                download(url, raw / f.path, f.sha256, timeout=timeout,
                         progress=bar if bar is not None else False, size=f.size)
            except FetchError as exc:
                if url == f.url:
                    raise
                # fetching from a mirror: also say where the file is published
                raise type(exc)(f"{exc} (upstream: {f.url})") from None
    finally:
        if own_bar:
            bar.close()
    outputs = {rel: _encode(rel, text) for rel, text in _CONVERTERS[name](raw).items()}
    for rel, blob in outputs.items():
        _write_atomic(data / rel, blob)
    record = {
        "dataset": name,
        "files": {rel: hashlib.sha256(blob).hexdigest() for rel, blob in outputs.items()},
        "raw": {f.path: f.sha256 for f in needed},
        "sources": {f.path: f.url for f in needed},
        "mirror": None if mirror is None else os.fspath(mirror),
    }
    _write_atomic(_marker(data, name), (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return data


def cached_data_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cache's data directory when ``name`` has been fetched and converted there, else None."""
    if name not in FETCHABLE:
        return None
    data = _resolve_cache(cache_dir) / "data"
    return data if _complete(data, name) else None


def verify(name: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """True when the cached raw files of ``name`` match their pinned hashes and its converted files
    match the hashes recorded at conversion."""
    _check_name(name)
    root = _resolve_cache(cache_dir)
    for rel in _RAW_NEEDED[name]:
        p, f = root / "raw" / rel, SOURCES[rel]
        if not p.is_file() or _sha256_file(p) != f.sha256:
            return False
    return _complete(root / "data", name)


# ----------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------


def add_fetch_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``fetch NAME [--cache-dir DIR] [--mirror URL]`` to an argparse sub-parser collection."""
    q = subparsers.add_parser("fetch", help="download, verify and convert a public dataset into the cache")
    q.add_argument("name", nargs="+", help=f"dataset(s): {', '.join(FETCHABLE)}, or 'all'")
    q.add_argument("--cache-dir", default=None,
                   help=f"cache directory (default ${ENV_CACHE} or the user cache)")
    q.add_argument("--mirror", default=None,
                   help="directory or file:// URL laid out like the upstream raw files (help/, oneproxy/)")
    q.add_argument("--timeout", type=float, default=60, help="seconds per connection / read")
    q.add_argument("--force", action="store_true", help="download and convert again")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=run_fetch)
    return q


def run_fetch(args) -> int:
    """Run ``latxfer data fetch`` from parsed arguments; print the data directory.  Exit status 0."""
    names = args.name if isinstance(args.name, list) else [args.name]
    if "all" in names:
        names = list(FETCHABLE)
    results = []
    for name in names:
        data = fetch(name, cache_dir=getattr(args, "cache_dir", None), mirror=getattr(args, "mirror", None),
                     progress=not getattr(args, "no_progress", False),
                     timeout=getattr(args, "timeout", 60) or 60, force=getattr(args, "force", False))
        results.append({"dataset": name, "data_dir": str(data),
                        "files": [str(data / rel) for rel in DATASET_FILES[name]]})
    if getattr(args, "json", False):
        print(json.dumps(results if len(results) > 1 else results[0], indent=1))
    else:
        for r in results:
            print(f"{r['dataset']}: verified and converted into {r['data_dir']}")
            for f in r["files"]:
                print(f"  {f}")
        print(f"load_dataset() finds it there; to use the directory explicitly: "
              f"export {ENV_DATA}={results[-1]['data_dir']}")
    return 0
