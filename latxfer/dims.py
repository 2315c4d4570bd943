"""The one place where latxfer spells its dimension and variable names.

Every module imports these constants instead of writing the strings, so a dim is named once.
"""

DEVICE = "device"
ARCH = "arch"
LAYER = "layer"
OP = "op"
REPEAT = "repeat"
CHAIN = "chain"
DRAW = "draw"
SAMPLE = "sample"

LATENCY = "latency"  #: latency in milliseconds; NaN = not measured
N_OBS = "n_obs"  #: number of raw measurements reduced into one latency value
INTERCEPT = "intercept_ms"  #: per-device end-to-end intercept of layer-wise datasets (ms)
OPS = "ops"  #: op code per (arch, position) of the search space

__all__ = [
    "DEVICE", "ARCH", "LAYER", "OP", "REPEAT", "CHAIN", "DRAW", "SAMPLE",
    "LATENCY", "N_OBS", "INTERCEPT", "OPS",
]
