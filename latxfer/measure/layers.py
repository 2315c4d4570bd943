"""A minimal functional layer kit on :mod:`jax.lax` (NHWC activations, HWIO kernels).

Why not Flax or Equinox: the three skeletons need nine layer kinds, the parameter count must be read off
exactly (no hidden buffers), and ``jax2onnx`` exports plain ``lax`` graphs most reliably; a 150-line kit
keeps the built network, its parameter pytree and its multiply-accumulate count in one place.

A network is a function ``forward(st, x)`` that asks the store ``st`` for each parameter in a fixed order.
:func:`build` runs it once under :func:`jax.eval_shape` (no compute) with an initialising store, which
draws the weights with a seeded NumPy generator and counts multiply-accumulates from the traced shapes;
the returned :class:`Network` then applies the same function with a store that reads the weights back.
Inference-time batch norm is a per-channel scale and shift (2 parameters per channel; the running
statistics fold into them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Network", "build"]


class _Store:
    """Hands out parameters in call order; counts MACs (per sample) from the shapes it sees."""

    def __init__(self, params: dict[str, Any] | None, rng: np.random.Generator | None = None):
        self.init = params is None
        self.params: dict[str, Any] = {} if params is None else params
        self.rng = rng
        self.macs = 0
        self._n = 0

    def param(self, shape: tuple[int, ...], kind: str, fan_in: int = 1):
        name = f"p{self._n:04d}_{kind}"
        self._n += 1
        if not self.init:
            return self.params[name]
        rng = self.rng
        if kind == "scale":  # < 1 keeps sums of branches and residuals from growing stage by stage
            value = 0.5 + 0.05 * rng.standard_normal(shape)
        elif kind in ("shift", "bias"):
            value = 0.1 * rng.standard_normal(shape)
        else:  # He-normal weights: activations stay O(1) through deep stacks
            value = rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))
        self.params[name] = value.astype(np.float32)
        return self.params[name]


@dataclass
class Network:
    """A built network: ``apply(params, x)`` with its weights and its costs.

    Attributes
    ----------
    space : str
        Search-space name.
    arch_index : int
        Architecture index in the space's table (-1 when built from raw op codes).
    apply : callable
        ``apply(params, x) -> logits``, pure and jittable.
    params : dict of str to numpy.ndarray
        The weights (float32).
    input_shape : tuple of int
        ``(batch, height, width, 3)``.
    macs : int
        Multiply-accumulates per sample, counted from the traced shapes (convolutions, linear layers and
        windowed average pools, the convention of the spaces' ``flops()``).
    """

    space: str
    arch_index: int
    apply: Callable
    params: dict[str, np.ndarray]
    input_shape: tuple[int, ...]
    macs: int
    output_shape: tuple[int, ...] = field(default=())

    @property
    def n_params(self) -> int:
        """Number of scalar weights."""
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    def example_input(self, seed: int = 0) -> np.ndarray:
        """A fixed random input of :attr:`input_shape` (float32)."""
        return np.random.default_rng(seed).standard_normal(self.input_shape).astype(np.float32)

    def closed(self) -> Callable:
        """``f(x)`` with the weights closed over as constants (what ONNX export takes)."""
        import jax.numpy as jnp

        params = {k: jnp.asarray(v) for k, v in self.params.items()}
        return lambda x: self.apply(params, x)


def build(forward: Callable, input_shape: tuple[int, ...], *, space: str, arch_index: int,
          seed: int = 0) -> Network:
    """Initialise ``forward(st, x)`` on ``input_shape`` (no compute) and return the :class:`Network`."""
    import jax
    import jax.numpy as jnp

    st = _Store(None, np.random.default_rng(seed))
    out = jax.eval_shape(lambda x: forward(st, x), jax.ShapeDtypeStruct(input_shape, jnp.float32))
    params = st.params

    def apply(p, x):
        return forward(_Store(p), x)

    return Network(space=space, arch_index=int(arch_index), apply=apply, params=params,
                   input_shape=tuple(input_shape), macs=int(st.macs), output_shape=tuple(out.shape))


# --------------------------------------------------------------------------------------------- layers
def conv(st: _Store, x, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False):
    """k x k convolution with PyTorch's symmetric padding ``k // 2`` (output ``ceil(h / stride)``)."""
    from jax import lax

    cin = x.shape[-1]
    w = st.param((k, k, cin // groups, cout), "conv", fan_in=k * k * cin // groups)
    p = k // 2
    y = lax.conv_general_dilated(x, w, (stride, stride), [(p, p), (p, p)],
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
    st.macs += k * k * (cin // groups) * cout * y.shape[1] * y.shape[2]
    if bias:
        y = y + st.param((cout,), "bias")
    return y


def bn(st: _Store, x):
    """Inference batch norm: per-channel scale and shift."""
    c = x.shape[-1]
    return x * st.param((c,), "scale") + st.param((c,), "shift")


def relu(x):
    """max(x, 0)."""
    import jax.numpy as jnp

    return jnp.maximum(x, 0.0)


def hsigmoid(x):
    """relu6(x + 3) / 6 (MobileNetV3)."""
    import jax.numpy as jnp

    return jnp.clip(x + 3.0, 0.0, 6.0) * (1.0 / 6.0)


def hswish(x):
    """x * hsigmoid(x) (MobileNetV3)."""
    return x * hsigmoid(x)


def avg_pool(st: _Store, x, k: int, stride: int, pad: int, count_include_pad: bool = True):
    """k x k average pool with padding ``pad`` (``0`` or ``k // 2`` for stride 1).

    ``count_include_pad=False`` divides by the in-image part of each window (PyTorch's option, NB201's
    cell pool).  Uses ``flax.nnx.avg_pool`` when Flax is installed (the ``onnx`` extra brings it), which
    ``jax2onnx`` exports as one ONNX ``AveragePool``; otherwise the same computation with
    :func:`jax.lax.reduce_window` (which ``jax2onnx`` would export as a convolution).
    """
    from jax import lax

    if pad not in (0, k // 2) or (pad and stride != 1):
        raise ValueError(f"avg_pool: unsupported padding {pad} for k={k}, stride={stride}")
    ho = (x.shape[1] + 2 * pad - k) // stride + 1
    wo = (x.shape[2] + 2 * pad - k) // stride + 1
    st.macs += k * k * x.shape[-1] * ho * wo
    try:
        from flax import nnx
    except ImportError:
        nnx = None
    if nnx is not None:
        return nnx.avg_pool(x, window_shape=(k, k), strides=(stride, stride),
                            padding="SAME" if pad else "VALID", count_include_pad=count_include_pad)
    y = lax.reduce_window(x, 0.0, lax.add, (1, k, k, 1), (1, stride, stride, 1),
                          [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    if count_include_pad or pad == 0:
        return y * (1.0 / (k * k))

    def counts(n, m):
        starts = np.arange(m) * stride - pad
        return np.minimum(starts + k, n) - np.maximum(starts, 0)

    div = np.outer(counts(x.shape[1], y.shape[1]), counts(x.shape[2], y.shape[2]))
    return y * (1.0 / div.astype(np.float32))[None, :, :, None]


def global_pool(x, keepdims: bool = False):
    """Mean over height and width."""
    return x.mean(axis=(1, 2), keepdims=keepdims)


def linear(st: _Store, x, cout: int):
    """Dense layer with bias on ``(batch, features)``."""
    cin = x.shape[-1]
    w = st.param((cin, cout), "dense", fan_in=cin)
    st.macs += cin * cout
    return x @ w + st.param((cout,), "bias")


def channel_shuffle(x, groups: int):
    """ShuffleNet channel shuffle (FBNet's group-2 blocks)."""
    n, h, w, c = x.shape
    return x.reshape(n, h, w, groups, c // groups).transpose(0, 1, 2, 4, 3).reshape(n, h, w, c)
