"""Export built networks to ONNX with ``jax2onnx`` (the ``latxfer[onnx]`` extra).

``jax2onnx.to_onnx`` traces the network with its weights closed over, so they become ONNX initializers:
the exported file's parameter count (:func:`onnx_params`) is checkable against the space's ``params()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["to_onnx", "save_onnx", "onnx_params"]


def to_onnx(net):
    """The network as an ``onnx.ModelProto`` (input ``x`` of ``net.input_shape``, float32).

    Raises
    ------
    MissingBackendError
        If ``jax2onnx`` or ``onnx`` is not installed (names the extra).
    """
    from latxfer.measure.backends import _require

    jax2onnx = _require("jax2onnx")
    _require("onnx")
    import jax

    shape = jax.ShapeDtypeStruct(net.input_shape, np.float32)
    return jax2onnx.to_onnx(net.closed(), [shape], model_name=f"{net.space}_{net.arch_index}")


def save_onnx(net, path: str | Path) -> Path:
    """Export ``net`` and write it to ``path`` (the caller checks the path with ``check_output``)."""
    import onnx

    path = Path(path)
    onnx.save(to_onnx(net), str(path))
    return path


def onnx_params(model) -> int:
    """Scalar weights of an ONNX model: its floating-point initializers of more than one value.

    Integer initializers are shapes and axes; one-value floats are the constants of the activations
    (h_swish's 3 and 1/6, ReLU's 0).
    """
    import onnx.numpy_helper as nh

    total = 0
    for init in model.graph.initializer:
        arr = nh.to_array(init)
        if np.issubdtype(arr.dtype, np.floating) and arr.size > 1:
            total += int(arr.size)
    return total
