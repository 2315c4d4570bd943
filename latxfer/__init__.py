"""latxfer: cross-device latency transfer for hardware-aware neural architecture search.

The public API in one screen::

    import latxfer
    ds = latxfer.load_dataset("nb201-help")          # xarray Dataset, latency (device, arch) in ms
    mine = latxfer.read_csv("my_device.csv", space="nb201")
    src, tgt = ds.latx.split(target="pixel2", sources=["pixel3", "1080ti_1"])

See README.md and docs/ for the tour.
"""

from latxfer import errors
from latxfer.data import (
    DATASETS,
    Split,
    from_long,
    get_split,
    list_datasets,
    load_dataset,
    load_space,
    load_splits,
    open_dataset,
    read_csv,
    save_dataset,
    validate_csv,
)

__version__ = "0.1.0"

__all__ = [
    "DATASETS", "Split", "__version__", "errors", "from_long", "get_split", "list_datasets",
    "load_dataset", "load_space", "load_splits", "open_dataset", "read_csv", "save_dataset",
    "validate_csv",
]
