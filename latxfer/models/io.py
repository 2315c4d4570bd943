"""Saved models (temporary: the old format, moved)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from latxfer import dims as D
from latxfer.errors import ConfigError, ModelFileError, ModelVersionError
from latxfer.models.basis import FactorBasis
from latxfer.models.config import config_hash, load_config

MODEL_TYPE = "latxfer.LatencyModel"
MODEL_FORMAT_VERSION = "1"


def _package_version() -> str:
    from latxfer import __version__

    return __version__


def save_model(self, path, *, overwrite: bool = False) -> Path:
    """Save the fitted model as a zarr store (model type, version and config hash included)."""
    self._require_fit()
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; refusing to overwrite it (pass overwrite=True)")
    pop = xr.Dataset({k: (("sample",) + tuple(f"{k}_dim{i}" for i in range(v.ndim - 1)), v)
                      for k, v in self.population.items()})
    basis = xr.Dataset(
        {"F": ((D.ARCH, "factor"), self.basis.F), "Q": ((D.ARCH, "feature"), self.basis.Q),
         "observed": (D.ARCH, self.basis.observed), "explained": ("factor", self.basis.explained)},
        coords={D.ARCH: self.basis.archs},
    )
    if self.basis.generic is not None:
        basis["generic"] = (("coef", "op_type"), self.basis.generic)
    if self.basis.noise is not None:
        basis["noise"] = (D.ARCH, self.basis.noise)
    src = xr.Dataset({"scale_ms": (D.DEVICE, self.source_scales),
                      "latency_ms": ((D.DEVICE, D.ARCH), self.source_latency)},
                     coords={D.DEVICE: np.asarray(self.source_devices, dtype=str),
                             D.ARCH: self.basis.archs})
    attrs = {
        "latxfer_model_type": MODEL_TYPE, "latxfer_format_version": MODEL_FORMAT_VERSION,
        "latxfer_version": _package_version(), "config": json.dumps(self.config),
        "config_hash": config_hash(self.config), "space": self.space_name,
        "diagnostics": json.dumps(self.diagnostics, default=float),
        "fit_info": json.dumps(self.fit_info, default=float),
    }
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), "/population": pop, "/basis": basis,
                                  "/sources": src})
    tmp = path.with_name(path.name + ".tmp-latxfer")
    import shutil

    if tmp.exists():
        shutil.rmtree(tmp)
    tree.to_zarr(tmp, mode="w", consolidated=False)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    tmp.rename(path)
    return path

def load_model(path, *, config=None, cls=None):
    """Load a model saved by :meth:`save`.

    Raises
    ------
    ModelFileError
        Not a latxfer model (or unreadable).
    ModelVersionError
        Saved by another format version of latxfer, or with a configuration other than ``config``
        (when given), or whose stored configuration does not match its hash.
    """
    path = Path(path)
    if not path.exists():
        from latxfer.errors import DataFileNotFoundError

        raise DataFileNotFoundError(f"{path}: no such model file")
    try:
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
            f"{MODEL_FORMAT_VERSION!r}: re-fit the model"
        )
    cfg = json.loads(attrs["config"])
    if config_hash(cfg) != attrs.get("config_hash"):
        raise ModelVersionError(f"{path}: stored configuration does not match its hash (file edited?)")
    if config is not None:
        want = load_config(config)
        if config_hash(want) != attrs["config_hash"]:
            raise ModelVersionError(
                f"{path} was fitted with configuration {cfg['model']['name']!r} "
                f"(hash {attrs['config_hash']}), not the requested {want['model']['name']!r} "
                f"(hash {config_hash(want)})"
            )
    if cls is None:
        from latxfer.models.latency_model import LatencyModel as cls
    m = cls(cfg)
    pop = tree["population"].to_dataset().load()
    m.population = {k: np.asarray(v.values) for k, v in pop.data_vars.items()}
    b = tree["basis"].to_dataset().load()
    m.basis = FactorBasis(np.asarray(b[D.ARCH].values, np.int64), np.asarray(b["F"].values),
                          np.asarray(b["Q"].values), np.asarray(b["observed"].values),
                          np.asarray(b["explained"].values),
                          np.asarray(b["generic"].values) if "generic" in b else None,
                          np.asarray(b["noise"].values) if "noise" in b else None)
    s = tree["sources"].to_dataset().load()
    m.source_devices = [str(d) for d in s[D.DEVICE].values]
    m.source_scales = np.asarray(s["scale_ms"].values)
    m.source_latency = np.asarray(s["latency_ms"].values)
    m.space_name = attrs.get("space", "unknown")
    m.diagnostics = json.loads(attrs.get("diagnostics", "{}"))
    m.fit_info = json.loads(attrs.get("fit_info", "{}"))
    return m


