"""Latency data: the latency Dataset, CSV reading/validation, named datasets, persistence, fetching."""

from latxfer.data.csvio import Problem, read_csv, validate_csv
from latxfer.data.datasets import (
    DATASETS,
    Split,
    get_split,
    list_datasets,
    load_dataset,
    load_space,
    load_splits,
    resolve_data_dir,
)
from latxfer.data.devices import DeviceInfo, device_info
from latxfer.data.io import open_dataset, save_dataset
from latxfer.data.plausibility import check_plausible, find_implausible
from latxfer.data.tensor import REDUCTIONS, LatxAccessor, from_long

__all__ = [
    "DATASETS", "DeviceInfo", "LatxAccessor", "Problem", "REDUCTIONS", "Split", "check_plausible", "device_info",
    "find_implausible",
    "from_long", "get_split", "list_datasets", "load_dataset", "load_space", "load_splits",
    "open_dataset", "read_csv", "resolve_data_dir", "save_dataset", "validate_csv",
]
