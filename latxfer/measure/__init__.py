"""Build, time and export the networks latxfer asks a user to measure (``latxfer measure`` / ``export``).

- :func:`build_network`: a space's architecture as a JAX network (``latxfer.measure.builders``).
- :func:`measure`: time architectures with a backend (``jax`` or ``onnxruntime``) and append the tidy CSV
  ``device,arch_index,latency_ms`` row by row, with ``FILE.csv.json`` metadata.
- :func:`export_archs`: one ONNX file per architecture and a ``manifest.csv``.
"""

from __future__ import annotations

from latxfer.measure.builders import build_network
from latxfer.measure.export_dir import export_archs
from latxfer.measure.layers import Network
from latxfer.measure.run import MeasureResult, load_measure_space, measure, parse_archs

__all__ = ["Network", "MeasureResult", "build_network", "export_archs", "load_measure_space", "measure",
           "parse_archs"]
