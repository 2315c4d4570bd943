"""JAX builders of the ``mbv2`` and ``proxyless`` networks (:mod:`latxfer.spaces.mbv2`), for ``measure`` / ``export``.

The skeleton is the one the spaces' ``flops()`` / ``params()`` count: stem conv 3x3 stride 2 (3 -> 32) +
BN-ReLU6; MBConv1 3x3 (depthwise 3x3 + BN-ReLU6, 1x1 32 -> 16 + BN); 21 slots, each an MBConv block
(1x1 expansion to ``round(c_in * e)`` + BN-ReLU6, depthwise kxk with the slot's stride + BN-ReLU6, 1x1
projection + BN, identity shortcut when stride 1 and ``c_in == c_out``), absent (``mbv2``'s ``skip``) or the
identity (``proxyless``'s ``zero``); 1x1 conv to 1280 + BN-ReLU6, global pool, linear.  Built with the
layer kit of :mod:`latxfer.measure.layers`, so the parameter and MAC counts are read off the same way as
for the other spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from latxfer.errors import ConfigError
from latxfer.measure.layers import Network, bn, build, conv, global_pool, linear

__all__ = ["build_mbconv", "relu6"]


def relu6(x):
    """min(max(x, 0), 6) (MobileNetV2, ProxylessNAS)."""
    import jax.numpy as jnp

    return jnp.clip(x, 0.0, 6.0)


def build_mbconv(space, ops: Sequence[int], *, batch_size: int = 1, arch_index: int = -1,
                 seed: int = 0) -> Network:
    """The network of 21 op codes of ``space`` (an ``MBV2Space`` or ``ProxylessSpace``).

    Parameters
    ----------
    space : MBConvSpace
        Gives the skeleton (widths, strides, head, classes, resolution) and checks the ops.
    ops : sequence of int
        21 op codes (``space.op_names``).
    batch_size : int
        Leading dimension of the input.
    arch_index : int
        Recorded in the network (-1 for raw op codes).
    seed : int
        Seed of the random weights.

    Returns
    -------
    Network

    Raises
    ------
    UnknownArchitectureError
        If ``ops`` is not an architecture of the space (names the block and the value).
    """
    from latxfer.spaces.mbv2 import _EMPTY, EXPANDS, KERNELS

    code = space.ops_to_code(ops)  # validates (block and value named)
    ops = [space.op_names.index(t) for t in code.split("-")]
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    shapes = space.block_shapes()

    def forward(st, x):
        c0, c1 = space.stem_channels, space.first_block_channels
        x = relu6(bn(st, conv(st, x, c0, 3, 2)))
        x = relu6(bn(st, conv(st, x, c0, 3, groups=c0)))
        x = bn(st, conv(st, x, c1, 1))
        for (cin, cout, s, _), op in zip(shapes, ops, strict=True):
            if op == _EMPTY:  # skip: block absent; zero: identity on the residual path (stride 1, cin == cout)
                continue
            k, e = KERNELS[op // len(EXPANDS)], EXPANDS[op % len(EXPANDS)]
            mid = int(round(cin * e))
            y = relu6(bn(st, conv(st, x, mid, 1)))
            y = relu6(bn(st, conv(st, y, mid, k, s, groups=mid)))
            y = bn(st, conv(st, y, cout, 1))
            x = x + y if (s == 1 and cin == cout) else y
        x = relu6(bn(st, conv(st, x, space.head_channels, 1)))
        return linear(st, global_pool(x), space.n_classes)

    r = space.resolution
    return build(forward, (batch_size, r, r, 3), space=space.name, arch_index=arch_index, seed=seed)
