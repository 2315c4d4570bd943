"""Named datasets: the real latency tables of HELP, HW-NAS-Bench / OneProxy, and NB201 accuracies.

A data directory holds the converted files (layout of ``shared/data``: ``nb201/latency_help.csv.gz``,
``nb201/archs.csv``, ...).  It is found, in order, from the ``data_dir`` argument, the ``LATXFER_DATA``
environment variable, or the fetch cache (see :mod:`latxfer.data.fetch`, which downloads and converts the
public files on first use unless ``LATXFER_OFFLINE=1``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from latxfer import dims as D
from latxfer.data.tensor import from_long
from latxfer.errors import ConfigError, DataDirError, UnknownDatasetError

__all__ = [
    "DatasetSpec",
    "DATASETS",
    "list_datasets",
    "load_dataset",
    "load_splits",
    "get_split",
    "Split",
    "resolve_data_dir",
    "load_space",
    "ENV_DATA",
    "all_sources",
]

ENV_DATA = "LATXFER_DATA"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes
    ----------
    name : str
        Registry name (``latxfer.load_dataset(name)``).
    space : str
        Search space of the architecture indices.
    files : tuple of str
        Files of the data directory it is read from.
    description : str
        One line for ``latxfer data list``.
    shape : str
        Expected size, e.g. ``"27 x 15,625"``.
    citation : str
        Who measured / published it (licence in the data directory's ``licenses/``).
    kind : str
        ``"latency"``, ``"layer-latency"``, ``"accuracy"`` or ``"splits"``.
    """

    name: str
    space: str
    files: tuple[str, ...]
    description: str
    shape: str
    citation: str
    kind: str = "latency"
    extra: dict = field(default_factory=dict)


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec(
            "nb201-help", "nb201", ("nb201/latency_help.csv.gz", "nb201/archs.csv"),
            "NAS-Bench-201 latency on 27 devices (GPUs x batch sizes, CPUs, phones, Raspi4, Eyeriss, FPGA)",
            "27 x 15,625", "HELP, Lee et al., NeurIPS 2021 (MIT)",
        ),
        DatasetSpec(
            "nb201-hwnasbench", "nb201", ("nb201/latency_hwnasbench.csv.gz", "nb201/archs.csv"),
            "HW-NAS-Bench devices on the 1,999 NB201 architectures of the OneProxy paper (hwnb_*)",
            "6 x 1,999", "OneProxy, Lu et al., SIGMETRICS 2022 (MIT), from HW-NAS-Bench",
        ),
        DatasetSpec(
            "nb201-accuracy", "nb201", ("nb201/accuracy.csv",),
            "NAS-Bench-201 trained accuracies (CIFAR-10 test/val, CIFAR-100, ImageNet16-120), percent",
            "15,625", "NAS-Landscapes (MIT), NASLib (Apache-2.0)", kind="accuracy",
        ),
        DatasetSpec(
            "fbnet-help", "fbnet", ("fbnet/latency_help.csv.gz", "fbnet/archs.csv"),
            "FBNet (22 layers x 9 ops) latency of 5,000 sampled architectures on 27 devices",
            "27 x 5,000", "HELP, Lee et al., NeurIPS 2021 (MIT)",
        ),
        DatasetSpec(
            "fbnet-layers", "fbnet",
            ("fbnet/layer_latency_hwnasbench.csv.gz", "fbnet/layer_intercept_hwnasbench.csv", "fbnet/archs.csv"),
            "FBNet per-layer latency (relative to each layer's skip) of the HW-NAS-Bench devices, with "
            "the per-device intercept (end-to-end = sum of layers + intercept)",
            "4 x 5,000 x 22", "derived from HELP's FBNet latencies (MIT)", kind="layer-latency",
        ),
        DatasetSpec(
            "ofa-help", "ofa", ("ofa/latency_help.csv.gz", "ofa/archs.csv"),
            "Once-for-All MobileNetV3 subnets on 12 GPU x batch-size devices",
            "12 x 5,000", "HELP, Lee et al., NeurIPS 2021 (MIT)",
        ),
        DatasetSpec(
            "splits", "", ("splits.json",),
            "published source/validation/target device splits and the numbers published on them",
            "-", "HELP, OneProxy, NASFLAT papers", kind="splits",
        ),
    ]
}


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    return list(DATASETS)


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        import difflib

        close = difflib.get_close_matches(name, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}.{hint}"
        )
    return DATASETS[name]


