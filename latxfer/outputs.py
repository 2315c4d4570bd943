"""The one output policy of every latxfer command and API that writes a file or a store.

- An existing path is refused unless ``overwrite=True``.
- ``overwrite=True`` replaces a *file* latxfer is asked to write (a CSV, a figure) and a *store*
  (directory) only when latxfer wrote it: a store carries the marker file :data:`MARKER`.  Any other
  directory is refused: latxfer never deletes a directory it did not write.
- An output that is one of the command's inputs is refused (``plan --target-csv mine.csv --out mine.csv``).
- Every output path is checked before any computation (:func:`check_output`), so a long run is never
  lost to a bad ``--out`` at its end.
- Writes go to a unique temporary name in the target directory and are moved into place with one
  atomic :func:`os.replace`; an interrupted write leaves the user's file as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from latxfer.errors import OutputPathError

__all__ = ["MARKER", "check_output", "write_atomic", "write_store", "is_latxfer_store", "mark_store"]

#: File inside every store (directory) latxfer writes; its first line names what wrote it.
MARKER = ".latxfer-store"


def is_latxfer_store(path) -> bool:
    """True when ``path`` is a directory latxfer wrote (it holds :data:`MARKER`)."""
    p = Path(path)
    return p.is_dir() and (p / MARKER).is_file()


def mark_store(path, kind: str) -> None:
    """Write :data:`MARKER` into the store ``path`` (``kind``: e.g. ``"model"``, ``"dataset"``)."""
    (Path(path) / MARKER).write_text(f"latxfer {kind}\n", encoding="utf-8")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path, *, overwrite: bool = False, inputs: Iterable = (), suffixes: Iterable[str] | None = None,
                 store: bool = False, flag: str = "--out") -> Path:
    """Check an output path before any work is done; return it as a :class:`~pathlib.Path`.

    Parameters
    ----------
    path : str or os.PathLike
        Where the output will be written.
    overwrite : bool
        Allow replacing an existing file, or an existing store latxfer wrote.
    inputs : iterable of path-like
        The command's input files: the output may be none of them.
    suffixes : iterable of str, optional
        Allowed suffixes (lower case, with the dot), e.g. ``(".png", ".pdf", ".svg")``.
    store : bool
        The output is a directory store (a model, a zarr dataset) rather than a file.
    flag : str
        The flag or argument name, used in messages.

    Raises
    ------
    OutputPathError
        With the flag, the path and what was expected.
    """
    p = Path(path)
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if p.suffix.lower() not in allowed:
            raise OutputPathError(f"{flag} {p}: expected a file ending in {', '.join(allowed)}, "
                                  f"got {p.suffix or 'no suffix'!r}")
    for inp in inputs:
        if inp is not None and _same_file(p, Path(inp)):
            raise OutputPathError(f"{flag} {p} is also an input of this command; write the output to "
                                  "another path (latxfer never replaces its inputs)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{flag} {p}: the directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag} {p}: the directory {parent} is not writable")
    if p.exists() or p.is_symlink():
        if p.is_dir() and not store:
            raise OutputPathError(f"{flag} {p} is a directory; expected a file path")
        if not overwrite:
            raise OutputPathError(f"{flag} {p} already exists; refusing to overwrite it "
                                  "(pass --overwrite / overwrite=True to replace it)")
        if store and p.is_dir() and not is_latxfer_store(p):
            raise OutputPathError(f"{flag} {p} is a directory latxfer did not write (no {MARKER} marker); "
                                  "refusing to replace it even with --overwrite: choose another path")
        if store and not p.is_dir():
            raise OutputPathError(f"{flag} {p} is a file, not a latxfer store; refusing to replace it")
    return p


def _tmp_name(p: Path) -> Path:
    return p.with_name(f".{p.name}.{uuid.uuid4().hex[:12]}.tmp-latxfer")


def write_atomic(path, write: Callable[[Path], None], *, overwrite: bool = False, inputs: Iterable = (),
                 suffixes: Iterable[str] | None = None, flag: str = "--out") -> Path:
    """Write a file through ``write(tmp_path)`` at a unique temporary name, then move it into place.

    The policy of :func:`check_output` is applied first (and again just before the move).
    """
    p = check_output(path, overwrite=overwrite, inputs=inputs, suffixes=suffixes, flag=flag)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp-latxfer", dir=p.parent if str(p.parent) else ".")
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the output gets the mode a plain open() gives
    try:
        write(tmp)
        check_output(p, overwrite=overwrite, inputs=inputs, suffixes=suffixes, flag=flag)
        os.replace(tmp, p)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return p


def write_store(path, write: Callable[[Path], None], *, kind: str, overwrite: bool = False,
                flag: str = "--out") -> Path:
    """Write a directory store through ``write(tmp_dir)``, mark it, and move it into place.

    An existing store is replaced only when latxfer wrote it (see :func:`check_output`); the old store
    is moved aside first and deleted only after the new one is in place.
    """
    p = check_output(path, overwrite=overwrite, store=True, flag=flag)
    tmp = _tmp_name(p)
    old = None
    try:
        write(tmp)
        mark_store(tmp, kind)
        check_output(p, overwrite=overwrite, store=True, flag=flag)
        if p.exists():
            old = _tmp_name(p)
            os.replace(p, old)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
    return p
