"""The latency tensor: an :class:`xarray.Dataset` and the ``latx`` accessor over it.

Layout
------
``latency``
    float64, milliseconds, dims ``("device", "arch")`` or ``("device", "arch", "layer")``;
    NaN marks "not measured".  With ``reduce=None`` a trailing ``repeat`` dim keeps every raw measurement.
``n_obs``
    int, same dims as ``latency`` (without ``repeat``): how many raw measurements were reduced into
    each value (0 = not measured).  Repeated measurements are never dropped silently.
``intercept_ms``
    (layer-wise datasets only) per-device constant that completes the end-to-end latency:
    ``end_to_end = latency.sum("layer") + intercept_ms``.
``ops`` and other encodings
    variables over ``arch`` (e.g. ``ops`` over ``("arch", "edge")`` for NAS-Bench-201).

Coordinates: ``device`` (str), ``arch`` (int64 architecture index of the search space), ``layer`` where
present, and per-device ``device_kind``, ``batch_size``, ``simulated``, ``device_source``.
Attributes: ``space`` (search-space name or ``"unknown"``), ``units`` (``"ms"``), ``name``,
``provenance``, ``reduction``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from latxfer import dims as D
from latxfer.data.devices import device_info
from latxfer.errors import (
    ConfigError,
    EmptyDataError,
    InsufficientDataError,
    InvalidLatencyError,
    LeakageError,
    UnknownArchitectureError,
    UnknownDeviceError,
)

__all__ = ["from_long", "REDUCTIONS", "LatxAccessor", "positions"]

#: Reductions of repeated measurements that :func:`from_long` and :func:`latxfer.read_csv` accept.
REDUCTIONS = ("median", "mean", "min", "max", "first", None)


def positions(coord, values, *, what: str = "architecture", missing: str = "raise") -> np.ndarray:
    """Positions of ``values`` in the 1-D coordinate ``coord`` (e.g. architecture indices in ``arch``).

    The one index-to-position lookup of latxfer: ``coord`` may be in any order (it is argsorted when
    not sorted); every value must be in it.

    Parameters
    ----------
    coord : array_like
        The coordinate, distinct values (e.g. ``ds.arch.values``).
    values : array_like
        Values to locate, any shape.
    what : str
        What the values are, for the error message.
    missing : {"raise", "mark"}
        A value not in ``coord``: raise (default), or ``"mark"`` it with position -1.

    Returns
    -------
    numpy.ndarray
        int64 positions, the shape of ``values``: ``coord[positions(coord, v)] == v``.

    Raises
    ------
    UnknownArchitectureError
        Naming the values that are not in ``coord``.
    """
    coord = np.asarray(coord)
    values = np.asarray(values)
    order = None
    if len(coord) > 1 and np.any(coord[1:] < coord[:-1]):
        order = np.argsort(coord, kind="stable")
        sorted_coord = coord[order]
    else:
        sorted_coord = coord
    pos = np.searchsorted(sorted_coord, values)
    clipped = np.minimum(pos, max(len(coord) - 1, 0))
    bad = (pos >= len(coord)) | (sorted_coord[clipped] != values) if len(coord) else np.ones(values.shape, bool)
    out = (clipped if order is None else order[clipped]).astype(np.int64)
    if np.any(bad):
        if missing == "mark":
            return np.where(bad, -1, out)
        absent = np.unique(values[bad])
        shown = ", ".join(str(v) for v in absent[:8]) + (" ..." if len(absent) > 8 else "")
        raise UnknownArchitectureError(f"{len(absent)} {what} value(s) not in the coordinate: {shown}")
    return out


def _reduce(values: np.ndarray, group: np.ndarray, n_groups: int, how: str) -> np.ndarray:
    """Reduce ``values`` grouped by integer ``group`` (0..n_groups-1) with ``how``."""
    s = pd.Series(values).groupby(group, sort=True)
    red = getattr(s, how)() if how != "first" else s.first()
    out = np.full(n_groups, np.nan)
    out[red.index.to_numpy()] = red.to_numpy()
    return out


def from_long(
    df: pd.DataFrame,
    *,
    space: str = "unknown",
    reduce: str | None = "median",
    archs: Sequence[int] | np.ndarray | None = None,
    layers: Sequence[int] | np.ndarray | None = None,
    name: str = "",
    provenance: str = "",
    source: str = "user",
    devices: Sequence[str] | None = None,
) -> xr.Dataset:
    """Build a latency Dataset from a tidy (long) table.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``device``, ``arch_index``, ``latency_ms`` (milliseconds) and optionally ``layer``.
        Values are assumed valid (see :func:`latxfer.data.csvio.read_csv` for validation).
    space : str
        Search-space name stored in ``attrs["space"]``.
    reduce : {"median", "mean", "min", "max", "first", None}
        How repeated measurements of one (device, arch[, layer]) are combined.  ``None`` keeps every
        measurement along a ``repeat`` dim (NaN-padded).  The count is stored in ``n_obs`` either way.
    archs : array of int, optional
        The ``arch`` coordinate (e.g. every architecture of the space); default: the measured ones, sorted.
    layers : array of int, optional
        The ``layer`` coordinate for layer-wise data; default: the layers present, sorted.
    name, provenance, source : str
        Stored in ``attrs`` and the ``device_source`` coordinate.
    devices : sequence of str, optional
        Device order; default: order of first appearance.

    Returns
    -------
    xarray.Dataset
        See the module docstring for the layout.
    """
    if reduce not in REDUCTIONS:
        raise ConfigError(f"unknown reduction {reduce!r}; expected one of {list(REDUCTIONS)}")
    if len(df) == 0:
        raise EmptyDataError("no measurement to build a latency Dataset from (the table has no row)")
    has_layer = D.LAYER in df.columns and df[D.LAYER].notna().any()
    dev_codes, dev_names = pd.factorize(df["device"].astype(str), sort=False)
    if devices is not None:
        devices = list(devices)
        missing = set(dev_names) - set(devices)
        if missing:
            raise ConfigError(f"devices {sorted(missing)} are in the table but not in `devices`")
        remap = {d: i for i, d in enumerate(devices)}
        dev_codes = np.array([remap[d] for d in dev_names])[dev_codes]
        dev_names = pd.Index(devices)
    a = df["arch_index"].to_numpy(dtype=np.int64)
    arch_coord = np.unique(a) if archs is None else np.asarray(archs, dtype=np.int64)
    try:
        a_pos = positions(arch_coord, a)
    except UnknownArchitectureError as exc:
        raise ConfigError(f"the table holds architecture indices outside the given `archs` coordinate ({exc})") from None
    shape = [len(dev_names), len(arch_coord)]
    flat = dev_codes.astype(np.int64) * len(arch_coord) + a_pos
    if has_layer:
        lay = df[D.LAYER].to_numpy(dtype=np.int64)
        layer_coord = np.unique(lay) if layers is None else np.asarray(layers, dtype=np.int64)
        l_pos = positions(layer_coord, lay, what="layer")
        shape.append(len(layer_coord))
        flat = flat * len(layer_coord) + l_pos
    n_cells = int(np.prod(shape))
    lat = df["latency_ms"].to_numpy(dtype=np.float64)
    counts = np.bincount(flat, minlength=n_cells)
    has_repeats = bool(counts.max(initial=0) > 1)

    dims = [D.DEVICE, D.ARCH] + ([D.LAYER] if has_layer else [])
    if reduce is None and has_repeats:
        order = np.argsort(flat, kind="stable")
        sf = flat[order]
        first = np.searchsorted(sf, sf, side="left")
        rank = np.arange(len(sf)) - first
        n_rep = int(counts.max())
        values = np.full((n_cells, n_rep), np.nan)
        values[sf, rank] = lat[order]
        values = values.reshape(*shape, n_rep)
        lat_dims = dims + [D.REPEAT]
    else:
        if has_repeats:
            values = _reduce(lat, flat, n_cells, reduce or "median")
        else:
            values = np.full(n_cells, np.nan)
            values[flat] = lat
        values = values.reshape(shape)
        lat_dims = dims

    infos = [device_info(d, source) for d in dev_names]
    coords: dict = {
        D.DEVICE: np.asarray(dev_names, dtype=str),
        D.ARCH: arch_coord,
        "device_kind": (D.DEVICE, np.array([i.kind for i in infos], dtype=str)),
        "batch_size": (D.DEVICE, np.array([i.batch_size for i in infos], dtype=np.int64)),
        "simulated": (D.DEVICE, np.array([i.simulated for i in infos], dtype=bool)),
        "device_source": (D.DEVICE, np.array([i.source for i in infos], dtype=str)),
    }
    if has_layer:
        coords[D.LAYER] = layer_coord
    ds = xr.Dataset(
        {
            D.LATENCY: (lat_dims, values, {"units": "ms", "long_name": "inference latency"}),
            D.N_OBS: (dims, counts.reshape(shape).astype(np.int64), {"long_name": "raw measurements"}),
        },
        coords=coords,
        attrs={
            "space": space,
            "units": "ms",
            "name": name,
            "provenance": provenance,
            "reduction": "none" if (reduce is None and has_repeats) else (reduce or "median"),
            "n_repeated_cells": int((counts > 1).sum()),
        },
    )
    return ds


@xr.register_dataset_accessor("latx")
class LatxAccessor:
    """Domain operations on a latency Dataset: ``ds.latx.<method>``.

    Examples
    --------
    >>> ds = latxfer.load_dataset("nb201-help")          # doctest: +SKIP
    >>> src, tgt = ds.latx.split(target="pixel2", sources=["pixel3", "1080ti_1"])  # doctest: +SKIP
    >>> ds.latx.to_long().head()                          # doctest: +SKIP
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    # -- basic facts -----------------------------------------------------------------------------
    @property
    def devices(self) -> list[str]:
        """Device names, in Dataset order."""
        return [str(d) for d in self._ds[D.DEVICE].values]

    @property
    def archs(self) -> np.ndarray:
        """Architecture indices (int64)."""
        return self._ds[D.ARCH].values

    @property
    def space(self) -> str:
        """Search-space name (``"unknown"`` when not given)."""
        return str(self._ds.attrs.get("space", "unknown"))

    @property
    def has_layers(self) -> bool:
        """True for layer-wise datasets (a ``layer`` dim)."""
        return D.LAYER in self._ds[D.LATENCY].dims

    def _check_devices(self, devices: Iterable[str]) -> list[str]:
        devices = [devices] if isinstance(devices, str) else list(devices)
        known = self.devices
        unknown = [d for d in devices if d not in known]
        if unknown:
            raise UnknownDeviceError(
                f"unknown device(s) {unknown} in dataset {self._ds.attrs.get('name') or '(unnamed)'}; "
                f"known devices: {', '.join(known)}"
            )
        return devices

    # -- selection -------------------------------------------------------------------------------
    def select(self, devices: Iterable[str] | str) -> xr.Dataset:
        """Sub-Dataset with only ``devices`` (in the given order); unknown names raise UnknownDeviceError."""
        return self._ds.sel({D.DEVICE: self._check_devices(devices)})

    def split(
        self, target: str, sources: Iterable[str] | None = None
    ) -> tuple[xr.Dataset, xr.Dataset]:
        """Split into (sources, target) Datasets.

        Parameters
        ----------
        target : str
            The target device.
        sources : iterable of str, optional
            Source devices; default every device but the target.  A target listed among the sources
            raises :class:`~latxfer.errors.LeakageError`.
        """
        (target,) = self._check_devices([target])
        if sources is None:
            sources = [d for d in self.devices if d != target]
        sources = self._check_devices(sources)
        if target in sources:
            raise LeakageError(
                f"target device {target!r} is also listed as a source: its measurements would leak "
                "into the fit; remove it from the sources"
            )
        return self.select(sources), self.select([target])

    def positions(self, archs) -> np.ndarray:
        """Positions of the architecture indices ``archs`` along the ``arch`` dim (see :func:`positions`).

        ``ds.latx.latency_matrix()[:, ds.latx.positions(a)]`` are the columns of architectures ``a``;
        an index not in the Dataset raises :class:`~latxfer.errors.UnknownArchitectureError`.
        """
        return positions(self.archs, archs)

    def measured(self, device: str) -> np.ndarray:
        """Architecture indices measured on ``device`` (layer-wise data: every layer measured)."""
        (device,) = self._check_devices([device])
        lat = self.latency_matrix([device])[0]
        return self.archs[np.isfinite(lat)]

    def common_archs(self, devices: Iterable[str] | None = None) -> np.ndarray:
        """Architecture indices measured on every one of ``devices`` (default: all devices)."""
        devices = self.devices if devices is None else self._check_devices(devices)
        m = self.latency_matrix(devices)
        return self.archs[np.all(np.isfinite(m), axis=0)]

    # -- views -----------------------------------------------------------------------------------
    def end_to_end(self) -> xr.DataArray:
        """End-to-end latency (ms) over ``(device, arch)``; layer data: sum of layers + intercept."""
        lat = self._ds[D.LATENCY]
        if D.REPEAT in lat.dims:
            lat = lat.median(D.REPEAT)
        if not self.has_layers:
            return lat
        total = lat.sum(D.LAYER, skipna=False)
        if D.INTERCEPT in self._ds:
            total = total + self._ds[D.INTERCEPT]
        return total.rename(D.LATENCY)

    def latency_matrix(self, devices: Iterable[str] | None = None) -> np.ndarray:
        """End-to-end latency as a float64 array ``(device, arch)`` in ms (NaN = not measured)."""
        lat = self.end_to_end()
        if devices is not None:
            lat = lat.sel({D.DEVICE: self._check_devices(devices)})
        return np.asarray(lat.transpose(D.DEVICE, D.ARCH).values, dtype=np.float64)

    def to_long(self, dropna: bool = True) -> pd.DataFrame:
        """Tidy table ``device, arch_index, [layer,] latency_ms`` (one row per value; repeats kept)."""
        lat = self._ds[D.LATENCY]
        df = lat.to_dataframe(name="latency_ms", dim_order=list(lat.dims)).reset_index()
        keep = ["device", "arch_index"] + ([D.LAYER] if self.has_layers else []) + ["latency_ms"]
        df = df.rename(columns={D.ARCH: "arch_index"})[keep]
        if dropna:
            df = df[np.isfinite(df["latency_ms"].to_numpy())].reset_index(drop=True)
        return df

    # -- checks ----------------------------------------------------------------------------------
    def validate(self) -> xr.Dataset:
        """Check the invariants of a latency Dataset; return it unchanged or raise a LatxferError."""
        ds = self._ds
        if D.LATENCY not in ds:
            raise ConfigError(f"not a latency Dataset: no {D.LATENCY!r} variable (has {list(ds.data_vars)})")
        lat = ds[D.LATENCY]
        if lat.dims[:2] != (D.DEVICE, D.ARCH):
            raise ConfigError(f"latency dims must start with ('device', 'arch'), got {lat.dims}")
        v = lat.values
        bad = np.isinf(v) | (v <= 0)
        if bad.any() and not self.has_layers:
            idx = np.argwhere(bad)[:5]
            where = [(self.devices[i[0]], int(self.archs[i[1]]), float(v[tuple(i)])) for i in idx]
            raise InvalidLatencyError(
                f"{int(bad.sum())} latency value(s) are infinite or <= 0, e.g. (device, arch, ms) {where}; "
                "latencies must be finite and > 0 ms (NaN marks 'not measured')"
            )
        if np.isinf(v).any():
            raise InvalidLatencyError("layer latencies must be finite (NaN marks 'not measured')")
        if not np.isfinite(v).any():
            raise EmptyDataError("the Dataset holds no measured latency (all NaN)")
        if len(np.unique(self.archs)) != len(self.archs):
            raise ConfigError("duplicate architecture indices in the 'arch' coordinate")
        return ds

    def sample_archs(self, device: str, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` distinct architectures measured on ``device`` (sorted), reproducibly from ``rng``."""
        pool = self.measured(device)
        if n > len(pool):
            raise InsufficientDataError(
                f"asked for {n} architectures of device {device!r} but only {len(pool)} are measured"
            )
        rng = np.random.default_rng(rng)
        return np.sort(rng.choice(pool, size=n, replace=False))
