"""Reading upstream pickles with an unpickler that admits no global at all (a hostile file cannot run code)."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

from latxfer.errors import IntegrityError, UnsafePickleError

# ----------------------------------------------------------------------------------------------------
# Safe unpickling
# ----------------------------------------------------------------------------------------------------


class _NoGlobalsUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global and persistent id: only builtin containers and scalars."""

    def __init__(self, file, *, source: str = "<bytes>") -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):  # noqa: D401
        raise UnsafePickleError(
            f"{self._source}: the pickle asks for the global {module}.{name}; refused: latxfer reads only "
            "pickles of plain lists, dicts, numbers and strings, and loading a global could execute code "
            "(the file is not the published one, or has been tampered with)"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"{self._source}: the pickle references an external object (persistent id {pid!r}, e.g. a "
            "PyTorch tensor storage); refused: latxfer reads only pickles of plain lists, dicts, numbers "
            "and strings"
        )


def safe_load_pickle(data: bytes | bytearray | memoryview | str | os.PathLike, *, source: str | None = None):
    """Unpickle ``data`` (bytes, or a path to a file) admitting no global at all.

    Raises
    ------
    UnsafePickleError
        The pickle names a global (class or function: it could execute code) or a persistent id.
    IntegrityError
        The bytes are not a valid pickle.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw, src = bytes(data), source or "<bytes>"
    else:
        path = Path(data)
        raw, src = path.read_bytes(), source or str(path)
    try:
        return _NoGlobalsUnpickler(io.BytesIO(raw), source=src).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError) as exc:
        raise IntegrityError(f"{src}: not a valid pickle ({type(exc).__name__}: {exc})") from None


def load_torch_zip_pickle(path: str | os.PathLike):
    """Read the pickle inside a PyTorch zip container (``<folder>/data.pkl``) without torch.

    Only plain builtins are admitted (see :func:`safe_load_pickle`); tensor storages are refused.

    Raises
    ------
    UnsafePickleError
        A global or a tensor storage (persistent id) in the pickle.
    IntegrityError
        Not a zip file, or no / several ``data.pkl`` inside.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "data.pkl" and n.count("/") == 1]
            if len(names) != 1:
                raise IntegrityError(
                    f"{path}: expected one '<folder>/data.pkl' in the PyTorch zip container, found "
                    f"{names or 'none'}"
                )
            raw = zf.read(names[0])
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"{path}: not a PyTorch zip container ({exc})") from None
    return safe_load_pickle(raw, source=f"{path}:{names[0]}")


def _load_raw(path: Path):
    return load_torch_zip_pickle(path) if path.suffix == ".pt" else safe_load_pickle(path)
