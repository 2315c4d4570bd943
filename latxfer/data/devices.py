"""Metadata of the devices found in the public latency datasets.

Device names follow HELP's convention: GPUs carry their batch size as a suffix (``1080ti_32``), the
HW-NAS-Bench copies in ``nb201-hwnasbench`` are prefixed ``hwnb_``.  Metadata become coordinates along
the ``device`` dim of a latency Dataset: ``device_kind``, ``batch_size``, ``simulated``, ``device_source``.
Devices that latxfer does not know (a user's own) get kind ``"unknown"`` and ``batch_size = -1`` unless
the user supplies metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DeviceInfo", "device_info", "DEVICE_KINDS"]

#: Allowed values of the ``device_kind`` coordinate.
DEVICE_KINDS = ("gpu", "cpu", "mobile", "edge_cpu", "edge_gpu", "edge_tpu", "asic", "fpga", "unknown")


@dataclass(frozen=True)
class DeviceInfo:
    """What latxfer knows about one device.

    Attributes
    ----------
    kind : str
        One of :data:`DEVICE_KINDS`.
    batch_size : int
        Inference batch size of the measurement, ``-1`` when unknown.
    simulated : bool
        True when latencies come from a simulator / analytic estimate rather than a measurement
        (HW-NAS-Bench's Eyeriss and FPGA): such latencies are exactly additive over operators.
    source : str
        Short name of the benchmark the measurements come from.
    """

    kind: str
    batch_size: int
    simulated: bool
    source: str


_GPU = re.compile(r"^(1080ti|2080ti|titan_rtx|titanx|titanxp|titan_xp|v100)_(\d+)$")
_FIXED = {
    "gold_6226": ("cpu", 1, False),
    "gold_6240": ("cpu", 1, False),
    "silver_4114": ("cpu", 1, False),
    "silver_4210r": ("cpu", 1, False),
    "pixel2": ("mobile", 1, False),
    "pixel3": ("mobile", 1, False),
    "essential_ph_1": ("mobile", 1, False),
    "samsung_a50": ("mobile", 1, False),
    "samsung_s7": ("mobile", 1, False),
    "raspi4": ("edge_cpu", 1, False),
    "eyeriss": ("asic", 1, True),
    "fpga": ("fpga", 1, True),
    "edgegpu": ("edge_gpu", 1, False),
    "edgetpu": ("edge_tpu", 1, False),
}


def device_info(name: str, source: str = "user") -> DeviceInfo:
    """Return the metadata latxfer knows for device ``name``.

    Parameters
    ----------
    name : str
        Device name as it appears in the data (e.g. ``"titan_rtx_256"``, ``"hwnb_fpga"``).
    source : str
        Benchmark the data come from; stored as the ``device_source`` coordinate.

    Returns
    -------
    DeviceInfo
        Kind ``"unknown"`` and batch size ``-1`` for devices latxfer has never seen.
    """
    base = name[5:] if name.startswith("hwnb_") else name
    m = _GPU.match(base)
    if m:
        return DeviceInfo("gpu", int(m.group(2)), False, source)
    if base in _FIXED:
        kind, bs, sim = _FIXED[base]
        return DeviceInfo(kind, bs, sim, source)
    return DeviceInfo("unknown", -1, False, source)