def _how_to_set() -> str:
    return (
        f"point latxfer at a data directory: pass data_dir=... (CLI: --data-dir DIR) or set the "
        f"{ENV_DATA} environment variable, e.g. `export {ENV_DATA}=/path/to/shared/data`; a data directory "
        "holds nb201/, fbnet/, ofa/ and splits.json (see docs/guide/data.md)"
    )


def resolve_data_dir(data_dir: str | os.PathLike | None = None, *, need: str | None = None) -> Path:
    """Find the data directory: ``data_dir`` argument, else ``$LATXFER_DATA``.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory.
    need : str, optional
        Dataset name; when no directory is configured and the dataset can be fetched from its public
        source (and ``LATXFER_OFFLINE`` is not set), it is fetched into the cache.

    Raises
    ------
    DataDirError
        Nothing configured (the message says how to set it) or the directory does not exist.
    """
    origin = "data_dir argument"
    if data_dir is None and os.environ.get(ENV_DATA):
        data_dir, origin = os.environ[ENV_DATA], f"{ENV_DATA} environment variable"
    if data_dir is None:
        if need is not None:
            fetched = _auto_fetch(need)
            if fetched is not None:
                return fetched
        raise DataDirError(f"no data directory configured: {_how_to_set()}")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataDirError(f"data directory {str(path)!r} (from the {origin}) not found; {_how_to_set()}")
    return path


def _auto_fetch(name: str) -> Path | None:
    """Fetch ``name`` into the cache on first use; None when it cannot be fetched or offline."""
    try:
        from latxfer.data import fetch as _fetch
    except ImportError:  # pragma: no cover
        return None
    if _fetch.is_offline() or name not in getattr(_fetch, "FETCHABLE", ()):
        cached = _fetch.cached_data_dir(name) if hasattr(_fetch, "cached_data_dir") else None
        return cached
    return _fetch.fetch(name)


def _file(data_dir: Path, rel: str, name: str) -> Path:
    p = data_dir / rel
    if not p.exists():
        raise DataDirError(
            f"dataset {name!r} needs {rel!r} but {str(p)!r} does not exist; is {str(data_dir)!r} a latxfer "
            f"data directory? ({_how_to_set()})"
        )
    return p


@lru_cache(maxsize=8)
def _archs_table(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path)


def _arch_vars(space: str, archs_csv: Path, archs: np.ndarray) -> dict:
    """Encoding variables over ``arch`` read from the space's ``archs.csv``."""
    tab = _archs_table(str(archs_csv), archs_csv.stat().st_mtime).set_index("arch_id")
    tab = tab.loc[archs]
    if space == "nb201":
        ops = tab[[f"op_e{i}" for i in range(6)]].to_numpy(np.int8)
        return {
            D.OPS: ((D.ARCH, "edge"), ops, {"long_name": "op code per cell edge (0 none, 1 skip_connect, "
                                             "2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3)"}),
            "arch_str": (D.ARCH, tab["arch_str"].to_numpy(dtype=str)),
        }
    if space == "fbnet":
        ops = tab[[f"op_l{i}" for i in range(22)]].to_numpy(np.int8)
        return {D.OPS: ((D.ARCH, D.LAYER), ops, {"long_name": "op code per searchable layer (fbnet/ops.csv)"})}
    if space == "ofa":
        ks = np.array([json.loads(x) for x in tab["ks"]], dtype=np.int8)
        e = np.array([json.loads(x) for x in tab["e"]], dtype=np.int8)
        d = np.array([json.loads(x) for x in tab["d"]], dtype=np.int8)
        return {
            "kernel_size": ((D.ARCH, "block"), ks),
            "expand_ratio": ((D.ARCH, "block"), e),
            "depth": ((D.ARCH, "stage"), d),
            "resolution": (D.ARCH, tab["r"].to_numpy(np.int16)),
        }
    raise ConfigError(f"no architecture table reader for space {space!r}")  # pragma: no cover


