"""Saved models: an ArviZ-native ``xarray.DataTree`` in a zarr store, checked on the way back in.

Layout of a store written by :func:`save_model` (format :data:`MODEL_FORMAT_VERSION`)::

    /               attrs: model type, format version, latxfer version, config (JSON) and its hash,
                    space, fit_info (JSON), checksums (one SHA-256 per array)
    /posterior      the sampler's posterior with its real dims: chain, draw, device, factor, feature, ...
    /sample_stats   the sampler's statistics (diverging, energy, step size, ...)
    /diagnostics    convergence diagnostics as data: max_rhat, min_ess, divergences, converged, failing
    /basis          factor basis over the space's architectures (arch, factor, feature)
    /sources        source devices' scales and latency tables (device, arch), ms

So ArviZ reads a saved model directly: ``az.summary(xr.open_datatree(path, engine="zarr"))`` and
``az.plot_trace(...)`` work on it.  :func:`load_model` verifies every array against its checksum: a
missing, truncated, unreadable or altered part is a :class:`~latxfer.errors.ModelFileError` naming the
part (never a decompression traceback, never silent NaN from a missing chunk); a file of another format
version is a :class:`~latxfer.errors.ModelVersionError` that says to re-fit.  Writing goes through
:func:`latxfer.outputs.write_store`: ``overwrite=True`` replaces only a store latxfer wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import (
    ConfigError,
    DataFileNotFoundError,
    LatxferError,
    ModelFileError,
    ModelVersionError,
)
from latxfer.models.basis import FactorBasis
from latxfer.models.config import config_hash, load_config

if TYPE_CHECKING:  # pragma: no cover
    from latxfer.models.latency_model import LatencyModel

__all__ = ["MODEL_FORMAT_VERSION", "MODEL_TYPE", "load_model", "save_model"]

MODEL_TYPE = "latxfer.LatencyModel"
#: "1": population stacked into one ``sample`` dim, diagnostics as JSON text (refused: re-fit).
#: "2": the posterior DataTree with chain / draw and real dims, sample_stats, diagnostics as data, checksums.
MODEL_FORMAT_VERSION = "2"

#: Groups every saved model has; ``sample_stats`` only for NUTS fits.
_GROUPS = ("posterior", "diagnostics", "basis", "sources")


def _package_version() -> str:
    from latxfer import __version__

    return __version__


def _digest(var: xr.Variable) -> dict:
    """SHA-256 of one array's dims, dtype kind, shape and values (strings compared as text)."""
    values = np.asarray(var.values)
    h = hashlib.sha256(json.dumps([list(map(str, var.dims)), list(values.shape)]).encode())
    if values.dtype.kind in "OUST":
        h.update(json.dumps([str(v) for v in values.ravel().tolist()]).encode())
    else:
        h.update(values.dtype.str.encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return {"sha256": h.hexdigest(), "dims": [str(d) for d in var.dims], "shape": list(values.shape)}


def _diagnostics_dataset(diag: dict) -> xr.Dataset:
    """The diagnostics dict as data variables (a list of str along a ``{key}_item`` dim: a variable never
    shares its dim's name)."""
    data = {}
    for k, v in diag.items():
        if isinstance(v, list):
            data[k] = (f"{k}_item", np.asarray([str(x) for x in v], dtype=str) if v else np.zeros(0, dtype="<U1"))
        else:
            data[k] = ((), v)
    return xr.Dataset(data)


def _diagnostics_dict(ds: xr.Dataset) -> dict:
    out = {}
    for k, v in ds.data_vars.items():
        a = np.asarray(v.values)
        if a.ndim:
            out[k] = [str(x) for x in a.tolist()]
        elif a.dtype.kind == "b":
            out[k] = bool(a)
        elif a.dtype.kind in "iu":
            out[k] = int(a)
        elif a.dtype.kind == "f":
            out[k] = float(a)
        else:
            out[k] = str(a)
    return out


def _text_objects(ds: xr.Dataset) -> xr.Dataset:
    """Object arrays (nutpie's ``divergence_message``: None or text) as text, "" for None: zarr would
    write an all-None object array as float NaN."""
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "O":
            text = np.asarray(["" if v is None else str(v) for v in var.values.ravel()], dtype=str)
            ds[name] = (var.dims, text.reshape(var.shape), var.attrs)
    return ds


def _tree(m: LatencyModel) -> xr.DataTree:
    b = m.basis
    basis = xr.Dataset(
        {"F": ((D.ARCH, "factor"), b.F), "Q": ((D.ARCH, "feature"), b.Q),
         "observed": (D.ARCH, b.observed), "explained": ("factor", b.explained)},
        coords={D.ARCH: b.archs},
    )
    if b.generic is not None:
        basis["generic"] = (("coef", "op_type"), b.generic)
    if b.noise is not None:
        basis["noise"] = (D.ARCH, b.noise)
    src = xr.Dataset({"scale_ms": (D.DEVICE, m.source_scales),
                      "latency_ms": ((D.DEVICE, D.ARCH), m.source_latency)},
                     coords={D.DEVICE: np.asarray(m.source_devices, dtype=str), D.ARCH: b.archs})
    groups = {"posterior": m.posterior_tree["posterior"].to_dataset(),
              "diagnostics": _diagnostics_dataset(m.diagnostics), "basis": basis, "sources": src}
    if "sample_stats" in m.posterior_tree.children:
        groups["sample_stats"] = _text_objects(m.posterior_tree["sample_stats"].to_dataset())
    checksums = {f"/{g}/{name}": _digest(var) for g, ds in groups.items() for name, var in ds.variables.items()}
    attrs = {
        "latxfer_model_type": MODEL_TYPE, "latxfer_format_version": MODEL_FORMAT_VERSION,
        "latxfer_version": _package_version(), "config": json.dumps(m.config),
        "config_hash": config_hash(m.config), "space": m.space_name,
        "fit_info": json.dumps(m.fit_info, default=float), "checksums": checksums,
    }
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **{f"/{g}": ds for g, ds in groups.items()}})


