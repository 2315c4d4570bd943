"""Persistence of latency Datasets: zarr (default) or netCDF, round-tripping dims, coords, attrs and NaN.

Nothing the user has is overwritten: saving to an existing path raises unless ``overwrite=True``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from latxfer.errors import ConfigError, DataFileNotFoundError, ModelFileError

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


def save_dataset(ds: xr.Dataset, path: str | os.PathLike, *, fmt: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write a latency Dataset to ``path`` (zarr directory, or netCDF for ``*.nc``).

    Parameters
    ----------
    ds : xarray.Dataset
    path : path-like
    fmt : {"zarr", "netcdf"}, optional
        Default from the suffix (``.nc`` -> netCDF, else zarr).
    overwrite : bool
        Replace an existing file / directory.  Default False: an existing path raises ConfigError.
    """
    path = Path(path)
    fmt = _fmt(path, fmt)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; refusing to overwrite it (pass overwrite=True)")
    out = ds.copy()
    out.attrs = _encode_attrs(ds.attrs)
    for name in list(out.variables):
        out[name].attrs = _encode_attrs(out[name].attrs)
        out[name].encoding = {}
    tmp = path.with_name(path.name + ".tmp-latxfer")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if fmt == "zarr":
        out.to_zarr(tmp, mode="w", consolidated=False)
    else:
        try:
            out.to_netcdf(tmp, engine="h5netcdf")
        except (ImportError, ValueError):
            out.to_netcdf(tmp, engine="scipy")
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.replace(tmp, path)
    return path


def open_dataset(path: str | os.PathLike, *, fmt: str | None = None) -> xr.Dataset:
    """Read a Dataset written by :func:`save_dataset` (fully loaded into memory)."""
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file or directory")
    fmt = _fmt(path, fmt)
    try:
        if fmt == "zarr":
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
