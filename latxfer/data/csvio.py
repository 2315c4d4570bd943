"""Reading and validating users' tidy latency CSV files.

Format: one row per measurement, columns ``device, arch_index, latency_ms`` (milliseconds), optionally
``layer`` and ``op`` (layer-wise measurements) and ``space`` (search-space name).  ``.gz`` files are read
transparently.  Missing measurements are absent rows.  Repeated rows of the same (device, arch[, layer])
are legitimate and reduced with a user-selectable reduction (default median, count kept in ``n_obs``).

:func:`validate_csv` reports every problem of a file; :func:`read_csv` raises the first kind of problem
(with every row of that kind listed) as a specific :class:`~latxfer.errors.LatxferError`.
"""

from __future__ import annotations

import csv
import difflib
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from latxfer.data.plausibility import check_plausible, find_implausible
from latxfer.data.problems import Problem
from latxfer.data.problems import lines_text as _lines_text
from latxfer.data.problems import values_text as _values_text
from latxfer.data.tensor import REDUCTIONS, from_long
from latxfer.errors import (
    ConfigError,
    DataFileNotFoundError,
    EmptyDataError,
    InvalidLatencyError,
    LatxferError,
    MissingColumnError,
    MixedSearchSpaceError,
    UnknownArchitectureError,
    UnknownSpaceError,
)