def save_model(m: LatencyModel, path, *, overwrite: bool = False) -> Path:
    """Save a fitted model as a zarr store (layout in the module docstring).

    Parameters
    ----------
    m : LatencyModel
        A fitted model (with its ``posterior_tree``).
    path : str or os.PathLike
        The store (a directory).
    overwrite : bool
        Replace an existing store latxfer wrote (never any other directory or file).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputPathError
        ``path`` exists (and not ``overwrite``, or it is not a store latxfer wrote), or its directory
        does not exist.
    """
    from latxfer.outputs import write_store

    if m.posterior_tree is None or "posterior" not in m.posterior_tree.children:
        raise ModelFileError("this model has no posterior tree to save (fit it, or load a format-2 model)")
    tree = _tree(m)
    return write_store(path, lambda tmp: tree.to_zarr(tmp, mode="w", consolidated=False), kind="model",
                       overwrite=overwrite, flag="path")


@contextlib.contextmanager
def _part(path: Path, what: str):
    """Turn any failure while reading ``what`` into a ModelFileError naming it."""
    try:
        yield
    except LatxferError:
        raise
    except Exception as exc:  # noqa: BLE001 - zarr / codecs / numpy raise many kinds on a damaged store
        msg = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ModelFileError(f"{path}: {what} cannot be read: the model file is damaged "
                             f"({type(exc).__name__}{': ' + msg if msg else ''}); re-save or re-fit it") from None


def _read_root(path: Path) -> tuple[xr.DataTree, dict]:
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr: "Object at .latxfer-store is not recognized ..."
            tree = xr.open_datatree(path, engine="zarr", consolidated=False)
        attrs = dict(tree.attrs)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{path} is not a latxfer model: cannot be read as zarr "
                             f"({type(exc).__name__})") from None
    if attrs.get("latxfer_model_type") != MODEL_TYPE:
        raise ModelFileError(f"{path} is not a latxfer model (no '{MODEL_TYPE}' marker)")
    if attrs.get("latxfer_format_version") != MODEL_FORMAT_VERSION:
        raise ModelVersionError(
            f"{path} was saved in model format {attrs.get('latxfer_format_version')!r} by latxfer "
            f"{attrs.get('latxfer_version')!r}; this latxfer {_package_version()} reads format "
            f"{MODEL_FORMAT_VERSION!r}: re-fit the model (latxfer fit ... --out {path.name})"
        )
    return tree, attrs


