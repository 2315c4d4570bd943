"""From a latency Dataset of source devices to what the graph needs: the space's encoding, the sources on
its architectures (sub-sampled), their scales, the factor basis and the likelihood's rows.

No PyMC here: :func:`prepare_sources` is plain numpy, so it is cheap to test and to reuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import InsufficientDataError, InvalidLatencyError, LatxferError
from latxfer.models.basis import (
    FactorBasis,
    build_basis,
    noise_scale,
    novelty_directions,
    scale_sources,
)

__all__ = ["SourceFit", "prepare_sources", "space_and_encoding"]


def space_and_encoding(sources: xr.Dataset, space, coding: str):
    """The search space of the sources, its architectures, their encoding and op-type counts.

    Parameters
    ----------
    sources : xarray.Dataset
        Latency Dataset (its ``space`` attribute names the space).
    space : SearchSpace or None
        Default: ``load_space(sources.attrs["space"])`` for a known space.
    coding : str
        The encoding (``model.coding``).

    Returns
    -------
    name : str
        The space's name.
    archs : numpy.ndarray
        Every architecture index of the space (int64, sorted).
    X : numpy.ndarray
        ``(A, n_features)`` encoding; ``(A, 0)`` for a space latxfer does not know (the model then has
        only its factors).
    counts : numpy.ndarray or None
        Op-type counts per architecture (None without a space).

    Raises
    ------
    LatxferError
        A known space (``nb201``, ``fbnet``, ``ofa``) whose architecture table cannot be loaded (no data
        directory, missing file): the same error class, saying which space and how to fix it.  It used to
        fall back silently to an empty encoding, which is a different model.
    """
    from latxfer.spaces import SPACES

    name = sources.attrs.get("space", "unknown")
    if space is None and name in SPACES:
        from latxfer.data.datasets import load_space

        try:
            space = load_space(name)
        except LatxferError as exc:
            raise type(exc)(
                f"the source Dataset is of search space {name!r}, whose architecture table latxfer could "
                f"not load: {exc}. Fitting without it would be a different model (no op encoding); set "
                f"LATXFER_DATA to the data directory or pass space=..."
            ) from None
    if space is not None:
        archs = space.enumerate()
        X = space.encode(archs, coding=coding)
        # every SearchSpace counts its op types (the novelty directions need them)
        return space.name, archs, X, np.asarray(space.op_counts(archs), dtype=float)
    return (name, np.asarray(sources[D.ARCH].values, np.int64), np.zeros((sources.sizes[D.ARCH], 0)),
            None)


@dataclass
class SourceFit:
    """What :func:`prepare_sources` returns.

    Attributes
    ----------
    space_name : str
        The search space.
    devices : list of str
        Source devices.
    basis : FactorBasis
        Factor basis over every architecture of the space.
    latency : numpy.ndarray
        ``(D, A)`` ms over ``basis.archs``; NaN = not measured or not used.
    scales : numpy.ndarray
        ``(D,)`` device scales (ms).
    fit_data : dict
        Keyword arguments of :func:`latxfer.models.graphs.build_graph` (the likelihood's rows).
    noise_power : float or None
        The architecture noise power used.
    noise_per_source : dict
        Per-source noise powers (``"auto"``), may be empty.
    """

    space_name: str
    devices: list[str]
    basis: FactorBasis
    latency: np.ndarray
    scales: np.ndarray
    fit_data: dict
    noise_power: float | None
    noise_per_source: dict


def _check_counts(cfg: dict, devices: list[str]) -> None:
    K = cfg["model"]["n_factors"]
    if len(devices) < 2 and cfg["model"]["variant"] == "hierarchical":
        raise InsufficientDataError(
            f"the hierarchical model needs at least 2 source devices to learn a population, got "
            f"{devices}; use the 'pooled' configuration for a single source"
        )
    if K > len(devices):
        raise InsufficientDataError(f"n_factors={K} needs at least {K} source devices, got {len(devices)}: {devices}")


def prepare_sources(cfg: dict, sources: xr.Dataset, space, rng: np.random.Generator) -> SourceFit:
    """Sources on the space's architectures, sub-sampled, scaled, with their basis and likelihood rows.

    Parameters
    ----------
    cfg : dict
        The model configuration.
    sources : xarray.Dataset
        Validated end-to-end latency Dataset (ms) of the source devices.
    space : SearchSpace or None
        See :func:`space_and_encoding`.
    rng : numpy.random.Generator
        Draws the sub-samples (``model.source_archs``, ``model.fit_archs``), in that order.

    Returns
    -------
    SourceFit
    """
    devices = sources.latx.devices
    _check_counts(cfg, devices)
    space_name, archs, X, counts = space_and_encoding(sources, space, cfg["model"]["coding"])
    Yds = sources.latx.latency_matrix()
    ds_archs = np.asarray(sources[D.ARCH].values, np.int64)
    pos = np.searchsorted(archs, ds_archs)
    if np.any(pos >= len(archs)) or np.any(archs[np.minimum(pos, len(archs) - 1)] != ds_archs):
        raise InvalidLatencyError("the source Dataset has architectures outside its search space")
    Y = np.full((len(devices), len(archs)), np.nan)
    Y[:, pos] = Yds
    n_src = cfg["model"]["source_archs"]
    if n_src:
        for d in range(len(devices)):
            meas = np.where(np.isfinite(Y[d]))[0]
            if len(meas) > n_src:
                drop = np.setdiff1d(meas, rng.choice(meas, n_src, replace=False))
                Y[d, drop] = np.nan
    scales = scale_sources(Y)
    Ys = Y / scales[:, None]
    basis = build_basis(Ys, X, archs, cfg["model"]["n_factors"])
    if counts is not None:
        basis.generic = novelty_directions(basis, counts)
    basis.noise, noise_power, noise_per_source = noise_scale(Ys, basis, cfg["model"]["noise_power"])
    # observations of the NUTS likelihood: a random subset of each device's measured archs
    n_fit = cfg["model"]["fit_archs"]
    dev_idx, arch_pos = [], []
    for d in range(len(devices)):
        meas = np.where(np.isfinite(Ys[d]))[0]
        if n_fit and len(meas) > n_fit:
            meas = np.sort(rng.choice(meas, n_fit, replace=False))
        dev_idx.append(np.full(len(meas), d))
        arch_pos.append(meas)
    dev_idx = np.concatenate(dev_idx)
    arch_pos = np.concatenate(arch_pos)
    fit_data = {
        "devices": devices, "dev_idx": dev_idx, "F_rows": basis.F[arch_pos],
        "Q_rows": basis.Q[arch_pos], "y_scaled": Ys[dev_idx, arch_pos],
        "log_scales": np.log(scales),
        "noise_rows": None if basis.noise is None else basis.noise[arch_pos],
    }
    return SourceFit(space_name, devices, basis, Y, scales, fit_data, noise_power, noise_per_source or {})
