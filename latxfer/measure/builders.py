"""JAX builders of the three search spaces' networks, from each space's own encoding.

- NB201: the CIFAR skeleton of NAS-Bench-201 (``TinyNetwork`` of D-X-Y/NAS-Bench-201): stem conv 3x3
  (3 -> 16) + BN; three stages of 5 cells at 16 / 32 / 64 channels, separated by residual reduction blocks
  (ReLU-conv3x3 stride 2-BN, ReLU-conv3x3-BN, shortcut 2x2 avg-pool + conv 1x1); BN-ReLU, global pool,
  linear.  A cell sums, at each node, the ops of its incoming edges in ``arch_str`` order: ``none`` adds
  nothing (a node whose every input is ``none`` is a zero tensor, as NB201's ``Zero`` op gives, and the
  ops fed by it are still computed), ``skip_connect`` the identity, ``nor_conv_kxk`` ReLU-conv-BN,
  ``avg_pool_3x3`` a 3x3 average pool (stride 1, padding 1, ``count_include_pad=False``).
- FBNet: HW-NAS-Bench's ``FBNet_Infer`` on the ImageNet 224 skeleton (``FBNetSpace(dataset="imagenet")``):
  stem conv 3x3 stride 2 + BN-ReLU; 22 layers of shapes :meth:`FBNetSpace.layer_shapes`, each an inverted
  residual block (1x1 expansion with ``g`` groups, channel shuffle when ``g = 2``, depthwise kxk with the
  layer's stride, 1x1 projection with ``g`` groups; BN after each, ReLU after the first two; residual when
  shapes match) or ``skip`` (identity, else conv 1x1 + BN-ReLU); head conv 1x1 + BN-ReLU, pool, linear.
- OFA: ``ofa_mbv3_d234_e346_k357_w1.0`` subnets: first conv 3x3 stride 2 + BN-h_swish; a fixed first
  block (depthwise 3x3 + BN-ReLU, 1x1 + BN, identity shortcut); five stages (widths 24, 40, 80, 112, 160,
  ReLU in the first two, h_swish after, SE in stages 2, 4, 5) of ``d`` blocks: 1x1 expansion to
  ``make_divisible(c_in * e, 8)`` + BN-act, depthwise kxk + BN-act, SE (reduce conv with bias, ReLU, expand
  conv with bias, h_sigmoid), 1x1 projection + BN, residual when shapes match; final 1x1 160 -> 960 +
  BN-h_swish, pool, 1x1 960 -> 1280 + h_swish (no BN, no bias), linear; input ``r x r``.

Weights are random with a fixed seed: latency does not depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from latxfer.errors import ConfigError
from latxfer.measure.layers import (
    Network,
    avg_pool,
    bn,
    build,
    channel_shuffle,
    conv,
    global_pool,
    hsigmoid,
    hswish,
    linear,
    relu,
)

__all__ = ["build_network", "build_nb201", "build_fbnet", "build_ofa", "input_resolution"]

_NB201_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


# ---------------------------------------------------------------------------------------------- NB201
def _relu_conv_bn(st, x, c, k, stride=1):
    return bn(st, conv(st, relu(x), c, k, stride))


def _nb201_cell(st, x, ops: Sequence[int]):
    import jax.numpy as jnp

    c = x.shape[-1]
    nodes = [x]
    for node in (1, 2, 3):
        terms = []
        for e, (dst, src) in enumerate(_NB201_EDGES):
            if dst != node or ops[e] == 0:
                continue
            h = nodes[src]
            if ops[e] == 1:
                terms.append(h)
            elif ops[e] == 2:
                terms.append(_relu_conv_bn(st, h, c, 1))
            elif ops[e] == 3:
                terms.append(_relu_conv_bn(st, h, c, 3))
            else:
                terms.append(avg_pool(st, h, 3, 1, 1, count_include_pad=False))
        nodes.append(sum(terms[1:], terms[0]) if terms else jnp.zeros_like(x))
    return nodes[3]


def build_nb201(ops: Sequence[int], *, batch_size: int = 1, resolution: int = 32, n_classes: int = 10,
                channels: Sequence[int] = (16, 32, 64), cells_per_stage: int = 5, arch_index: int = -1,
                seed: int = 0) -> Network:
    """The NB201 CIFAR network of one cell (6 op codes, ``NB201Space`` codes).

    Returns
    -------
    Network
    """
    ops = tuple(int(o) for o in ops)
    if len(ops) != 6 or any(o < 0 or o > 4 for o in ops):
        raise ConfigError(f"nb201: expected 6 op codes in 0..4, got {ops}")

    def forward(st, x):
        x = bn(st, conv(st, x, channels[0], 3))
        for s, c in enumerate(channels):
            if s:  # residual reduction block
                y = _relu_conv_bn(st, _relu_conv_bn(st, x, c, 3, 2), c, 3)
                x = y + conv(st, avg_pool(st, x, 2, 2, 0), c, 1)
            for _ in range(cells_per_stage):
                x = _nb201_cell(st, x, ops)
        x = global_pool(relu(bn(st, x)))
        return linear(st, x, n_classes)

    return build(forward, (batch_size, resolution, resolution, 3), space="nb201", arch_index=arch_index,
                 seed=seed)


# ---------------------------------------------------------------------------------------------- FBNet
def build_fbnet(space, ops: Sequence[int], *, batch_size: int = 1, arch_index: int = -1,
                seed: int = 0) -> Network:
    """The FBNet network of 22 op codes (``fbnet/ops.csv``) on ``space``'s macro setting.

    Parameters
    ----------
    space : FBNetSpace
        Gives the layer shapes, stem stride, head width, classes and resolution.
    ops : sequence of int
        22 op codes.

    Returns
    -------
    Network
    """
    from latxfer.spaces.fbnet import _OP_SPEC

    ops = tuple(int(o) for o in ops)
    shapes = space.layer_shapes()
    if len(ops) != len(shapes) or any(o < 0 or o >= len(_OP_SPEC) for o in ops):
        raise ConfigError(f"fbnet: expected {len(shapes)} op codes in 0..{len(_OP_SPEC) - 1}, got {ops}")

    def forward(st, x):
        x = relu(bn(st, conv(st, x, space.stem_channels, 3, space._stem_stride)))
        for (cin, cout, s, _), op in zip(shapes, ops, strict=True):
            spec = _OP_SPEC[op]
            if spec is None:
                if cin != cout or s != 1:
                    x = relu(bn(st, conv(st, x, cout, 1, s)))
                continue
            k, e, g = spec
            y = relu(bn(st, conv(st, x, cin * e, 1, groups=g)))
            if g > 1:
                y = channel_shuffle(y, g)
            y = relu(bn(st, conv(st, y, cin * e, k, s, groups=cin * e)))
            y = bn(st, conv(st, y, cout, 1, groups=g))
            x = x + y if (cin == cout and s == 1) else y
        x = relu(bn(st, conv(st, x, space.head_channels, 1)))
        return linear(st, global_pool(x), space.n_classes)

    r = space.resolution
    return build(forward, (batch_size, r, r, 3), space="fbnet", arch_index=arch_index, seed=seed)


# ------------------------------------------------------------------------------------------------ OFA
def _se(st, x):
    from latxfer.spaces.ofa import _make_divisible

    mid = x.shape[-1]
    red = _make_divisible(mid // 4, 8)
    s = global_pool(x, keepdims=True)
    s = relu(conv(st, s, red, 1, bias=True))
    s = hsigmoid(conv(st, s, mid, 1, bias=True))
    return x * s


def build_ofa(ks: Sequence[int], e: Sequence[int], d: Sequence[int], r: int, *, batch_size: int = 1,
              n_classes: int = 1000, arch_index: int = -1, seed: int = 0) -> Network:
    """The OFA-MobileNetV3 subnet of kernel sizes, expand ratios (20 slots each), depths (5) and resolution.

    Returns
    -------
    Network
    """
    from latxfer.spaces.ofa import _MAX_DEPTH, _STAGES, _make_divisible

    ks, e, d = [int(v) for v in ks], [int(v) for v in e], [int(v) for v in d]
    if len(ks) != 20 or len(e) != 20 or len(d) != 5:
        raise ConfigError(f"ofa: expected 20 kernel sizes, 20 expand ratios and 5 depths, got "
                          f"{len(ks)}, {len(e)}, {len(d)}")

    def forward(st, x):
        x = hswish(bn(st, conv(st, x, 16, 3, 2)))
        y = relu(bn(st, conv(st, x, 16, 3, groups=16)))
        x = x + bn(st, conv(st, y, 16, 1))
        for s, (width, stride, se) in enumerate(_STAGES):
            act = relu if s < 2 else hswish
            for j in range(d[s]):
                b = s * _MAX_DEPTH + j
                st_j = stride if j == 0 else 1
                cin = x.shape[-1]
                mid = _make_divisible(round(cin * e[b]), 8)
                y = act(bn(st, conv(st, x, mid, 1)))
                y = act(bn(st, conv(st, y, mid, ks[b], st_j, groups=mid)))
                if se:
                    y = _se(st, y)
                y = bn(st, conv(st, y, width, 1))
                x = x + y if (st_j == 1 and cin == width) else y
        x = hswish(bn(st, conv(st, x, 960, 1)))
        x = hswish(conv(st, global_pool(x, keepdims=True), 1280, 1))
        return linear(st, x.reshape(x.shape[0], -1), n_classes)

    return build(forward, (batch_size, int(r), int(r), 3), space="ofa", arch_index=arch_index, seed=seed)


# ------------------------------------------------------------------------------------------- dispatch
def input_resolution(space, arch_index: int) -> int:
    """Input height = width of an architecture (OFA's is per architecture)."""
    if space.name == "ofa":
        return int(space.resolution(arch_index)[0])
    return int(space.resolution)


def build_network(space, arch_index: int, *, batch_size: int = 1, seed: int = 0) -> Network:
    """Build architecture ``arch_index`` of ``space`` (a space with its architecture table).

    Parameters
    ----------
    space : SearchSpace
        ``NB201Space``, ``FBNetSpace`` (use ``dataset="imagenet"`` for the 224 skeleton) or ``OFASpace``.
    arch_index : int
        Index in the space's table.
    batch_size : int
        Leading dimension of the input.
    seed : int
        Seed of the random weights.

    Returns
    -------
    Network

    Raises
    ------
    UnknownArchitectureError
        If the index is outside the space.
    """
    idx = int(space.validate_indices(arch_index)[0])
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    if space.name == "nb201":
        return build_nb201(space.ops(idx)[0], batch_size=batch_size, resolution=space.resolution,
                           n_classes=space.n_classes, channels=space.stage_channels,
                           cells_per_stage=space.cells_per_stage, arch_index=idx, seed=seed)
    if space.name == "fbnet":
        return build_fbnet(space, space.ops(idx)[0], batch_size=batch_size, arch_index=idx, seed=seed)
    if space.name == "ofa":
        t = space.arch_table
        return build_ofa(t["ks"][idx], t["e"][idx], t["d"][idx], int(t["r"][idx]), batch_size=batch_size,
                         n_classes=space.n_classes, arch_index=idx, seed=seed)
    if space.name in ("mbv2", "proxyless"):  # issue 31: builders in latxfer/measure/build_mbv2.py
        from latxfer.measure.build_mbv2 import build_mbconv

        return build_mbconv(space, space.ops(idx)[0], batch_size=batch_size, arch_index=idx, seed=seed)
    raise ConfigError(f"no network builder for search space {space.name!r}; expected nb201, fbnet, ofa, "
                      "mbv2 or proxyless")
