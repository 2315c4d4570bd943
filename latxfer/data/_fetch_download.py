"""Downloading one pinned file: verified against its SHA-256, written to a unique temporary, renamed."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from latxfer.data._fetch_sources import ENV_CACHE, ENV_DATA, ENV_MIRROR
from latxfer.errors import FetchError, IntegrityError

# ----------------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def _is_url(s: str) -> bool:
    return bool(_SCHEME_RE.match(s))


def _manual_hint(url: str, dest: Path | None, sha256: str | None) -> str:
    where = f" and save it as {str(dest)!r}" if dest is not None else ""
    sha = f" (its SHA-256 must be {sha256})" if sha256 else ""
    return (
        f"To fetch it manually, download {url}{where}{sha} and run the command again, or use a copy laid "
        f"out like the upstream files with --mirror DIR (or ${ENV_MIRROR}); alternatively set {ENV_DATA} "
        f"to a directory holding the converted files (e.g. `export {ENV_DATA}=/path/to/latxfer/data`, "
        "with nb201/, fbnet/, ...)."
    )


def _replace(src: str | Path, dst: Path) -> None:
    """os.replace, retrying briefly when Windows reports the target busy."""
    for attempt in range(10):
        try:
            os.replace(src, dst)
            return
        except PermissionError:  # pragma: no cover - Windows: target open by a concurrent reader
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def _open_source(url: str, timeout: float):
    """(binary stream, content length or None) for a URL, file:// URL or plain local path."""
    if _is_url(url):
        resp = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - scheme chosen by user/constant
        length = resp.headers.get("Content-Length")
        return resp, (int(length) if length and length.isdigit() else None)
    f = open(url, "rb")  # noqa: SIM115
    return f, os.fstat(f.fileno()).st_size


def _make_bar(progress, total: int | None, desc: str):
    if progress is False or progress is None:
        return None, False
    if hasattr(progress, "update"):
        return progress, False
    from tqdm.auto import tqdm

    # disable=None: shown only when stderr is a terminal
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                disable=None), True


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str,
    timeout: float = 60,
    progress: bool | Any = True,
    *,
    size: int | None = None,
) -> Path:
    """Download ``url`` to ``dest``, verified against ``sha256``; atomic.

    Parameters
    ----------
    url : str
        ``http(s)://``, ``file://`` URL or a plain local path.
    dest : path-like
        Final path; the bytes go to a temporary file in the same directory, are checked (size, SHA-256)
        and only then renamed onto ``dest`` with :func:`os.replace`.
    sha256 : str
        Expected SHA-256 (hex).
    timeout : float
        Seconds for connecting and for each read.
    progress : bool or tqdm-like
        True: a tqdm bar on stderr when it is a terminal; an object with ``update(n)`` is advanced by the
        bytes read (one bar for several files); False: silent.
    size : int, optional
        Expected size in bytes (checked as well as the ``Content-Length`` header).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    FetchError
        Network failure, timeout, missing file or an incomplete download; the message says how to fetch
        the file manually or where to point ``LATXFER_DATA``.
    IntegrityError
        The bytes do not match ``sha256`` (the downloaded file is deleted).
    """
    dest = Path(dest)
    hint = _manual_hint(url, dest, sha256)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise FetchError(
            f"cannot write into the cache directory {str(dest.parent)!r} ({exc}); choose another one with "
            f"--cache-dir / ${ENV_CACHE}"
        ) from None
    h = hashlib.sha256()
    n = 0
    bar, own_bar = None, False
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                src, length = _open_source(url, timeout)
            except urllib.error.HTTPError as exc:
                raise FetchError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}. {hint}") from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    raise FetchError(f"downloading {url} timed out after {timeout:g} s. {hint}") from None
                raise FetchError(f"cannot download {url}: {reason}. {hint}") from None
            except FileNotFoundError:
                raise FetchError(f"cannot download {url}: no such file. {hint}") from None
            except TimeoutError:
                raise FetchError(f"downloading {url} timed out after {timeout:g} s. {hint}") from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise FetchError(f"cannot download {url}: {exc}. {hint}") from None
            bar, own_bar = _make_bar(progress, length if length is not None else size,
                                     Path(urllib.parse.urlsplit(url).path).name or url)
            with src:
                while True:
                    try:
                        chunk = src.read(1 << 16)
                    except TimeoutError:
                        raise FetchError(
                            f"downloading {url} timed out after {timeout:g} s ({n} bytes received). {hint}"
                        ) from None
                    except http.client.IncompleteRead as exc:
                        got = n + len(exc.partial)
                        raise FetchError(
                            f"incomplete download of {url}: the connection closed after {got} bytes"
                            f"{f' of {length}' if length else ''}. {hint}"
                        ) from None
                    except (OSError, http.client.HTTPException) as exc:
                        raise FetchError(f"downloading {url} failed after {n} bytes: {exc}. {hint}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        for expected in (length, size):
            if expected is not None and n != expected:
                raise FetchError(
                    f"incomplete download of {url}: got {n} bytes, expected {expected}; the partial file "
                    f"was deleted. {hint}"
                )
        got = h.hexdigest()
        if got != sha256.lower():
            raise IntegrityError(
                f"{dest.name}: SHA-256 mismatch for {url}: expected {sha256}, got {got}; the file was "
                f"deleted and not used (tampered or corrupted copy). {hint}"
            )
        _replace(tmp, dest)
    finally:
        if own_bar:
            bar.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
