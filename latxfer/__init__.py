"""latxfer: cross-device latency transfer for hardware-aware neural architecture search.

The public API in one screen::

    import latxfer
    ds = latxfer.load_dataset("nb201-help")          # xarray Dataset, latency (device, arch) in ms
    mine = latxfer.read_csv("my_device.csv", space="nb201")
    src, tgt = ds.latx.split(target="pixel2", sources=["pixel3", "1080ti_1"])

See README.md and docs/ for the tour.
"""

from latxfer import errors

__version__ = "0.1.0"

#: The data functions most scripts start with, imported on first use (PEP 562) so that ``import latxfer``
#: and ``latxfer --help`` do not pay for pandas, scipy and xarray.
_DATA_NAMES = ("DATASETS", "Split", "from_long", "get_split", "list_datasets", "load_dataset", "load_space",
               "load_splits", "open_dataset", "read_csv", "save_dataset", "validate_csv")

__all__ = [
    "DATASETS", "Split", "__version__", "errors", "from_long", "get_split", "list_datasets",
    "load_dataset", "load_space", "load_splits", "open_dataset", "read_csv", "save_dataset",
    "validate_csv",
]


def __getattr__(name: str):
    if name in _DATA_NAMES:
        import latxfer.data as _data

        value = getattr(_data, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'latxfer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_DATA_NAMES))