def _verified_groups(path: Path, tree: xr.DataTree, checksums) -> dict[str, xr.Dataset]:
    """Every group of the store read into memory, each array checked against its recorded checksum."""
    if not isinstance(checksums, dict) or not checksums:
        raise ModelFileError(f"{path}: the model has no array checksums (damaged root metadata)")
    by_group: dict[str, dict] = {}
    for key, rec in checksums.items():
        parts = str(key).strip("/").split("/")
        if len(parts) != 2 or not isinstance(rec, dict) or not {"sha256", "dims", "shape"} <= set(rec):
            raise ModelFileError(f"{path}: damaged checksum record {key!r}")
        by_group.setdefault(parts[0], {})[parts[1]] = rec
    missing = [g for g in _GROUPS if g not in by_group]
    if missing:
        raise ModelFileError(f"{path}: the checksums list no group {missing} (damaged root metadata)")
    out = {}
    for g, recs in by_group.items():
        if g not in tree.children:
            raise ModelFileError(f"{path}: the part /{g} is missing")
        with _part(path, f"/{g}"):
            ds = tree[g].to_dataset()
        unexpected = sorted(set(map(str, ds.variables)) - set(recs))
        if unexpected:
            raise ModelFileError(f"{path}: /{g} holds arrays that were not saved with the model: {unexpected}")
        for name, rec in recs.items():
            if name not in ds.variables:
                raise ModelFileError(f"{path}: the array /{g}/{name} is missing")
            var = ds.variables[name]
            if [str(d) for d in var.dims] != rec["dims"] or list(var.shape) != rec["shape"]:
                raise ModelFileError(f"{path}: /{g}/{name} has dims {dict(var.sizes)}, saved as "
                                     f"{dict(zip(rec['dims'], rec['shape'], strict=False))} (altered metadata)")
            with _part(path, f"/{g}/{name}"):
                var.load()
                ok = _digest(var)["sha256"] == rec["sha256"]
            if not ok:
                raise ModelFileError(f"{path}: /{g}/{name} differs from what was saved (checksum mismatch: a "
                                     "chunk is missing, truncated or altered); re-save or re-fit the model")
        out[g] = ds
    return out


def load_model(path, *, config=None, cls=None) -> LatencyModel:
    """Load a model saved by :func:`save_model`, verifying every array.

    Parameters
    ----------
    path : str or os.PathLike
        The store.
    config : str, path or dict, optional
        Refuse the model unless it was fitted with this configuration.
    cls : type, optional
        The model class (default :class:`~latxfer.models.latency_model.LatencyModel`).

    Returns
    -------
    LatencyModel
        With ``population``, ``basis``, the sources, ``diagnostics``, ``fit_info`` and ``posterior_tree``
        (``/posterior`` and ``/sample_stats``).

    Raises
    ------
    DataFileNotFoundError
        No such path.
    ModelFileError
        Not a latxfer model, or a part of it missing, unreadable or altered (the message names it).
    ModelVersionError
        Saved by another format version of latxfer (re-fit), or with a configuration other than
        ``config`` (when given), or whose stored configuration does not match its hash.
    """
    from latxfer.models.sampling import extract_population

    path = Path(path)
    tree, attrs = _read_root(path)
    with _part(path, "the stored configuration"):
        cfg = json.loads(attrs["config"])
        fit_info = json.loads(attrs.get("fit_info", "{}"))
        stored_hash = attrs["config_hash"]
    if config_hash(cfg) != stored_hash:
        raise ModelVersionError(f"{path}: stored configuration does not match its hash (file edited?)")
    if config is not None:
        want = load_config(config)
        if config_hash(want) != stored_hash:
            raise ModelVersionError(
                f"{path} was fitted with configuration {cfg['model']['name']!r} (hash {stored_hash}), "
                f"not the requested {want['model']['name']!r} (hash {config_hash(want)})"
            )
    groups = _verified_groups(path, tree, attrs.get("checksums"))
    if cls is None:
        from latxfer.models.latency_model import LatencyModel as cls
    try:
        m = cls(cfg)
    except ConfigError as exc:
        raise ModelVersionError(f"{path} was saved with a configuration this latxfer {_package_version()} does "
                                f"not accept ({exc}): re-fit the model") from None
    with _part(path, "the model's arrays"):
        post = {k: groups[k] for k in ("posterior", "sample_stats") if k in groups}
        m.posterior_tree = xr.DataTree.from_dict(post)
        m.population = extract_population(m.posterior_tree)
        b, s = groups["basis"], groups["sources"]
        m.basis = FactorBasis(np.asarray(b[D.ARCH].values, np.int64), np.asarray(b["F"].values),
                              np.asarray(b["Q"].values), np.asarray(b["observed"].values),
                              np.asarray(b["explained"].values),
                              np.asarray(b["generic"].values) if "generic" in b else None,
                              np.asarray(b["noise"].values) if "noise" in b else None)
        m.source_devices = [str(d) for d in s[D.DEVICE].values]
        m.source_scales = np.asarray(s["scale_ms"].values)
        m.source_latency = np.asarray(s["latency_ms"].values)
        m.diagnostics = _diagnostics_dict(groups["diagnostics"])
    m.space_name = str(attrs.get("space", "unknown"))
    m.fit_info = fit_info
    return m
