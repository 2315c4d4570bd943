"""The device-by-device rank-correlation matrix, with intervals; FLOPs / params as pseudo-devices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import ConfigError, InsufficientDataError
from latxfer.monotonicity._core import (
    _MIN_COMMON,
    _boot_group,
    _check_pair,
    _fisher,
    _percentile,
    _z,
    kendall,
    srcc,
)

__all__ = ["OTHER", "PSEUDO_DEVICES", "monotonicity_matrix", "pseudo_device_table"]

#: Second dimension of a device-by-device matrix (the first is ``device``).
OTHER = "other_device"
#: Pseudo-devices computed from the search space (analytic cost in millions, not milliseconds).
PSEUDO_DEVICES = ("flops", "params")


# ------------------------------------------------------------------------------ pseudo-devices
def pseudo_device_table(space, archs: np.ndarray, which: Iterable[str] = PSEUDO_DEVICES) -> dict[str, np.ndarray]:
    """FLOPs / parameter counts (millions) of ``archs`` as pseudo-device rows, ``{name: values}``."""
    out = {}
    for p in which:
        if p not in PSEUDO_DEVICES:
            raise ConfigError(f"unknown pseudo-device {p!r}; expected any of {list(PSEUDO_DEVICES)}")
        out[p] = np.asarray(getattr(space, p)(archs), dtype=np.float64)
    return out


def _resolve_space(ds: xr.Dataset, space):
    if space is not None:
        return space
    from latxfer.data.datasets import load_space

    return load_space(ds.latx.space)


# ---------------------------------------------------------------------------------------- matrix
def _check_common(fin: np.ndarray, names: list[str]) -> np.ndarray:
    """Architectures measured by both devices of each pair; a pair with fewer than 3 raises."""
    n_common = fin.astype(np.int64) @ fin.astype(np.int64).T
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if n_common[i, j] < _MIN_COMMON:
                raise InsufficientDataError(
                    f"devices {names[i]!r} and {names[j]!r} share {int(n_common[i, j])} measured "
                    f"architecture(s); a rank correlation needs at least {_MIN_COMMON}"
                )
    return n_common


def _point_matrices(M: np.ndarray, fin: np.ndarray, names: list[str], interval: float) -> dict[str, np.ndarray]:
    """SRCC and Kendall of every pair over the architectures both measured, with Fisher-z intervals."""
    d = len(names)
    out = {k: np.eye(d) for k in ("srcc", "srcc_lower", "srcc_upper", "kendall", "kendall_lower", "kendall_upper")}
    for i in range(d):
        for j in range(i + 1, d):
            ok = fin[i] & fin[j]
            x, y = _check_pair(M[i, ok], M[j, ok], (names[i], names[j]))
            r, t, n = srcc(x, y), kendall(x, y), int(ok.sum())
            rl, rh = _fisher(r, n, interval)
            tl, th = _fisher(t, n, interval, "kendall")
            for k, v in (("srcc", r), ("srcc_lower", rl), ("srcc_upper", rh), ("kendall", t),
                         ("kendall_lower", tl), ("kendall_upper", th)):
                out[k][i, j] = out[k][j, i] = v
    return out


def _bootstrap_intervals(out: dict, M: np.ndarray, fin: np.ndarray, n_boot: int, seed: int,
                         interval: float) -> list[float]:
    """Replace the SRCC intervals in ``out`` by bootstrap ones; return each pair's degenerate share.

    Devices with the same measured set form a cluster; each pair of clusters shares one vectorised
    bootstrap over the architectures both clusters measured.
    """
    degenerate = []
    rng = np.random.default_rng(seed)
    _, cluster = np.unique(fin, axis=0, return_inverse=True)
    cluster = np.asarray(cluster).ravel()
    ids = list(dict.fromkeys(cluster.tolist()))
    for a_i, ca in enumerate(ids):
        for cb in ids[a_i:]:
            members = np.flatnonzero((cluster == ca) | (cluster == cb))
            if members.size < 2:
                continue
            common = fin[members].all(axis=0)
            reps = _boot_group(M[np.ix_(members, common)], n_boot, rng)
            lo, hi = _percentile(reps, interval)
            for u, i in enumerate(members):
                for v, j in enumerate(members):
                    if i < j and ({cluster[i], cluster[j]} == {ca, cb}):
                        out["srcc_lower"][i, j] = out["srcc_lower"][j, i] = lo[u, v]
                        out["srcc_upper"][i, j] = out["srcc_upper"][j, i] = hi[u, v]
                        degenerate.append(float(np.isnan(reps[:, u, v]).mean()))
    return degenerate


def monotonicity_matrix(
    ds: xr.Dataset,
    devices: Sequence[str] | None = None,
    *,
    pseudo: Iterable[str] = (),
    space=None,
    interval: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> xr.Dataset:
    """SRCC and Kendall matrices between devices, with intervals.

    Parameters
    ----------
    ds : xarray.Dataset
        A latency Dataset (ms); layer-wise datasets are summed to end-to-end latency.
    devices : sequence of str, optional
        Devices (default: all).  Unknown names raise :class:`~latxfer.errors.UnknownDeviceError` listing
        the known ones.
    pseudo : iterable of {"flops", "params"}
        Pseudo-devices appended after the devices (analytic cost of every architecture of ``ds``).
    space : SearchSpace, optional
        For the pseudo-devices; default ``latxfer.load_space(ds.attrs["space"])``.
    interval : float
        Probability of the intervals.
    n_boot : int
        Bootstrap resamples for the SRCC interval (0: Fisher-z intervals instead).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    xarray.Dataset
        Over ``(device, other_device)``: ``srcc``, ``srcc_lower``, ``srcc_upper``, ``kendall``,
        ``kendall_lower``, ``kendall_upper``, ``n_common`` (architectures both measured).  The diagonal is
        1.  Attributes give ``interval``, ``n_boot``, ``seed`` and the interval methods.

    Raises
    ------
    InsufficientDataError
        A pair shares fewer than 3 measured architectures (the pair is named).
    UndefinedCorrelationError
        A device is constant over the architectures it shares with another.
    """
    _z(interval)
    pseudo = list(pseudo)
    devices = ds.latx.devices if devices is None else [devices] if isinstance(devices, str) else list(devices)
    M = ds.latx.latency_matrix(devices)  # checks the names
    names = list(devices)
    if pseudo:
        extra = pseudo_device_table(_resolve_space(ds, space), ds.latx.archs, pseudo)
        M = np.vstack([M] + [extra[p][None, :] for p in pseudo])
        names += pseudo
    if len(set(names)) != len(names):
        raise ConfigError(f"device names must be unique, got {names}")
    fin = np.isfinite(M)
    n_common = _check_common(fin, names)
    out = _point_matrices(M, fin, names, interval)
    degenerate = _bootstrap_intervals(out, M, fin, n_boot, seed, interval) if n_boot else []
    coords = {D.DEVICE: names, OTHER: names}
    dv = {k: ((D.DEVICE, OTHER), v) for k, v in out.items()}
    dv["n_common"] = ((D.DEVICE, OTHER), n_common)
    return xr.Dataset(
        dv,
        coords=coords,
        attrs={
            "interval": interval, "n_boot": n_boot, "seed": seed,
            "srcc_interval_method": "percentile bootstrap over architectures (ties re-ranked)" if n_boot
            else "Fisher z, Bonett-Wright variance",
            "kendall_interval_method": "Fisher z, Fieller variance 0.437/(n-4)",
            "pseudo_devices": ",".join(pseudo), "dataset": str(ds.attrs.get("name", "")),
            "degenerate_share": max(degenerate, default=0.0),
        },
    )


