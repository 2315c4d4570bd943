"""The FBNet search space as used by HW-NAS-Bench and HELP (Wu et al., CVPR 2019).

22 searchable layers, each one of 9 blocks (codes of the shared ``fbnet/ops.csv``): inverted
residual blocks ``k{3,5}_e{1,3,6}`` (kernel size, expansion ratio), two group-2 variants
``k{3,5}_e1_g2`` and ``skip``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from latxfer.errors import ConfigError, UnknownArchitectureError
from latxfer.spaces.base import Factor, SearchSpace, int_columns, read_table

__all__ = ["FBNetSpace"]

_OPS: tuple[str, ...] = (
    "k3_e1",
    "k3_e1_g2",
    "k3_e3",
    "k3_e6",
    "k5_e1",
    "k5_e1_g2",
    "k5_e3",
    "k5_e6",
    "skip",
)
#: (kernel, expansion, groups) of each op code; None for skip
_OP_SPEC: tuple[tuple[int, int, int] | None, ...] = (
    (3, 1, 1),
    (3, 1, 2),
    (3, 3, 1),
    (3, 6, 1),
    (5, 1, 1),
    (5, 1, 2),
    (5, 3, 1),
    (5, 6, 1),
    None,
)
_SKIP = 8
_N_LAYERS = 22
#: output channels and number of layers of the 7 stages
_CHANNELS: tuple[int, ...] = (16, 24, 32, 64, 112, 184, 352)
_LAYERS: tuple[int, ...] = (1, 4, 4, 4, 4, 4, 1)
#: HW-NAS-Bench's two macro settings (``fbnet_get_metrics`` of its API)
DATASETS: dict[str, dict[str, Any]] = {
    "cifar100": {
        "resolution": 32,
        "stem_stride": 1,
        "strides": (1, 1, 2, 2, 1, 2, 1),
        "head_channels": 1504,
        "n_classes": 100,
    },
    "imagenet": {
        "resolution": 224,
        "stem_stride": 2,
        "strides": (1, 2, 2, 2, 1, 2, 1),
        "head_channels": 1984,
        "n_classes": 1000,
    },
}


class FBNetSpace(SearchSpace):
    """FBNet: 22 layers x 9 ops (9**22 architectures; the shared table indexes 5,000).

    Parameters
    ----------
    arch_table : array-like of int, shape (n_archs, 22), optional
        Op codes (``fbnet/ops.csv``) of each architecture index.
    dataset : {"cifar100", "imagenet"}, default "cifar100"
        Macro setting of HW-NAS-Bench for :meth:`flops` / :meth:`params`: ``"cifar100"``
        (32x32 input, stem stride 1, stage strides 1, 1, 2, 2, 1, 2, 1, head 1504 channels, 100
        classes) or ``"imagenet"`` (the FBNet paper: 224x224, stem stride 2, strides 1, 2, 2, 2,
        1, 2, 1, head 1984, 1000 classes).  The default is CIFAR-100 because its FLOPs rank the
        shared latencies best (Spearman 0.98 vs 0.90 with ``fpga``, 0.97 vs 0.93 with
        ``eyeriss``), suggesting HELP took the HW-NAS-Bench CIFAR-100 lookup tables.

    Notes
    -----
    Encodings use ``skip`` (code 8) as each layer's reference op, like the per-layer latency
    table of HW-NAS-Bench (``fbnet/layer_latency_hwnasbench.csv.gz`` is relative to ``skip``).
    """

    name: ClassVar[str] = "fbnet"
    position_dim: ClassVar[str] = "layer"
    n_positions: ClassVar[int] = _N_LAYERS
    op_names: ClassVar[tuple[str, ...]] = _OPS
    default_n_archs: ClassVar[int] = 5000
    #: reference op of every layer in the encodings
    reference_op: ClassVar[int] = _SKIP
    stem_channels: ClassVar[int] = 16

    def __init__(self, arch_table: Any = None, *, dataset: str = "cifar100") -> None:
        dataset = dataset.lower() if isinstance(dataset, str) else dataset
        if dataset not in DATASETS:
            raise ConfigError(
                f"fbnet: unknown dataset {dataset!r} for the macro network; expected one of "
                f"{sorted(DATASETS)}"
            )
        self.dataset = dataset
        cfg = DATASETS[dataset]
        self.resolution: int = cfg["resolution"]
        self.n_classes: int = cfg["n_classes"]
        self.head_channels: int = cfg["head_channels"]
        self._stem_stride: int = cfg["stem_stride"]
        self._strides: tuple[int, ...] = cfg["strides"]
        super().__init__(arch_table)

    # ------------------------------------------------------------------ table
    def _check_table(self, arch_table: Any) -> np.ndarray:
        table = np.asarray(arch_table)
        if table.ndim != 2 or table.shape[1] != _N_LAYERS:
            raise UnknownArchitectureError(
                f"fbnet: the architecture table must have shape (n_archs, 22), got {table.shape}"
            )
        if table.size and not np.issubdtype(table.dtype, np.integer):
            if not np.issubdtype(table.dtype, np.floating) or np.any(table != np.round(table)):
                raise UnknownArchitectureError(
                    f"fbnet: the architecture table must hold integer op codes, got {table.dtype}"
                )
        table = table.astype(np.int64)
        bad = np.argwhere((table < 0) | (table >= len(_OPS)))
        if bad.size:
            r, c = bad[0]
            raise UnknownArchitectureError(
                f"fbnet: {len(bad)} op code(s) outside 0..8 ({dict(enumerate(_OPS))}) in the "
                f"architecture table, first at row {r}, layer {c}: {table[r, c]}"
            )
        table.setflags(write=False)
        return table

    @classmethod
    def from_archs_csv(cls, path: str | Path, **kwargs: Any) -> FBNetSpace:
        """Read ``arch_id, op_l0..op_l21`` (the shared ``fbnet/archs.csv``).

        Raises
        ------
        DataFileNotFoundError, EmptyDataError, MissingColumnError, UnknownArchitectureError
            Naming ``path``.
        """
        cols = [f"op_l{i}" for i in range(_N_LAYERS)]
        df = read_table(path, ["arch_id", *cols])
        table = int_columns(df, cols, path)
        try:
            return cls(table, **kwargs)
        except UnknownArchitectureError as exc:
            raise UnknownArchitectureError(f"architecture table {str(path)!r}: {exc}") from None

    # -------------------------------------------------------------- encoding
    def _factors(self) -> list[Factor]:
        return [
            Factor(f"layer{i}", tuple(range(len(_OPS))), _OPS, self.reference_op)
            for i in range(_N_LAYERS)
        ]

    def _factor_codes(self, idx: np.ndarray) -> np.ndarray:
        return self._table[idx]

    # ----------------------------------------------------------------- costs
    def layer_shapes(self) -> list[tuple[int, int, int, int]]:
        """``(c_in, c_out, stride, input size)`` of the 22 searchable layers."""
        h = -(-self.resolution // self._stem_stride)
        c_in = self.stem_channels
        out = []
        for c_out, n, stride in zip(_CHANNELS, _LAYERS, self._strides, strict=True):
            for j in range(n):
                s = stride if j == 0 else 1
                out.append((c_in, c_out, s, h))
                h = -(-h // s)
                c_in = c_out
        return out

    def _cost_tables(self) -> tuple[float, np.ndarray, float, np.ndarray]:
        """Skeleton MACs, per-(layer, op) MACs, skeleton params, per-(layer, op) params."""
        macs = np.zeros((_N_LAYERS, len(_OPS)))
        params = np.zeros((_N_LAYERS, len(_OPS)))
        for layer, (cin, cout, s, h) in enumerate(self.layer_shapes()):
            ho = -(-h // s)
            for op, spec in enumerate(_OP_SPEC):
                if spec is None:  # identity, or a 1x1 ConvBNReLU when the shape changes
                    if cin != cout or s != 1:
                        macs[layer, op] = cin * cout * ho * ho
                        params[layer, op] = cin * cout + 2 * cout
                    continue
                k, e, g = spec
                mid = cin * e
                macs[layer, op] = (
                    cin * mid // g * h * h  # 1x1 expansion at the input resolution
                    + mid * k * k * ho * ho  # depthwise kxk, stride s
                    + mid * cout // g * ho * ho  # 1x1 projection
                )
                params[layer, op] = cin * mid // g + mid * k * k + mid * cout // g
                params[layer, op] += 2 * mid + 2 * mid + 2 * cout  # three BNs
        h0 = -(-self.resolution // self._stem_stride)
        hl = self.layer_shapes()[-1][3]
        c_last = _CHANNELS[-1]
        stem, head = self.stem_channels, self.head_channels
        base_macs = 9 * 3 * stem * h0 * h0 + c_last * head * hl * hl + head * self.n_classes
        base_params = (
            9 * 3 * stem
            + 2 * stem
            + c_last * head
            + 2 * head
            + head * self.n_classes
            + self.n_classes
        )
        return float(base_macs), macs, float(base_params), params

    def _sum_costs(self, ops: np.ndarray, base: float, table: np.ndarray) -> np.ndarray:
        ops = np.atleast_2d(ops)
        return (base + table[np.arange(_N_LAYERS)[None, :], ops].sum(axis=1)) / 1e6

    def flops(self, idx: Any) -> np.ndarray:
        """Multiply-accumulates of the FBNet network, in millions.

        Macro network of HW-NAS-Bench (``dataset``, see the class): stem 3x3 conv 3->16;
        searchable layers with output channels 16, 24x4, 32x4, 64x4, 112x4, 184x4, 352 and the
        dataset's first-layer strides; a 1x1 conv to the head channels, global average pool
        and a linear layer.  A block ``k{k}_e{e}[_g2]`` is a 1x1 expansion ``c_in -> e*c_in``
        (present even for e=1, as in FBNet's ``IRFBlock``), a depthwise kxk conv with the
        layer's stride and a 1x1 projection to ``c_out``, both 1x1 convs with ``g`` groups;
        ``skip`` is free when shapes match, else a strided 1x1 conv.  A multiply-add counts 1;
        BN, activations, shuffles, pooling and residual additions count 0.  CIFAR-100: 11.6
        (all ``skip``) to 160.9 (all ``k5_e6``) MFLOPs, the shared 5,000 architectures span
        29.8-107.5; ImageNet: 49.4 to 572.6, shared architectures 107.6-401.8.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        base, table, _, _ = self._cost_tables()
        return self._sum_costs(self.ops(idx), base, table)

    def params(self, idx: Any) -> np.ndarray:
        """Parameters (conv weights, BN scale/shift, classifier), in millions; see :meth:`flops`.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        _, _, base, table = self._cost_tables()
        return self._sum_costs(self.ops(idx), base, table)

    def ops_flops(self, ops: np.ndarray) -> np.ndarray:
        """MFLOPs of op-code rows (shape ``(n, 22)``) without a table; see :meth:`flops`."""
        base, table, _, _ = self._cost_tables()
        return self._sum_costs(np.asarray(ops, dtype=np.int64), base, table)
