"""Persistence of latency Datasets: zarr (default) or netCDF, round-tripping dims, coords, attrs and NaN.

Nothing the user has is overwritten: saving follows :mod:`latxfer.outputs` (an existing path is refused
unless ``overwrite=True``, and a directory is replaced only when latxfer wrote it).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from latxfer.errors import ConfigError, DataFileNotFoundError, ModelFileError
from latxfer.outputs import MARKER, check_output, write_atomic, write_store

__all__ = ["save_dataset", "open_dataset"]

_JSON_PREFIX = "__json__:"


def _encode_attrs(attrs: dict) -> dict:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, (dict, list, tuple, bool)) or v is None:
            out[k] = _JSON_PREFIX + json.dumps(v)
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def _decode_attrs(attrs: dict) -> dict:
    return {
        k: json.loads(v[len(_JSON_PREFIX):]) if isinstance(v, str) and v.startswith(_JSON_PREFIX) else v
        for k, v in attrs.items()
    }


def _fmt(path: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = "netcdf" if path.suffix in (".nc", ".nc4", ".netcdf") else "zarr"
    if fmt not in ("zarr", "netcdf"):
        raise ConfigError(f"unknown format {fmt!r}; expected 'zarr' or 'netcdf'")
    return fmt


def _write_netcdf(ds: xr.Dataset, path: Path) -> None:
    try:
        ds.to_netcdf(path, engine="h5netcdf")
    except (ImportError, ValueError):
        ds.to_netcdf(path, engine="scipy")


def save_dataset(ds: xr.Dataset, path: str | os.PathLike, *, fmt: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write a latency Dataset to ``path`` (zarr directory, or netCDF for ``*.nc``).

    Follows latxfer's output policy (:mod:`latxfer.outputs`): the data are written under a unique
    temporary name next to ``path`` and moved into place atomically; an existing path is refused unless
    ``overwrite=True``, and even then a directory is replaced only when latxfer wrote it (a zarr store
    saved by this function carries latxfer's marker file).

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset to write.
    path : path-like
        Where to write it.
    fmt : {"zarr", "netcdf"}, optional
        Default from the suffix (``.nc`` -> netCDF, else zarr).
    overwrite : bool
        Replace an existing netCDF file, or an existing zarr store latxfer wrote.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputPathError
        The path exists (without ``overwrite``), is a directory latxfer did not write, is a directory
        where a file is expected (or a file where a store is), or its directory is missing or unwritable.
    """
    path = Path(path)
    fmt = _fmt(path, fmt)
    if fmt == "zarr":
        check_output(path, overwrite=overwrite, store=True, flag="path")
    else:
        check_output(path, overwrite=overwrite, flag="path")
    out = ds.copy()
    out.attrs = _encode_attrs(ds.attrs)
    for name in list(out.variables):
        out[name].attrs = _encode_attrs(out[name].attrs)
        out[name].encoding = {}
    if fmt == "zarr":
        return write_store(path, lambda tmp: out.to_zarr(tmp, mode="w-", consolidated=False), kind="dataset",
                           overwrite=overwrite, flag="path")
    return write_atomic(path, lambda tmp: _write_netcdf(out, tmp), overwrite=overwrite, flag="path")


def open_dataset(path: str | os.PathLike, *, fmt: str | None = None) -> xr.Dataset:
    """Read a Dataset written by :func:`save_dataset` (fully loaded into memory)."""
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file or directory")
    fmt = _fmt(path, fmt)
    try:
        if fmt == "zarr":
            with warnings.catch_warnings():  # zarr notes the marker file of latxfer's output policy
                warnings.filterwarnings("ignore", message=f".*{re.escape(MARKER)}.*")
                ds = xr.open_zarr(path, consolidated=False).load()
        else:
            ds = xr.open_dataset(path).load()
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a dataset file"
        raise ModelFileError(f"{path}: cannot be read as a {fmt} dataset ({type(exc).__name__}: {exc})") from None
    ds.attrs = _decode_attrs(ds.attrs)
    for name in list(ds.variables):
        ds[name].attrs = _decode_attrs(ds[name].attrs)
        ds[name].encoding = {}
    return ds
