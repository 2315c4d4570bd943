"""The Once-for-All MobileNetV3 search space (Cai et al., ICLR 2020), ``ofa_mbv3_d234_e346_k357_w1.0``.

Five elastic stages of up to 4 blocks (20 block slots).  A subnet picks a depth ``d`` in
{2, 3, 4} per stage, a kernel size ``ks`` in {3, 5, 7} and an expansion ratio ``e`` in {3, 4, 6}
per block, and an input resolution ``r`` in {128, 132, ..., 224}.  Slot ``4*stage + j`` is used
iff ``j < d[stage]``; ``ks`` / ``e`` of unused slots are ignored.

The op of a block slot is the (kernel, expansion) pair, codes ``3*ki + ei`` for ``ks = (3,5,7)[ki]``
and ``e = (3,4,6)[ei]`` (``k3_e3`` = 0 ... ``k7_e6`` = 8), and code 9 ``skip`` for an unused slot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from latxfer.errors import ConfigError, UnknownArchitectureError
from latxfer.spaces.base import Factor, SearchSpace, read_table

__all__ = ["OFASpace"]

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[int, ...] = (3, 4, 6)
DEPTHS: tuple[int, ...] = (2, 3, 4)
RESOLUTIONS: tuple[int, ...] = tuple(range(128, 225, 4))
_OPS: tuple[str, ...] = tuple(f"k{k}_e{e}" for k in KERNELS for e in EXPANDS) + ("skip",)
_SKIP = 9
_N_STAGES = 5
_MAX_DEPTH = 4
_N_BLOCKS = _N_STAGES * _MAX_DEPTH
#: per stage: output width, stride of the first block, squeeze-excitation
_STAGES: tuple[tuple[int, int, bool], ...] = (
    (24, 2, False),
    (40, 2, True),
    (80, 2, False),
    (112, 1, True),
    (160, 2, True),
)


def _make_divisible(v: float, divisor: int = 8) -> int:
    """OFA's / TF's channel rounding."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _up(h: int, s: int) -> int:
    return -(-h // s)


class OFASpace(SearchSpace):
    """Once-for-All MobileNetV3 (width 1.0): 20 block slots x (3 kernels x 3 expands + skip).

    Parameters
    ----------
    arch_table : mapping, optional
        ``{"ks": (n, 20), "e": (n, 20), "d": (n, 5), "r": (n,)}`` integer arrays (the shared
        ``ofa/archs.csv`` columns).
    n_classes : int, default 1000
        Classifier outputs.

    Notes
    -----
    Encodings have one factor per block slot plus a resolution factor ``r`` (25 levels).  A
    slot's levels are the 9 (kernel, expand) ops, plus ``skip`` for the optional slots 2 and 3
    of each stage.  Reference levels: ``skip`` for optional slots (the coefficient of an op is
    then the cost of adding that block), ``k3_e3`` for the always-present slots 0 and 1, and
    the smallest resolution 128.  Resolution enters as a categorical main effect, so an
    additive model misses the resolution x block interaction (cost grows with r**2).
    """

    name: ClassVar[str] = "ofa"
    position_dim: ClassVar[str] = "block"
    n_positions: ClassVar[int] = _N_BLOCKS
    op_names: ClassVar[tuple[str, ...]] = _OPS
    default_n_archs: ClassVar[int] = 5000
    resolutions: ClassVar[tuple[int, ...]] = RESOLUTIONS

    def __init__(self, arch_table: Mapping[str, Any] | None = None, *, n_classes: int = 1000):
        if int(n_classes) < 1:
            raise ConfigError(f"ofa: n_classes must be >= 1, got {n_classes}")
        self.n_classes = int(n_classes)
        self._codes: np.ndarray | None = None
        self._cost_cache: dict[int, tuple[float, np.ndarray, float, np.ndarray]] = {}
        super().__init__(arch_table)

    # ------------------------------------------------------------------ table
    def _check_table(self, arch_table: Any) -> dict[str, np.ndarray]:
        if not isinstance(arch_table, Mapping):
            raise UnknownArchitectureError(
                f"ofa: the architecture table must be a mapping with keys 'ks', 'e', 'd', 'r', "
                f"got {type(arch_table).__name__}"
            )
        missing = [k for k in ("ks", "e", "d", "r") if k not in arch_table]
        if missing:
            raise UnknownArchitectureError(
                f"ofa: the architecture table lacks key(s) {missing}; expected 'ks' (n, 20), "
                f"'e' (n, 20), 'd' (n, 5), 'r' (n,)"
            )
        spec = {
            "ks": ((_N_BLOCKS,), KERNELS),
            "e": ((_N_BLOCKS,), EXPANDS),
            "d": ((_N_STAGES,), DEPTHS),
            "r": ((), RESOLUTIONS),
        }
        n = np.asarray(arch_table["r"]).shape[0] if np.ndim(arch_table["r"]) else -1
        out = {}
        for key, (tail, allowed) in spec.items():
            arr = np.asarray(arch_table[key])
            if arr.shape != (n, *tail):
                raise UnknownArchitectureError(
                    f"ofa: table entry {key!r} must have shape {(n, *tail)} "
                    f"(n_archs = len(r) = {n}), got {arr.shape}"
                )
            if arr.size and not (
                np.issubdtype(arr.dtype, np.integer)
                or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))
            ):
                raise UnknownArchitectureError(
                    f"ofa: table entry {key!r} must hold integers, got dtype {arr.dtype}"
                )
            arr = arr.astype(np.int64)
            bad = ~np.isin(arr, allowed)
            if bad.any():
                pos = tuple(int(i) for i in np.argwhere(bad)[0])
                raise UnknownArchitectureError(
                    f"ofa: {int(bad.sum())} value(s) of {key!r} outside {list(allowed)}, "
                    f"first at position {pos}: {arr[pos]}"
                )
            arr.setflags(write=False)
            out[key] = arr
        return out

    def _table_len(self) -> int:
        return int(self._table["r"].shape[0])

    def _ops_all(self) -> np.ndarray:
        if self._codes is None:
            t = self._table
            ki = np.searchsorted(KERNELS, t["ks"])
            ei = np.searchsorted(EXPANDS, t["e"])
            codes = 3 * ki + ei
            present = np.arange(_MAX_DEPTH)[None, None, :] < t["d"][:, :, None]
            codes[~present.reshape(-1, _N_BLOCKS)] = _SKIP
            codes.setflags(write=False)
            self._codes = codes
        return self._codes

    @classmethod
    def from_archs_csv(cls, path: str | Path, **kwargs: Any) -> OFASpace:
        """Read ``arch_id, ks, e, d, r`` with JSON lists (the shared ``ofa/archs.csv``).

        Raises
        ------
        DataFileNotFoundError, EmptyDataError, MissingColumnError, UnknownArchitectureError
            Naming ``path`` (and the row of an unreadable list).
        """
        df = read_table(path, ["arch_id", "ks", "e", "d", "r"])
        table: dict[str, Any] = {}
        for key in ("ks", "e", "d"):
            rows = []
            for row, cell in enumerate(df[key].tolist()):
                try:
                    value = json.loads(cell) if isinstance(cell, str) else None
                except json.JSONDecodeError:
                    value = None
                if not isinstance(value, list):
                    raise UnknownArchitectureError(
                        f"architecture table {str(path)!r}, arch_id={row}, column {key!r}: "
                        f"expected a list like '[3, 5, 7]', got {cell!r}"
                    )
                rows.append(value)
            try:
                table[key] = np.array(rows)
            except ValueError:
                raise UnknownArchitectureError(
                    f"architecture table {str(path)!r}, column {key!r}: lists of unequal length"
                ) from None
        table["r"] = df["r"].to_numpy()
        try:
            return cls(table, **kwargs)
        except UnknownArchitectureError as exc:
            raise UnknownArchitectureError(f"architecture table {str(path)!r}: {exc}") from None

    def resolution(self, idx: Any) -> np.ndarray:
        """Input resolution of each architecture (int64, shape ``(n,)``)."""
        idx = self.validate_indices(idx)
        return self._require_table()["r"][idx]

    # -------------------------------------------------------------- encoding
    def _factors(self) -> list[Factor]:
        factors = []
        for b in range(_N_BLOCKS):
            optional = b % _MAX_DEPTH >= min(DEPTHS)
            levels = tuple(range(len(_OPS) if optional else _SKIP))
            ref = _SKIP if optional else 0
            factors.append(Factor(f"block{b}", levels, _OPS[: len(levels)], ref))
        factors.append(Factor("r", tuple(range(len(RESOLUTIONS))), tuple(map(str, RESOLUTIONS)), 0))
        return factors

    def _factor_codes(self, idx: np.ndarray) -> np.ndarray:
        r_code = np.searchsorted(RESOLUTIONS, self._table["r"][idx])
        return np.concatenate([self._ops_all()[idx], r_code[:, None]], axis=1)

    # ----------------------------------------------------------------- costs
    def _cost_tables(self, r: int) -> tuple[float, np.ndarray, float, np.ndarray]:
        """Skeleton MACs, per-(block, op) MACs, skeleton and per-(block, op) params at ``r``."""
        if r in self._cost_cache:
            return self._cost_cache[r]
        macs = np.zeros((_N_BLOCKS, len(_OPS)))
        params = np.zeros((_N_BLOCKS, len(_OPS)))
        h = _up(r, 2)  # first conv 3x3 stride 2, 3 -> 16
        c = 16
        base_macs = 9 * 3 * c * h * h + 9 * c * h * h + c * c * h * h  # + first block (dw, pw)
        base_params = 9 * 3 * c + 2 * c + 9 * c + 2 * c + c * c + 2 * c
        for s, (width, stride, se) in enumerate(_STAGES):
            for j in range(_MAX_DEPTH):
                b = s * _MAX_DEPTH + j
                st = stride if j == 0 else 1
                cin = c if j == 0 else width
                ho = _up(h, st)
                for op in range(_SKIP):
                    k, e = KERNELS[op // 3], EXPANDS[op % 3]
                    mid = _make_divisible(round(cin * e), 8)
                    m = cin * mid * h * h + k * k * mid * ho * ho + mid * width * ho * ho
                    p = cin * mid + 2 * mid + k * k * mid + 2 * mid + mid * width + 2 * width
                    if se:
                        red = _make_divisible(mid // 4, 8)
                        m += 2 * mid * red
                        p += 2 * mid * red + red + mid
                    macs[b, op], params[b, op] = m, p
                if j == 0:
                    h, c = ho, width
        head = 960
        last = 1280
        base_macs += c * head * h * h + head * last + last * self.n_classes
        base_params += c * head + 2 * head + head * last + last * self.n_classes + self.n_classes
        out = (float(base_macs), macs, float(base_params), params)
        self._cost_cache[r] = out
        return out

    def _costs(self, idx: Any, which: int) -> np.ndarray:
        idx = self.validate_indices(idx)
        self._require_table()
        ops = self._ops_all()[idx]
        rs = self._table["r"][idx]
        out = np.empty(idx.size)
        for r in np.unique(rs):
            tables = self._cost_tables(int(r))
            base, table = tables[2 * which], tables[2 * which + 1]
            table = np.concatenate([table, np.zeros((_N_BLOCKS, 1))], axis=1)  # skip: 0
            sel = rs == r
            out[sel] = base + table[np.arange(_N_BLOCKS)[None, :], ops[sel]].sum(axis=1)
        return out / 1e6

    def flops(self, idx: Any) -> np.ndarray:
        """Multiply-accumulates of the OFA MobileNetV3 subnet, in millions.

        Follows ``ofa_mbv3_d234_e346_k357_w1.0``: first conv 3x3 stride 2 (3->16); a fixed
        first block (depthwise 3x3 + 1x1, 16->16); five stages of widths 24, 40, 80, 112, 160,
        first-block strides 2, 2, 2, 1, 2 and squeeze-excitation in stages 2, 4, 5; a 1x1
        conv 160->960, global average pool, 1x1 conv 960->1280 and a linear layer.  An
        elastic block is a 1x1 expansion to ``make_divisible(c_in * e, 8)`` channels, a
        depthwise kxk conv (stride on the first block of a stage), the SE (two 1x1 convs on
        the pooled vector, reduction 4) and a 1x1 projection.  Unused slots cost 0.  Spatial
        sizes are ``ceil(h / stride)`` starting from ``r``.  A multiply-add counts 1; BN,
        activations, SE scaling and residual additions count 0.  The space spans 41.5
        (d=2, k=3, e=3, r=128) to 566.2 (d=4, k=7, e=6, r=224) MFLOPs; the shared 5,000
        subnets span 60.1-421.1.  Exact agreement with OFA's own counter is not claimed.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        return self._costs(idx, 0)

    def params(self, idx: Any) -> np.ndarray:
        """Parameters (conv weights, BN scale/shift, SE and classifier biases), in millions.

        Independent of the resolution; 3.41 (smallest subnet) to 7.66 M (largest); see
        :meth:`flops` for the network.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        return self._costs(idx, 1)
