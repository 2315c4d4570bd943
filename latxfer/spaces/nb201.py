"""The NAS-Bench-201 search space (Dong & Yang, ICLR 2020).

A cell is a 4-node DAG with 6 edges, ``node1<-0, node2<-0, node2<-1, node3<-0, node3<-1,
node3<-2`` (the order of ``arch_str`` and of the ``op_e0..op_e5`` columns of the shared
``nb201/archs.csv``), each carrying one of five ops (codes 0 ``none``, 1 ``skip_connect``,
2 ``nor_conv_1x1``, 3 ``nor_conv_3x3``, 4 ``avg_pool_3x3``).  The network stacks the same cell 15
times, giving 5**6 = 15,625 architectures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from latxfer.errors import ConfigError, UnknownArchitectureError
from latxfer.spaces.base import Factor, SearchSpace, int_columns, read_table

__all__ = ["NB201Space"]

_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_N_EDGES = 6
# (target node, source node) of each edge, in arch_str order
_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_GRAMMAR = (
    "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with each op one of "
    + ", ".join(_OPS)
    + " (e.g. '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|')"
)
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")
_POW5 = 5 ** np.arange(_N_EDGES, dtype=np.int64)


class NB201Space(SearchSpace):
    """NAS-Bench-201: 15,625 cells of 6 edges x 5 ops.

    Parameters
    ----------
    arch_table : array-like of int, shape (n_archs, 6), optional
        Op codes of each architecture index (the official NB201 index order in the shared data).
        String <-> ops conversion works without it; index look-ups need it.
    n_classes : int, default 10
        Output classes of the classifier (10 for CIFAR-10), used by :meth:`flops` /
        :meth:`params`.
    resolution : int, default 32
        Input height = width (32 for CIFAR).

    Notes
    -----
    Encodings use ``none`` (code 0) as each edge's reference op: it costs nothing, so under the
    reference coding a linear model's coefficient of ``edge{e}=op`` is the cost of putting ``op``
    on edge ``e`` and the intercept is the cost of the cell-free skeleton.
    """

    name: ClassVar[str] = "nb201"
    position_dim: ClassVar[str] = "edge"
    n_positions: ClassVar[int] = _N_EDGES
    op_names: ClassVar[tuple[str, ...]] = _OPS
    default_n_archs: ClassVar[int] = 5**_N_EDGES
    #: reference op of every edge in the encodings
    reference_op: ClassVar[int] = 0
    #: cells per stage, channels and spatial divisor of the three stages
    cells_per_stage: ClassVar[int] = 5
    stage_channels: ClassVar[tuple[int, ...]] = (16, 32, 64)

    def __init__(
        self, arch_table: Any = None, *, n_classes: int = 10, resolution: int = 32
    ) -> None:
        if int(n_classes) < 1 or int(resolution) < 4:
            raise ConfigError(
                f"nb201: n_classes must be >= 1 and resolution >= 4, got {n_classes}, {resolution}"
            )
        self.n_classes = int(n_classes)
        self.resolution = int(resolution)
        self._lookup: np.ndarray | None = None
        super().__init__(arch_table)

    # ------------------------------------------------------------------ table
    def _check_table(self, arch_table: Any) -> np.ndarray:
        table = np.asarray(arch_table)
        if table.ndim != 2 or table.shape[1] != _N_EDGES:
            raise UnknownArchitectureError(
                f"nb201: the architecture table must have shape (n_archs, 6), got {table.shape}"
            )
        if table.size and not np.issubdtype(table.dtype, np.integer):
            if not np.issubdtype(table.dtype, np.floating) or np.any(table != np.round(table)):
                raise UnknownArchitectureError(
                    f"nb201: the architecture table must hold integer op codes, got {table.dtype}"
                )
        table = table.astype(np.int64)
        bad = np.argwhere((table < 0) | (table >= len(_OPS)))
        if bad.size:
            r, c = bad[0]
            raise UnknownArchitectureError(
                f"nb201: {len(bad)} op code(s) outside 0..4 in the architecture table, first "
                f"at row {r}, edge {c}: {table[r, c]}"
            )
        codes = table @ _POW5
        uniq, counts = np.unique(codes, return_counts=True)
        if uniq.size != codes.size:
            dup = uniq[counts > 1][0]
            rows = np.flatnonzero(codes == dup)[:5].tolist()
            raise UnknownArchitectureError(
                f"nb201: the architecture table lists the cell "
                f"{self.ops_to_str(table[rows[0]])!r} more than once (rows {rows})"
            )
        lookup = np.full(5**_N_EDGES, -1, dtype=np.int64)
        lookup[codes] = np.arange(len(table))
        self._lookup = lookup
        table.setflags(write=False)
        return table

    @classmethod
    def from_archs_csv(cls, path: str | Path, **kwargs: Any) -> NB201Space:
        """Read ``arch_id, arch_str, op_e0..op_e5`` (the shared ``nb201/archs.csv``).

        Raises
        ------
        DataFileNotFoundError, EmptyDataError, MissingColumnError, UnknownArchitectureError
            Naming ``path`` (and the row for a string that disagrees with its op columns).
        """
        cols = [f"op_e{e}" for e in range(_N_EDGES)]
        df = read_table(path, ["arch_id", "arch_str", *cols])
        table = int_columns(df, cols, path)
        for row, s in enumerate(df["arch_str"].tolist()):
            try:
                parsed = cls.str_to_ops(s)
            except UnknownArchitectureError as exc:
                raise UnknownArchitectureError(
                    f"architecture table {str(path)!r}, arch_id={row}: {exc}"
                ) from None
            if parsed != tuple(table[row].tolist()):
                raise UnknownArchitectureError(
                    f"architecture table {str(path)!r}, arch_id={row}: arch_str {s!r} encodes "
                    f"ops {parsed} but the op_e0..op_e5 columns hold {tuple(table[row].tolist())}"
                )
        try:
            return cls(table, **kwargs)
        except UnknownArchitectureError as exc:
            raise UnknownArchitectureError(f"architecture table {str(path)!r}: {exc}") from None

    # --------------------------------------------------------- string <-> ops
    @staticmethod
    def str_to_ops(arch_str: str) -> tuple[int, ...]:
        """Parse an NB201 architecture string into its 6 op codes.

        Parameters
        ----------
        arch_str : str
            ``'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'``.

        Returns
        -------
        tuple of int
            Op codes of edges ``e0..e5``.

        Raises
        ------
        UnknownArchitectureError
            If the string does not follow the grammar; the message states it.
        """
        if not isinstance(arch_str, str):
            raise UnknownArchitectureError(
                f"nb201: expected an architecture string {_GRAMMAR}, got {type(arch_str).__name__}"
            )
        s = arch_str.strip()
        nodes = s.split("+")
        ops: list[int] = []
        problem = None
        if len(nodes) != 3:
            problem = f"found {len(nodes)} '+'-separated node(s), expected 3"
        else:
            for n, node in enumerate(nodes):
                if len(node) < 2 or node[0] != "|" or node[-1] != "|":
                    problem = f"node {n + 1} ({node!r}) is not enclosed in '|'"
                    break
                tokens = node[1:-1].split("|")
                if len(tokens) != n + 1:
                    problem = f"node {n + 1} has {len(tokens)} input(s), expected {n + 1}"
                    break
                for j, tok in enumerate(tokens):
                    m = _TOKEN.match(tok)
                    if m is None or m.group(1) not in _OPS or int(m.group(2)) != j:
                        problem = f"token {tok!r} of node {n + 1} should be '<op>~{j}'"
                        break
                    ops.append(_OPS.index(m.group(1)))
                if problem:
                    break
        if problem:
            raise UnknownArchitectureError(
                f"nb201: invalid architecture string {arch_str!r}: {problem}; expected {_GRAMMAR}"
            )
        return tuple(ops)

    @staticmethod
    def ops_to_str(ops: Sequence[int] | np.ndarray) -> str:
        """Format 6 op codes as an NB201 architecture string (the ``archs.csv`` format).

        Raises
        ------
        UnknownArchitectureError
            If ``ops`` is not 6 integer codes in ``0..4``.
        """
        arr = np.asarray(ops)
        if (
            arr.shape != (_N_EDGES,)
            or not np.issubdtype(arr.dtype, np.integer)
            or np.any((arr < 0) | (arr >= len(_OPS)))
        ):
            raise UnknownArchitectureError(
                f"nb201: expected 6 op codes in 0..4 ({dict(enumerate(_OPS))}), got {ops!r}"
            )
        names = [_OPS[int(o)] for o in arr]
        parts, e = [], 0
        for n in range(3):
            parts.append("|" + "|".join(f"{names[e + j]}~{j}" for j in range(n + 1)) + "|")
            e += n + 1
        return "+".join(parts)

    def index_of(self, arch: str | Sequence[int] | np.ndarray) -> int | np.ndarray:
        """Architecture index of a string or op-code vector.

        Parameters
        ----------
        arch : str or sequence of 6 int or array of shape (n, 6)
            One architecture string, one op-code vector, or a matrix of op codes.

        Returns
        -------
        int or numpy.ndarray
            The index (an int64 array for a matrix).

        Raises
        ------
        UnknownArchitectureError
            If the architecture is malformed or not in the table.
        ConfigError
            If the space has no architecture table.
        """
        self._require_table()
        if isinstance(arch, str):
            ops = np.asarray(self.str_to_ops(arch))[None, :]
            scalar = True
        else:
            ops = np.asarray(arch)
            scalar = ops.ndim == 1
            ops = np.atleast_2d(ops)
            if (
                ops.ndim != 2
                or ops.shape[1] != _N_EDGES
                or not np.issubdtype(ops.dtype, np.integer)
                or np.any((ops < 0) | (ops >= len(_OPS)))
            ):
                raise UnknownArchitectureError(
                    f"nb201: expected an architecture string or 6 op codes in 0..4 per "
                    f"architecture, got {arch!r}"
                )
        out = self._lookup[ops.astype(np.int64) @ _POW5]
        if np.any(out < 0):
            missing = ops[out < 0][0]
            raise UnknownArchitectureError(
                f"nb201: architecture {self.ops_to_str(missing)!r} is not in the architecture "
                f"table ({self.n_archs} architectures)"
            )
        return int(out[0]) if scalar else out

    def arch_str(self, idx: Any) -> str | list[str]:
        """Architecture string(s) of index(es): a str for a scalar, else a list of str."""
        ops = self.ops(idx)
        strs = [self.ops_to_str(row) for row in ops]
        return strs[0] if np.ndim(idx) == 0 else strs

    # ------------------------------------------------------------- structure
    @staticmethod
    def ops_disconnected(ops: np.ndarray) -> np.ndarray:
        """Whether cells (op-code rows, shape ``(n, 6)``) cut the output off from the input."""
        ops = np.atleast_2d(np.asarray(ops))
        live = ops != 0
        reach = [np.ones(ops.shape[0], dtype=bool)] + [
            np.zeros(ops.shape[0], dtype=bool) for _ in range(3)
        ]
        for e, (dst, src) in enumerate(_EDGES):  # sources precede targets in this order
            reach[dst] |= reach[src] & live[:, e]
        return ~reach[3]

    def is_disconnected(self, idx: Any) -> np.ndarray:
        """Whether each architecture's cell output is unreachable from its input.

        Only non-``none`` edges connect.  Such networks output a constant (the cells emit
        zeros), and some devices or compilers then skip most of the work, so their measured
        latency can be near zero.

        Returns
        -------
        numpy.ndarray of bool, shape (n,)
        """
        return self.ops_disconnected(self.ops(idx))

    def degenerate(self, idx: Any) -> np.ndarray:
        """The disconnected cells (:meth:`is_disconnected`): constant output, chance accuracy."""
        return self.is_disconnected(idx)

    # -------------------------------------------------------------- encoding
    def _factors(self) -> list[Factor]:
        return [
            Factor(f"edge{e}", tuple(range(len(_OPS))), _OPS, self.reference_op)
            for e in range(_N_EDGES)
        ]

    def _factor_codes(self, idx: np.ndarray) -> np.ndarray:
        return self._table[idx]

    # ----------------------------------------------------------------- costs
    def _stages(self) -> list[tuple[int, int]]:
        """(channels, spatial size) of the three stages."""
        h = self.resolution
        out = []
        for c in self.stage_channels:
            out.append((c, h))
            h = -(-h // 2)
        return out

    def _cost_tables(self) -> tuple[float, np.ndarray, float, np.ndarray]:
        """Skeleton MACs, per-op MACs of one edge in all 15 cells, skeleton / per-op params."""
        op_macs = np.zeros(len(_OPS))
        op_params = np.zeros(len(_OPS))
        for c, h in self._stages():
            n = self.cells_per_stage
            op_macs[2] += n * c * c * h * h
            op_macs[3] += n * 9 * c * c * h * h
            op_macs[4] += n * 9 * c * h * h
            op_params[2] += n * (c * c + 2 * c)
            op_params[3] += n * (9 * c * c + 2 * c)
        stages = self._stages()
        c0, h0 = stages[0]
        macs = 9 * 3 * c0 * h0 * h0  # stem conv
        params = 9 * 3 * c0 + 2 * c0  # stem conv + BN
        for (cin, _), (cout, h) in zip(stages[:-1], stages[1:], strict=True):
            macs += 9 * cin * cout * h * h + 9 * cout * cout * h * h  # conv_a (stride 2), conv_b
            macs += 4 * cin * h * h + cin * cout * h * h  # shortcut: avgpool 2x2 + conv 1x1
            params += 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout + cin * cout
        c_last = stages[-1][0]
        macs += c_last * self.n_classes  # classifier
        params += 2 * c_last + c_last * self.n_classes + self.n_classes  # last BN + linear
        return float(macs), op_macs, float(params), op_params

    def ops_flops(self, ops: np.ndarray) -> np.ndarray:
        """MFLOPs of op-code rows (shape ``(n, 6)``); see :meth:`flops`."""
        base, per_op, _, _ = self._cost_tables()
        return (base + per_op[np.atleast_2d(ops)].sum(axis=1)) / 1e6

    def ops_params(self, ops: np.ndarray) -> np.ndarray:
        """Millions of parameters of op-code rows (shape ``(n, 6)``); see :meth:`params`."""
        _, _, base, per_op = self._cost_tables()
        return (base + per_op[np.atleast_2d(ops)].sum(axis=1)) / 1e6

    def flops(self, idx: Any) -> np.ndarray:
        """Multiply-accumulates of the NB201 CIFAR network, in millions.

        The macro network follows NAS-Bench-201: stem 3x3 conv (3->16) + BN; three stages of 5
        cells with C = 16, 32, 64 at 32x32, 16x16, 8x8; between stages a residual reduction
        block (ReLU-conv3x3 stride 2, ReLU-conv3x3, shortcut 2x2 avg-pool + 1x1 conv); final
        BN-ReLU, global average pool and a linear layer.  A multiply-add counts 1; cell ops
        ``nor_conv_kxk`` (ReLU-Conv(kxk, C->C)-BN) cost ``k*k*C*C*H*W``, ``avg_pool_3x3``
        ``9*C*H*W`` and 2x2 pooling ``4`` per output (as NAS-Bench-201's counter does), ``none``
        and ``skip_connect`` 0; BN, ReLU, additions and the global pool count 0.  Edges that
        are dead in a disconnected cell still count.  On CIFAR-10 this gives 7.81 (all
        ``none``) to 220.11 (all ``nor_conv_3x3``) MFLOPs, matching the 7.78-220.11 the
        NAS-Bench-201 API reports.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        return self.ops_flops(self.ops(idx))

    def params(self, idx: Any) -> np.ndarray:
        """Parameters of the NB201 CIFAR network, in millions.

        Conv weights (no biases), BN scale and shift (2 per channel) and the classifier's
        weights and biases, for the network described in :meth:`flops`: 0.073 (all ``none``)
        to 1.532 (all ``nor_conv_3x3``) M on CIFAR-10, as the NAS-Bench-201 API reports.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n,)``.
        """
        return self.ops_params(self.ops(idx))
