"""MobileNetV2-based search spaces: ``mbv2`` (this module) and ``proxyless`` (:mod:`latxfer.spaces.proxyless`).

Both share the ImageNet 224 inverted-residual skeleton of MobileNetV2 / ProxylessNAS: a stem conv 3x3
stride 2 (3 -> 32) + BN-ReLU6; a fixed MBConv1 3x3 block (depthwise 3x3 + BN-ReLU6, 1x1 32 -> 16 + BN);
six stages of block slots (4, 4, 4, 4, 4, 1) with first-block strides (2, 2, 2, 1, 2, 1); a 1x1 conv to
1280 + BN-ReLU6, global average pool and a linear layer to 1000 classes.  Each of the 21 searchable
slots picks an MBConv op ``k{3,5,7}_e{3,6}`` (kernel size, expansion ratio): 1x1 expansion to
``round(c_in * e)`` + BN-ReLU6, depthwise kxk (stride on a stage's first block) + BN-ReLU6, 1x1
projection + BN, identity shortcut when stride 1 and ``c_in == c_out``.  Some slots may instead be empty:

``mbv2``
    MobileNetV2 widths 24, 32, 64, 96, 160, 320 (Sandler et al., CVPR 2018) with an elastic depth of
    2, 3 or 4 blocks in each of the first five stages (the OFA-style elastic MobileNetV2 of the
    OneProxy paper's MobileNet-V2 space, kernel {3, 5, 7} x expansion {3, 6}).  Slots 2 and 3 of a stage
    may be ``skip`` (the block is absent), and only as the stage's last blocks: depth, not holes.
``proxyless``
    The ProxylessNAS mobile space (Cai et al., ICLR 2019): widths 24, 40, 80, 96, 192, 320; every slot
    that is not a stage's first may be ``zero`` (the block is the identity, ProxylessNAS's ``Zero`` op on
    the residual path), independently of the others.

Neither space can be enumerated (``mbv2``: 3**5 depth choices x 6 ops per used block, about 1.2e18
networks; ``proxyless``: 6**6 * 7**15, about 2.2e17).  Like OFA, architecture *indices* are the rows of a
fixed table: by default :func:`default_table`, a reproducible sample of ``DEFAULT_N`` architectures drawn
with ``DEFAULT_SEED`` (the table of the measured datasets; :meth:`MBConvSpace.archs_frame` gives it as
the shared ``archs.csv`` format ``arch_id,code``).  An architecture *code* names every slot's op,
``"k3_e6-k5_e3-skip-..."`` (21 tokens joined by ``-``); :meth:`MBConvSpace.parse_code` and
:meth:`MBConvSpace.code` round-trip it and :meth:`MBConvSpace.index_of` looks it up in the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from latxfer.errors import ConfigError, UnknownArchitectureError
from latxfer.spaces.base import Factor, SearchSpace, read_table

__all__ = ["DEFAULT_N", "DEFAULT_SEED", "MBConvSpace", "MBV2Space", "default_table"]

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[int, ...] = (3, 6)
#: the MBConv ops, code ``2 * ki + ei``; code 6 is the empty slot (named by the subclass)
MB_OPS: tuple[str, ...] = tuple(f"k{k}_e{e}" for k in KERNELS for e in EXPANDS)
_EMPTY = 6
DEFAULT_N = 1000
DEFAULT_SEED = 20260
_SEP = "-"


class MBConvSpace(SearchSpace):
    """Common base of :class:`MBV2Space` and :class:`~latxfer.spaces.proxyless.ProxylessSpace`.

    Parameters
    ----------
    arch_table : array-like of int, shape (n_archs, 21), optional
        Op codes of each architecture index (``op_names``); default :func:`default_table` of the space.
    n_classes : int, default 1000
        Classifier outputs.

    Notes
    -----
    Encodings have one factor per slot.  A slot that can be empty has the 6 MBConv ops plus the empty
    op as levels and the empty op as reference (a coefficient is then the cost of adding that block,
    as with OFA's optional slots and FBNet's ``skip``); a slot that is always present has the 6 MBConv
    ops and ``k3_e3`` as reference.  With an intercept, ``"reference"`` and ``"sum_to_zero"`` give a
    full-rank design, ``"onehot"`` a rank-deficient one (see :mod:`latxfer.spaces.base`).
    """

    position_dim: ClassVar[str] = "block"
    n_positions: ClassVar[int] = 21
    default_n_archs: ClassVar[int] = DEFAULT_N
    resolution: ClassVar[int] = 224
    stem_channels: ClassVar[int] = 32
    first_block_channels: ClassVar[int] = 16
    head_channels: ClassVar[int] = 1280
    slots: ClassVar[tuple[int, ...]] = (4, 4, 4, 4, 4, 1)
    strides: ClassVar[tuple[int, ...]] = (2, 2, 2, 1, 2, 1)
    widths: ClassVar[tuple[int, ...]]
    empty_name: ClassVar[str]
    #: empty slots must be a stage's last ones (elastic depth) rather than anywhere
    trailing_empty: ClassVar[bool]
    #: the slot position within a stage from which the slot may be empty
    first_optional: ClassVar[int]

    def __init__(self, arch_table: Any = None, *, n_classes: int = 1000) -> None:
        if int(n_classes) < 1:
            raise ConfigError(f"{self.name}: n_classes must be >= 1, got {n_classes}")
        self.n_classes = int(n_classes)
        self._cost: tuple[float, np.ndarray, float, np.ndarray] | None = None
        super().__init__(default_table(type(self)) if arch_table is None else arch_table)

    # --------------------------------------------------------------- skeleton
    @classmethod
    def slot_stage(cls) -> list[tuple[int, int]]:
        """``(stage, position in stage)`` of each of the 21 slots."""
        return [(s, j) for s, n in enumerate(cls.slots) for j in range(n)]

    @classmethod
    def optional(cls) -> np.ndarray:
        """Whether each slot may be empty (bool, shape ``(21,)``)."""
        return np.array([j >= cls.first_optional and cls.slots[s] > 1 for s, j in cls.slot_stage()])

    @classmethod
    def block_shapes(cls) -> list[tuple[int, int, int, int]]:
        """``(c_in, c_out, stride, input height)`` of each slot at 224 (blocks before it all present)."""
        out, c, h = [], cls.first_block_channels, cls.resolution // 2
        for s, j in cls.slot_stage():
            st = cls.strides[s] if j == 0 else 1
            out.append((c, cls.widths[s], st, h))
            c, h = cls.widths[s], -(-h // st)
        return out

    # ------------------------------------------------------------ validation
    @classmethod
    def _check_ops(cls, ops: np.ndarray, where: str) -> None:
        """UnknownArchitectureError naming the row, block and value when ``ops`` is not in the space."""
        n_ops = len(MB_OPS) + 1
        opt = cls.optional()
        for r, row in enumerate(ops):
            at = f"{where} row {r}" if ops.shape[0] > 1 or where else "architecture"
            for b, o in enumerate(row):
                s, j = cls.slot_stage()[b]
                if not 0 <= o < n_ops:
                    raise UnknownArchitectureError(
                        f"{cls.name}: {at}, block {b} (stage {s}, slot {j}): op code {int(o)} is not in "
                        f"0..{n_ops - 1} ({dict(enumerate(cls.op_names))})")
                if o == _EMPTY and not opt[b]:
                    raise UnknownArchitectureError(
                        f"{cls.name}: {at}, block {b} (stage {s}, slot {j}) is {cls.empty_name!r}, which this "
                        f"slot does not allow; expected one of {list(MB_OPS)}")
                if cls.trailing_empty and o != _EMPTY and b > 0 and row[b - 1] == _EMPTY and j > 0:
                    raise UnknownArchitectureError(
                        f"{cls.name}: {at}, block {b} (stage {s}, slot {j}) is {cls.op_names[o]!r} after a "
                        f"{cls.empty_name!r} block: a stage's skipped blocks must be its last ones (depth "
                        f"{cls.first_optional}-{max(cls.slots)}); expected {cls.empty_name!r}")

    def _check_table(self, arch_table: Any) -> np.ndarray:
        table = np.asarray(arch_table)
        if table.ndim != 2 or table.shape[1] != self.n_positions:
            raise UnknownArchitectureError(
                f"{self.name}: the architecture table must have shape (n_archs, {self.n_positions}), "
                f"got {table.shape}")
        if table.size and not np.issubdtype(table.dtype, np.integer):
            if not np.issubdtype(table.dtype, np.floating) or np.any(table != np.round(table)):
                raise UnknownArchitectureError(
                    f"{self.name}: the architecture table must hold integer op codes, got {table.dtype}")
        table = table.astype(np.int64)
        self._check_ops(table, "architecture table")
        table.setflags(write=False)
        return table

    # ------------------------------------------------------------------ codes
    @classmethod
    def parse_code(cls, code: str) -> np.ndarray:
        """Op codes (int64, shape ``(21,)``) of an architecture code ``"k3_e6-k5_e3-..."``.

        Raises
        ------
        UnknownArchitectureError
            Naming the block and the token that is wrong (unknown op, an empty op where the slot does
            not allow it, a wrong number of blocks, a ``mbv2`` block after a skipped one).
        """
        if not isinstance(code, str):
            raise UnknownArchitectureError(f"{cls.name}: an architecture code must be a string, got {code!r}")
        tokens = [t.strip() for t in code.strip().split(_SEP)]
        if len(tokens) != cls.n_positions:
            raise UnknownArchitectureError(
                f"{cls.name}: architecture code {code!r} has {len(tokens)} blocks; expected "
                f"{cls.n_positions} ops joined by {_SEP!r}")
        ops = np.empty(cls.n_positions, dtype=np.int64)
        for b, t in enumerate(tokens):
            if t not in cls.op_names:
                s, j = cls.slot_stage()[b]
                raise UnknownArchitectureError(
                    f"{cls.name}: architecture code, block {b} (stage {s}, slot {j}): unknown op {t!r}; "
                    f"expected one of {list(cls.op_names)}")
            ops[b] = cls.op_names.index(t)
        cls._check_ops(ops[None, :], "")
        return ops

    @classmethod
    def ops_to_code(cls, ops: Any) -> str:
        """The architecture code of 21 op codes (checked like :meth:`parse_code`)."""
        ops = np.asarray(ops, dtype=np.int64).reshape(1, -1)
        if ops.shape[1] != cls.n_positions:
            raise UnknownArchitectureError(f"{cls.name}: expected {cls.n_positions} op codes, got {ops.shape[1]}")
        cls._check_ops(ops, "")
        return _SEP.join(cls.op_names[o] for o in ops[0])

    def code(self, idx: Any) -> list[str]:
        """Architecture codes of table indices."""
        return [_SEP.join(self.op_names[o] for o in row) for row in self.ops(idx)]

    def index_of(self, codes: Any) -> np.ndarray:
        """Table indices of architecture codes (int64, ``(n,)``).

        Raises
        ------
        UnknownArchitectureError
            If a code is not in the space (naming block and value) or not in the table.
        """
        codes = [codes] if isinstance(codes, str) else list(codes)
        lookup = {row.tobytes(): i for i, row in enumerate(self._require_table())}
        out = []
        for c in codes:
            key = self.parse_code(c).tobytes()
            if key not in lookup:
                raise UnknownArchitectureError(
                    f"{self.name}: architecture {c!r} is in the space but not among the {self.n_archs} "
                    f"architectures of the table (indices name table rows; measure it by adding it to a "
                    f"table: {type(self).__name__}(arch_table=...))")
            out.append(lookup[key])
        return np.asarray(out, dtype=np.int64)

    @classmethod
    def random_ops(cls, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` architectures of the whole space (op codes, int64 ``(n, 21)``).

        Each choice is drawn uniformly and independently: each always-present slot's op among the 6
        MBConv ops; for ``proxyless`` each optional slot among 7 (6 ops or ``zero``); for ``mbv2`` each
        stage's depth among {2, 3, 4}, then each present block's op among 6 (the choice-uniform
        convention of OFA's ``sample_active_subnet``; not uniform over distinct networks, which would
        make nearly every network 4 blocks deep).
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        ops = gen.integers(0, len(MB_OPS), size=(int(n), cls.n_positions))
        opt = cls.optional()
        if cls.trailing_empty:
            for s, n_s in enumerate(cls.slots):
                if n_s <= cls.first_optional:
                    continue
                depth = gen.integers(cls.first_optional, n_s + 1, size=int(n))
                start = sum(cls.slots[:s])
                for j in range(cls.first_optional, n_s):
                    ops[depth <= j, start + j] = _EMPTY
        else:
            empty = gen.integers(0, len(MB_OPS) + 1, size=ops.shape) == len(MB_OPS)
            ops[empty & opt[None, :]] = _EMPTY
        return ops.astype(np.int64)

    # -------------------------------------------------------------- table io
    def archs_frame(self):
        """The table as the shared ``archs.csv`` format: a DataFrame ``arch_id, code``."""
        import pandas as pd

        return pd.DataFrame({"arch_id": np.arange(self.n_archs), "code": self.code(self.enumerate())})

    @classmethod
    def from_archs_csv(cls, path: str | Path, **kwargs: Any) -> MBConvSpace:
        """Read ``arch_id, code`` (:meth:`archs_frame`).

        Raises
        ------
        DataFileNotFoundError, EmptyDataError, MissingColumnError, UnknownArchitectureError
            Naming ``path`` (and the arch_id, block and value of a wrong code).
        """
        df = read_table(path, ["arch_id", "code"])
        rows = []
        for i, c in zip(df["arch_id"].tolist(), df["code"].tolist(), strict=True):
            try:
                rows.append(cls.parse_code(c))
            except UnknownArchitectureError as exc:
                raise UnknownArchitectureError(f"architecture table {str(path)!r}, arch_id={i}: {exc}") from None
        return cls(np.stack(rows), **kwargs)

    # -------------------------------------------------------------- encoding
    def _factors(self) -> list[Factor]:
        out = []
        for b, opt in enumerate(self.optional()):
            levels = tuple(range(len(MB_OPS) + 1 if opt else len(MB_OPS)))
            out.append(Factor(f"block{b}", levels, self.op_names[: len(levels)], _EMPTY if opt else 0))
        return out

    def _factor_codes(self, idx: np.ndarray) -> np.ndarray:
        return self._table[idx]

    # ----------------------------------------------------------------- costs
    def cost_tables(self) -> tuple[float, np.ndarray, float, np.ndarray]:
        """Skeleton MACs, per-(slot, op) MACs, skeleton params and per-(slot, op) params (empty op: 0)."""
        if self._cost is not None:
            return self._cost
        r, c0, c1 = self.resolution, self.stem_channels, self.first_block_channels
        h = -(-r // 2)
        base_m = 9 * 3 * c0 * h * h + 9 * c0 * h * h + c0 * c1 * h * h
        base_p = 9 * 3 * c0 + 2 * c0 + 9 * c0 + 2 * c0 + c0 * c1 + 2 * c1
        macs = np.zeros((self.n_positions, len(MB_OPS) + 1))
        params = np.zeros_like(macs)
        for b, (cin, cout, st, hin) in enumerate(self.block_shapes()):
            ho = -(-hin // st)
            for o, (k, e) in enumerate((k, e) for k in KERNELS for e in EXPANDS):
                mid = int(round(cin * e))
                macs[b, o] = cin * mid * hin * hin + k * k * mid * ho * ho + mid * cout * ho * ho
                params[b, o] = cin * mid + 2 * mid + k * k * mid + 2 * mid + mid * cout + 2 * cout
        c, h = self.widths[-1], -(-r // 32)
        base_m += c * self.head_channels * h * h + self.head_channels * self.n_classes
        base_p += c * self.head_channels + 2 * self.head_channels + (self.head_channels + 1) * self.n_classes
        self._cost = (float(base_m), macs, float(base_p), params)
        return self._cost

    def _costs(self, idx: Any, which: int) -> np.ndarray:
        ops = self.ops(idx)
        tables = self.cost_tables()
        base, table = tables[2 * which], tables[2 * which + 1]
        return (base + table[np.arange(self.n_positions)[None, :], ops].sum(axis=1)) / 1e6

    def flops(self, idx: Any) -> np.ndarray:
        """Multiply-accumulates of the network at 224 x 224, in millions (float64, ``(n,)``).

        Counts convolutions and the linear layer (a multiply-add is 1; BN, ReLU6, pooling and residual
        additions 0), the convention of the other spaces and of the builders' counter.  An MBConv
        block costs ``c_in * mid * h_in**2 + k**2 * mid * h_out**2 + mid * c_out * h_out**2`` with
        ``mid = round(c_in * e)``; an empty slot 0.  Blocks never change the resolution except by the
        stage strides, so an empty slot leaves every other block's cost unchanged.

        Returns
        -------
        numpy.ndarray
        """
        return self._costs(idx, 0)

    def params(self, idx: Any) -> np.ndarray:
        """Parameters in millions: conv weights, BN scale and shift, classifier weights and bias.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        return self._costs(idx, 1)