def _read_latency(path: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"device": str, "arch_index": np.int64, "latency_ms": np.float64}, engine="c"
    )


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> xr.Dataset:
    """Load a registered dataset as a latency Dataset.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets` (``"splits"`` is read with :func:`load_splits`).
    data_dir : path-like, optional
        Data directory; default ``$LATXFER_DATA`` (or the fetch cache, see module docstring).

    Returns
    -------
    xarray.Dataset
        ``latency`` in ms over ``(device, arch)`` (``fbnet-layers``: ``(device, arch, layer)`` plus
        ``intercept_ms`` over ``device``) with architecture encodings over ``arch``.  ``nb201-accuracy``
        returns accuracy variables (percent) over ``arch``.
    """
    spec = _spec(name)
    if spec.kind == "splits":
        raise ConfigError("'splits' is not a latency table: use latxfer.load_splits() / get_split()")
    root = resolve_data_dir(data_dir, need=name)
    paths = [_file(root, f, name) for f in spec.files]
    prov = f"{spec.citation}; read from {root}"
    if spec.kind == "accuracy":
        acc = pd.read_csv(paths[0]).sort_values("arch_index")
        ds = xr.Dataset(
            {c: (D.ARCH, acc[c].to_numpy(float), {"units": "%"}) for c in acc.columns if c != "arch_index"},
            coords={D.ARCH: acc["arch_index"].to_numpy(np.int64)},
            attrs={"space": spec.space, "name": name, "provenance": prov, "units": "%"},
        )
        return ds
    df = _read_latency(paths[0], name)
    if spec.kind == "layer-latency":
        df = pd.read_csv(paths[0], dtype={"device": str, "arch_index": np.int64, "layer": np.int64,
                                          "op": np.int64, "latency_ms": np.float64})
        archs = np.unique(df["arch_index"].to_numpy())
        ds = from_long(df, space=spec.space, archs=archs, name=name, provenance=prov, source="hwnasbench")
        inter = pd.read_csv(paths[1]).set_index("device")["intercept_ms"]
        ds[D.INTERCEPT] = (D.DEVICE, inter.loc[ds[D.DEVICE].values].to_numpy(float), {"units": "ms"})
        ds = ds.assign(_arch_vars(spec.space, paths[2], archs))
        ds.attrs["layer_note"] = (
            "per-layer cost relative to that layer's 'skip' op; end-to-end = sum over layers + intercept_ms"
        )
        return ds
    if spec.space == "nb201" and name == "nb201-help":
        archs = np.arange(15625)
    elif spec.space in ("fbnet", "ofa"):
        archs = np.arange(5000)
    else:
        archs = None
    source = "hwnasbench" if "hwnasbench" in name else "help"
    ds = from_long(df, space=spec.space, archs=archs, name=name, provenance=prov, source=source)
    ds = ds.assign(_arch_vars(spec.space, paths[-1], ds[D.ARCH].values))
    return ds


def load_space(name: str, data_dir: str | os.PathLike | None = None):
    """The search space ``name`` with its architecture table read from the data directory.

    Returns
    -------
    latxfer.spaces.SearchSpace
    """
    from latxfer.spaces import SPACES, get_space

    if name not in SPACES:
        return get_space(name)  # raises UnknownSpaceError listing the known ones
    if name in ("mbv2", "proxyless"):  # issue 31: their table is latxfer's fixed sample, not a data file
        return get_space(name)
    root = resolve_data_dir(data_dir)
    rel = {"nb201": "nb201/archs.csv", "fbnet": "fbnet/archs.csv", "ofa": "ofa/archs.csv"}[name]
    return _load_space_cached(name, str(_file(root, rel, name)))


@lru_cache(maxsize=8)
def _load_space_cached(name: str, path: str):
    from latxfer.spaces import SPACES

    return SPACES[name].from_archs_csv(path)


@dataclass(frozen=True)
class Split:
    """A published device split.

    Attributes
    ----------
    space, name : str
        Where it lives in ``splits.json`` (e.g. ``"nb201"``, ``"help"``).
    source, validation, target : list of str
        Devices; sources may be used fully, targets only through n sampled measurements, validation
        devices are for choosing settings.
    proxy : str or None
        The single proxy device of OneProxy-style splits.
    archs_per_source_device : int or None
        How many architectures per source device the publishers used.
    published : dict
        The numbers published on the split.
    """

    space: str
    name: str
    source: list[str]
    validation: list[str]
    target: list[str]
    proxy: str | None
    archs_per_source_device: int | None
    published: dict


def load_splits(data_dir: str | os.PathLike | None = None) -> dict:
    """The raw content of ``splits.json`` (published splits and numbers)."""
    root = resolve_data_dir(data_dir)
    path = _file(root, "splits.json", "splits")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataDirError(f"{path}: not valid JSON ({exc})") from None