__all__ = ["read_csv", "read_rows", "validate_csv", "Problem", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS"]

REQUIRED_COLUMNS = ("device", "arch_index", "latency_ms")
OPTIONAL_COLUMNS = ("layer", "op", "space")
#: Largest index (arch_index, layer, op) a file may hold: every integer up to it is exact in float64.
_MAX_INDEX = 2**53


def _space_with_table(name: str):
    """The space with its architecture table from the data directory, or None when that is not available."""
    from latxfer.data.datasets import load_space

    try:
        return load_space(name)
    except LatxferError:
        return None


def _get_space(space: str | None):
    if space is None or space == "unknown":
        return None
    from latxfer.spaces import get_space

    try:
        return get_space(space)
    except UnknownSpaceError:
        raise
    except LatxferError as exc:  # pragma: no cover - defensive
        raise UnknownSpaceError(str(exc)) from exc


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFileNotFoundError(f"{path}: is a directory, expected a CSV file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise EmptyDataError(
            f"{path}: the file is empty; expected a header 'device,arch_index,latency_ms' and one row "
            "per measurement"
        ) from None
    except (pd.errors.ParserError, UnicodeError, OSError, EOFError, zlib.error, csv.Error, ValueError) as exc:
        # ValueError: pandas' own complaints (e.g. NUL bytes, a corrupt compressed stream)
        raise EmptyDataError(f"{path}: cannot be read as a CSV file ({exc})") from None
    df.columns = [str(c).strip().lstrip("\ufeff").strip() for c in df.columns]
    return df


@dataclass
class _Raw:
    """The raw string table of a CSV with what the checks learn about it on the way."""

    df: pd.DataFrame
    path: Path
    space: str | None
    problems: list[Problem] = field(default_factory=list)
    has_layer: bool = False

    @property
    def line(self) -> np.ndarray:
        return np.arange(len(self.df)) + 2

    def add(self, error: type, message: str, mask: np.ndarray | None = None) -> None:
        lines = self.line[mask].tolist() if mask is not None else []
        self.problems.append(Problem(error, f"{self.path}: {message}", lines))


def _check_columns(raw: _Raw) -> bool:
    """Required columns present (with misspelling and separator hints) and at least one row."""
    cols = list(raw.df.columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        hints = []
        for c in missing:
            close = difflib.get_close_matches(c, cols, n=1, cutoff=0.6)
            if close:
                hints.append(f"{close[0]!r} looks like a misspelling of {c!r}")
        if len(cols) == 1:
            sep = next((d for d in (";", "\t", "|") if d in cols[0] and all(r in cols[0] for r in REQUIRED_COLUMNS)), None)
            if sep is not None:
                hints.append(f"the header is separated by {sep!r}; latxfer reads comma-separated files")
        raw.add(MissingColumnError,
                f"missing column(s) {missing}; found columns {cols}; expected "
                f"{list(REQUIRED_COLUMNS)} (optional {list(OPTIONAL_COLUMNS)})"
                + (f". {'; '.join(hints)}" if hints else ""))
        return False
    if len(raw.df) == 0:
        raw.add(EmptyDataError, "the file has a header but no measurement row")
        return False
    return True


def _check_space_column(raw: _Raw) -> None:
    """The search space: the argument, else the ``space`` column; a file must not mix spaces."""
    df = raw.df
    if "space" not in df.columns:
        return
    spaces = sorted(set(df["space"].str.strip()) - {""})
    if len(spaces) > 1:
        counts = df["space"].value_counts().to_dict()
        raw.add(MixedSearchSpaceError,
                f"the file mixes search spaces {counts}; one file must hold one search "
                "space (split it by the 'space' column)")
    elif spaces:
        if raw.space is not None and raw.space != spaces[0]:
            raw.add(MixedSearchSpaceError,
                    f"the 'space' column says {spaces[0]!r} but space={raw.space!r} was asked for")
        raw.space = raw.space or spaces[0]


def _check_layer_column(raw: _Raw) -> None:
    """A file is either end-to-end or layer-wise: a ``layer`` column is empty everywhere or nowhere."""
    df = raw.df
    if "layer" not in df.columns:
        return
    empty_layer = (df["layer"].str.strip() == "").to_numpy()
    if empty_layer.any() and not empty_layer.all():
        raw.add(MixedSearchSpaceError,
                f"{_lines_text(raw.line[empty_layer].tolist())} have no 'layer' while "
                "other rows do; a file holds either end-to-end or layer-wise measurements", empty_layer)
    raw.has_layer = not empty_layer.all()


def _check_device_arch(raw: _Raw) -> tuple[pd.Series, np.ndarray]:
    """Device names non-empty; ``arch_index`` non-negative integers.  Returns (devices, arch as float)."""
    df, line = raw.df, raw.line
    dev = df["device"].str.strip()
    bad = (dev == "").to_numpy()
    if bad.any():
        raw.add(InvalidLatencyError, f"empty device name at {_lines_text(line[bad].tolist())}", bad)
    arch = pd.to_numeric(df["arch_index"].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(arch) | (arch != np.round(arch)) | (arch < 0) | (arch > _MAX_INDEX)
    if bad.any():
        raw.add(UnknownArchitectureError,
                "arch_index must be a non-negative integer"
                + (f" (at most {_MAX_INDEX})" if np.any(arch > _MAX_INDEX) else "") + "; got "
                f"{_values_text(df['arch_index'][bad])} at {_lines_text(line[bad].tolist())}", bad)
    return dev, arch


def _check_latency(raw: _Raw, missing_values: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Latencies numeric, finite, > 0 (end-to-end) unless a missing-value marker.  Returns (lat, missing)."""
    df, line = raw.df, raw.line
    raw_lat = df["latency_ms"].str.strip()
    lat = pd.to_numeric(raw_lat, errors="coerce").to_numpy(dtype=float)
    nonnum = np.isnan(lat) & ~raw_lat.str.lower().isin(["nan"]).to_numpy()
    is_nan_text = np.isnan(lat) & ~nonnum
    if nonnum.any():
        raw.add(InvalidLatencyError,
                f"latency_ms must be a number of milliseconds; got "
                f"{_values_text(raw_lat[nonnum])} at {_lines_text(line[nonnum].tolist())}", nonnum)
    if is_nan_text.any():
        raw.add(InvalidLatencyError,
                f"latency_ms is NaN at {_lines_text(line[is_nan_text].tolist())}; leave a "
                "missing measurement out of the file instead", is_nan_text)
    missing_mask = np.zeros(len(df), bool)
    for mv in missing_values or ():
        missing_mask |= lat == float(mv)
    inf = np.isinf(lat)
    if inf.any():
        raw.add(InvalidLatencyError,
                f"latency_ms is infinite at {_lines_text(line[inf].tolist())}; expected a finite "
                "number of milliseconds", inf)
    nonpos = np.isfinite(lat) & (lat <= 0) & ~missing_mask
    if raw.has_layer:  # per-layer costs relative to a reference op may be 0 (or slightly negative)
        nonpos = np.zeros(len(df), bool)
    if nonpos.any():
        hint = ""
        if np.any(lat[nonpos] == -1):
            hint = (
                " (HW-NAS-Bench writes -1 for 'not measured': pass missing_values=[-1], or "
                "--missing-values -1 on the command line, to treat those rows as missing)"
            )
        raw.add(InvalidLatencyError,
                f"latency_ms must be > 0; got {_values_text(raw_lat[nonpos])} at "
                f"{_lines_text(line[nonpos].tolist())}{hint}", nonpos)
    return lat, missing_mask


def _check_in_space(raw: _Raw, arch: np.ndarray) -> tuple[object, np.ndarray | None]:
    """Architecture indices, layers and op codes within the search space.  Returns (space, layer)."""
    df, line = raw.df, raw.line
    sp = None
    try:
        sp = _get_space(raw.space)
    except UnknownSpaceError as exc:
        raw.add(UnknownSpaceError, str(exc))
    arch_ok = np.isfinite(arch) & (arch == np.round(arch)) & (arch >= 0) & (arch <= _MAX_INDEX)
    if sp is not None:
        out = arch_ok & (arch >= sp.n_archs)
        if out.any():
            raw.add(UnknownArchitectureError,
                    f"arch_index {_values_text(df['arch_index'][out])} at "
                    f"{_lines_text(line[out].tolist())} is not an architecture of search space "
                    f"{sp.name!r} (valid: 0..{sp.n_archs - 1})", out)
    if not raw.has_layer:
        return sp, None
    layer = pd.to_numeric(df["layer"].str.strip(), errors="coerce").to_numpy(dtype=float)
    badl = ~np.isfinite(layer) | (layer != np.round(layer)) | (layer < 0) | (layer > _MAX_INDEX)
    n_pos = getattr(sp, "n_positions", None) if sp is not None else None
    if n_pos is not None:
        badl |= np.isfinite(layer) & (layer >= n_pos)
    if badl.any():
        expected = f"0..{n_pos - 1}" if n_pos is not None else "a non-negative integer"
        raw.add(UnknownArchitectureError,
                f"layer {_values_text(df['layer'][badl])} at {_lines_text(line[badl].tolist())} "
                f"is invalid; expected {expected}", badl)
    if "op" in df.columns:
        _check_ops(raw, sp, arch, arch_ok, layer, n_pos)
    return sp, layer


def _check_ops(raw: _Raw, sp, arch: np.ndarray, arch_ok: np.ndarray, layer: np.ndarray, n_pos) -> None:
    """Op codes valid, and the op each architecture of the space has at that layer."""
    df, line = raw.df, raw.line
    op = pd.to_numeric(df["op"].str.strip(), errors="coerce").to_numpy(dtype=float)
    n_ops = getattr(sp, "n_ops", None) if sp is not None else None
    bado = ~np.isfinite(op) | (op != np.round(op)) | (op < 0) | (op > _MAX_INDEX)
    if n_ops is not None:
        bado |= np.isfinite(op) & (op >= n_ops)
    if bado.any():
        expected = f"0..{n_ops - 1}" if n_ops is not None else "a non-negative integer"
        raw.add(UnknownArchitectureError,
                f"op {_values_text(df['op'][bado])} at {_lines_text(line[bado].tolist())} is "
                f"invalid; expected an op code {expected}", bado)
    # the op must be the one the architecture has at that layer (a wrong arch_index shows up here)
    ok = ~bado & np.isfinite(layer) & arch_ok
    if sp is not None and n_pos is not None:
        ok &= (layer < n_pos) & (arch < sp.n_archs)
    table_sp = sp if sp is None or sp.has_table else _space_with_table(sp.name)
    if table_sp is None or not ok.any():
        return
    true_op = table_sp.ops(arch[ok].astype(np.int64))[np.arange(ok.sum()), layer[ok].astype(np.int64)]
    wrong = np.zeros(len(df), bool)
    wrong[np.flatnonzero(ok)] = true_op != op[ok]
    if wrong.any():
        raw.add(MixedSearchSpaceError,
                f"op {_values_text(df['op'][wrong])} at {_lines_text(line[wrong].tolist())} "
                f"is not the op these architectures have at that layer in {table_sp.name!r} (expected "
                f"{_values_text(pd.Series(true_op[wrong[np.flatnonzero(ok)]]))}): is the file of "
                "another search space or architecture table?", wrong)


def _check(
    df: pd.DataFrame, path: Path, space: str | None, missing_values: Sequence[float] | None
) -> tuple[list[Problem], pd.DataFrame | None, str | None]:
    """Collect every problem of the raw string table; return (problems, clean table, space).

    The clean table has a ``line`` column: each row's 1-based line in the file.
    """
    raw = _Raw(df, path, space)
    if not _check_columns(raw):
        return raw.problems, None, raw.space
    _check_space_column(raw)
    _check_layer_column(raw)
    dev, arch = _check_device_arch(raw)
    lat, missing_mask = _check_latency(raw, missing_values)
    _, layer = _check_in_space(raw, arch)
    if raw.problems:
        return raw.problems, None, raw.space
    keep = ~missing_mask
    clean = pd.DataFrame(
        {"device": dev[keep].to_numpy(), "arch_index": arch[keep].astype(np.int64), "latency_ms": lat[keep]}
    )
    if raw.has_layer:
        clean["layer"] = layer[keep].astype(np.int64)
    clean["line"] = raw.line[keep]
    if len(clean) == 0:
        raw.add(EmptyDataError, "every row is a missing-value marker; no measurement left")
        return raw.problems, None, raw.space
    return raw.problems, clean, raw.space


def _auto_reference(space: str | None):
    """The registered HELP dataset of ``space`` (``nb201-help``, ...) when the data directory has it."""
    if space is None or space == "unknown":
        return None
    from latxfer.data.datasets import DATASETS, load_dataset

    name = f"{space}-help"
    if name not in DATASETS:
        return None
    try:
        return load_dataset(name)
    except LatxferError:
        return None


def _resolve_reference(reference, space: str | None):
    if isinstance(reference, str):
        if reference == "auto":
            return _auto_reference(space)
        from latxfer.data.datasets import load_dataset

        return load_dataset(reference)
    return reference


def validate_csv(
    path: str | os.PathLike, *, space: str | None = None, missing_values: Sequence[float] | None = None,
    allow_implausible: bool = False, reference="auto",
) -> list[Problem]:
    """Report every problem of a tidy latency CSV file (empty list: the file is valid).

    Parameters
    ----------
    path : path-like
        The CSV (or ``.csv.gz``) file.
    space : str, optional
        Search space the architecture indices belong to (``"nb201"``, ``"fbnet"``, ``"ofa"``); default
        the file's ``space`` column, else indices are only checked to be non-negative integers.
    missing_values : sequence of float, optional
        Latency values that mean "not measured" (e.g. ``[-1]`` for HW-NAS-Bench files).  Without it a
        ``-1`` is an invalid latency.
    allow_implausible : bool
        Accept implausible latencies (see :mod:`latxfer.data.plausibility`): they are then not
        reported.  Default False: each finding is a Problem of kind ``ImplausibleLatencyError``, checked
        once the file has no other problem.
    reference : "auto", str, xarray.Dataset, (float, float) or None
        What the latencies are compared with (scale and ranking of architectures): ``"auto"`` (default)
        the registered ``<space>-help`` dataset when the space is known and the data directory holds
        it; a dataset name; a latency Dataset; a ``(low, high)`` range of device medians in ms; or None
        (only the checks within each device).

    Returns
    -------
    list of Problem
    """
    path = Path(path)
    try:
        df = _read_raw(path)
    except LatxferError as exc:
        return [Problem(type(exc), str(exc))]
    problems, clean, space = _check(df, path, space, missing_values)
    if problems or allow_implausible:
        return problems
    try:
        ref = _resolve_reference(reference, space)
    except LatxferError as exc:
        return [Problem(type(exc), f"reference {reference!r}: {exc}")]
    return find_implausible(clean, reference=ref, path=path)


def read_rows(
    path: str | os.PathLike, *, space: str | None = None, missing_values: Sequence[float] | None = None,
    allow_implausible: bool = False, reference=None,
) -> pd.DataFrame:
    """The validated rows of a tidy latency CSV, in file order, repeats kept (no reduction).

    Columns ``device, arch_index, latency_ms`` (and ``layer`` for layer-wise files); rows that are
    missing-value markers are dropped.  ``attrs["space"]`` holds the search space (the argument, else the
    file's ``space`` column, else None) and ``attrs["n_missing_markers"]`` the count of dropped rows.  The
    row order is the order the measurements were written in, which :func:`read_csv` does not keep
    (``latxfer plan`` uses it to replay a user's rounds).  Raises what :func:`read_csv` raises;
    ``allow_implausible`` and ``reference`` are those of :func:`read_csv`.
    """
    path = Path(path)
    df = _read_raw(path)
    problems, clean, space = _check(df, path, space, missing_values)
    if problems:
        first = problems[0].error
        same = [p.message for p in problems if p.error is first]
        others = len(problems) - len(same)
        msg = "\n".join(same)
        if others:
            msg += f"\n(and {others} other problem(s); run `latxfer data validate {path}` to list all)"
        raise first(msg)
    check_plausible(clean, reference=_resolve_reference(reference, space), allow_implausible=allow_implausible,
                    path=path)
    clean = clean.drop(columns="line")
    clean.attrs["space"] = space
    clean.attrs["n_missing_markers"] = int(len(df) - len(clean))
    return clean


def read_csv(
    path: str | os.PathLike,
    *,
    space: str | None = None,
    reduce: str | None = "median",
    missing_values: Sequence[float] | None = None,
    all_archs: bool = False,
    name: str | None = None,
    allow_implausible: bool = False,
    reference=None,
) -> xr.Dataset:
    """Read a tidy latency CSV into a latency Dataset.

    Parameters
    ----------
    path : path-like
        CSV file (optionally gzip-compressed) with columns ``device, arch_index, latency_ms``
        (milliseconds) and optionally ``layer, op, space``.
    space : str, optional
        Search-space name; default the file's ``space`` column or ``"unknown"``.  With a space, every
        ``arch_index`` is checked against it.
    reduce : {"median", "mean", "min", "max", "first", None}
        Reduction of repeated measurements of one (device, arch[, layer]); ``None`` keeps them all along
        a ``repeat`` dim.  The count of raw measurements is kept in ``n_obs``.
    missing_values : sequence of float, optional
        Latency values meaning "not measured" (``[-1]`` for HW-NAS-Bench); such rows are dropped and
        counted in ``attrs["n_missing_markers"]``.  Otherwise -1 is an error.
    all_archs : bool
        Make the ``arch`` coordinate every architecture of the space (NaN where not measured) instead
        of the measured ones only.  Needs ``space``.
    name : str, optional
        ``attrs["name"]``; default the file name.
    allow_implausible : bool
        Accept latencies no architecture could produce (orders of magnitude off the device's others,
        repeats that disagree wildly, all identical, far off the reference; see
        :mod:`latxfer.data.plausibility`) with an :class:`~latxfer.errors.ImplausibleLatencyWarning`.
        Default False: they raise :class:`~latxfer.errors.ImplausibleLatencyError`.
    reference : str, xarray.Dataset, (float, float) or None
        Latencies to compare the file with (e.g. a model's source devices, or a dataset name such as
        ``"nb201-help"``, or ``"auto"`` for the space's registered HELP dataset); default None: only
        the checks within each device.

    Returns
    -------
    xarray.Dataset
        A latency Dataset (see :mod:`latxfer.data.tensor`).

    Raises
    ------
    DataFileNotFoundError, EmptyDataError, MissingColumnError, InvalidLatencyError,
    UnknownArchitectureError, MixedSearchSpaceError, UnknownSpaceError, ImplausibleLatencyError
        With the file, the line numbers and the values at fault.
    """
    if reduce not in REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduce!r}; expected one of {list(REDUCTIONS)}")
    path = Path(path)
    clean = read_rows(path, space=space, missing_values=missing_values, allow_implausible=allow_implausible,
                      reference=reference)
    space = clean.attrs["space"]
    archs = None
    if all_archs:
        sp = _get_space(space)
        if sp is None:
            raise ConfigError("all_archs=True needs a search space (space=...)")
        archs = np.arange(sp.n_archs)
    ds = from_long(
        clean,
        space=space or "unknown",
        reduce=reduce,
        archs=archs,
        name=name or path.name,
        provenance=f"read from {path}",
        source="user",
    )
    ds.attrs["n_missing_markers"] = int(clean.attrs["n_missing_markers"])
    return ds