_TABLES: dict[tuple[str, int, int], np.ndarray] = {}


def default_table(cls: type[MBConvSpace], n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The fixed sample of ``cls``'s space: ``n`` distinct architectures drawn by :meth:`random_ops`.

    Drawn with :func:`numpy.random.default_rng` ``(seed)`` (PCG64, stable across NumPy releases), in
    batches until ``n`` distinct rows are found (first occurrence order), so the same seed always gives
    the same table.

    Returns
    -------
    numpy.ndarray
        Read-only int64, shape ``(n, 21)``.
    """
    key = (cls.name, int(n), int(seed))
    if key not in _TABLES:
        gen = np.random.default_rng(seed)
        rows: dict[bytes, np.ndarray] = {}
        while len(rows) < n:
            for row in cls.random_ops(n, gen):
                rows.setdefault(row.tobytes(), row)
                if len(rows) == n:
                    break
        table = np.stack(list(rows.values()))
        table.setflags(write=False)
        _TABLES[key] = table
    return _TABLES[key]


class MBV2Space(MBConvSpace):
    """MobileNetV2 with elastic depth {2, 3, 4}, kernel {3, 5, 7} and expansion {3, 6} (see the module).

    Parameters
    ----------
    arch_table : array-like of int, shape (n_archs, 21), optional
        Op codes; default the fixed 1,000-architecture sample :func:`default_table`.
    n_classes : int, default 1000
        Classifier outputs.
    """

    name: ClassVar[str] = "mbv2"
    op_names: ClassVar[tuple[str, ...]] = (*MB_OPS, "skip")
    widths: ClassVar[tuple[int, ...]] = (24, 32, 64, 96, 160, 320)
    empty_name: ClassVar[str] = "skip"
    trailing_empty: ClassVar[bool] = True
    first_optional: ClassVar[int] = 2