def get_split(space: str, name: str, data_dir: str | os.PathLike | None = None) -> Split:
    """One published split, e.g. ``get_split("nb201", "help")`` or ``get_split("fbnet", "nasflat_3")``."""
    sj = load_splits(data_dir)
    if space not in sj or space.startswith("_"):
        raise UnknownDatasetError(
            f"no splits for space {space!r}; known: {[k for k in sj if not k.startswith('_')]}"
        )
    entries = {k: v for k, v in sj[space].items() if not k.startswith("_")}
    names = []
    for k, v in entries.items():
        if k == "nasflat_tasks":
            names += [f"nasflat_{t}" for t in v if not t.startswith("_")]
        else:
            names.append(k)
    if name not in names:
        raise UnknownDatasetError(f"unknown split {name!r} for space {space!r}; known splits: {names}")
    if name.startswith("nasflat_"):
        t = entries["nasflat_tasks"][name.split("_", 1)[1]]
        return Split(space, name, list(t["source"]), [], list(t["target"]), None, None,
                     {"task_srcc_nasflat": t["published_task_srcc_nasflat"], "target_measurements": 20})
    e = entries[name]
    source = list(e.get("source", [e["proxy"]] if "proxy" in e else []))
    return Split(space, name, source, list(e.get("validation", [])), list(e["target"]), e.get("proxy"),
                 e.get("source_archs_per_device"), dict(e.get("published", {})))


#: ``--sources all`` leaves out a device that measured fewer than this share of the architectures measured
#: by the dataset's best-covered device (a source's table shapes the shared factors).
ALL_SOURCES_MIN_COVERAGE = 0.5


def all_sources(ds: xr.Dataset, *, min_coverage: float = ALL_SOURCES_MIN_COVERAGE) -> tuple[list[str], dict]:
    """Every device of ``ds`` that measured at least ``min_coverage`` x the best-covered device's number of
    architectures, and ``{device: n_measured}`` of those left out.

    Raises
    ------
    InsufficientDataError
        When fewer than two devices remain (a population needs at least two sources).
    """
    from latxfer.errors import InsufficientDataError

    counts = ds["latency"].notnull().sum("arch").values
    names = [str(d) for d in ds[D.DEVICE].values]
    keep = counts >= min_coverage * counts.max()
    left = {d: int(c) for d, c, k in zip(names, counts, keep, strict=True) if not k}
    chosen = [d for d, k in zip(names, keep, strict=True) if k]
    if len(chosen) < 2:
        raise InsufficientDataError(
            f"--sources all: only {chosen} measured at least {min_coverage:.0%} of the {int(counts.max())} "
            f"architectures of the best-covered device; a population needs at least two sources (measured "
            f"per device: {dict(zip(names, counts.tolist(), strict=True))})")
    return chosen, left


def split_devices(spec: str, space: str, data_dir=None) -> list[str]:
    """Resolve a CLI ``--sources`` value: a split name from splits.json or a comma list of devices
    (``all``, every device of the dataset, is resolved by the caller with :func:`all_sources`)."""
    if "," not in spec:
        try:
            return get_split(space, spec, data_dir).source
        except UnknownDatasetError:
            pass
    return [s.strip() for s in spec.split(",") if s.strip()]


def load_any(spec: str, *, space: str | None = None, data_dir=None) -> xr.Dataset:
    """What a CLI ``--dataset`` names: a registered dataset, a tidy CSV of your own, or a saved Dataset.

    ``*.csv`` / ``*.csv.gz`` are read with :func:`~latxfer.data.read_csv` (``space`` checks every
    ``arch_index`` against the search space; default: the file's ``space`` column); a ``*.zarr`` /
    ``*.nc`` path is opened (a missing one is a :class:`~latxfer.errors.DataFileNotFoundError`) with :func:`~latxfer.data.open_dataset`; anything else is a
    registered name (:func:`load_dataset`).
    """
    if spec not in DATASETS:
        from latxfer.data.csvio import read_csv
        from latxfer.data.io import open_dataset

        path = Path(spec)
        if spec.endswith((".csv", ".gz")):
            return read_csv(path, space=space)
        if path.suffix in (".zarr", ".nc"):
            ds = open_dataset(path)  # a missing path: DataFileNotFoundError naming it
            if space is not None and ds.attrs.get("space") != space:
                raise ConfigError(f"{path}: a dataset of space {ds.attrs.get('space')!r}, not {space!r}")
            return ds
    return load_dataset(spec, data_dir)
