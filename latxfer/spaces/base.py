"""Abstract search space: architecture indexing, validation, encodings and sampling.

A search space maps an integer *architecture index* (a row of its architecture table) to the
operation chosen at each *position* (an edge of the NAS-Bench-201 cell, a layer of the FBNet
supernet, a block of the Once-for-All MobileNetV3).  Every encoding is built from *factors*: one
categorical factor per position (levels = the ops allowed there) plus, for some spaces, extra
factors (the input resolution of OFA).  From factors the base class derives three codings:

``"onehot"``
    One 0/1 column per (factor, allowed level).  Together with an intercept this design is
    rank-deficient: within each factor the columns sum to one.  Use it for tree models or
    penalised fits only.
``"reference"``
    Treatment coding: the column of each factor's reference level is dropped, so a linear
    model's coefficients are the effects relative to the reference level and the intercept is
    the network with every factor at its reference.  Full column rank together with an
    intercept.
``"sum_to_zero"``
    Effects (deviation) coding: like ``"reference"`` but an architecture at the reference
    level gets ``-1`` in all that factor's columns, so the intercept is the mean over levels.

No encoding includes an intercept column: callers add it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from latxfer.errors import ConfigError, UnknownArchitectureError

__all__ = ["CODINGS", "Factor", "SearchSpace"]

#: The codings accepted by :meth:`SearchSpace.encode`.
CODINGS: tuple[str, ...] = ("reference", "sum_to_zero", "onehot")

_SHOW = 5  # offending values listed in error messages


@dataclass(frozen=True)
class Factor:
    """One categorical factor of an encoding.

    Parameters
    ----------
    label : str
        Prefix of the feature names, e.g. ``"edge3"`` or ``"r"``.
    levels : tuple of int
        Codes of the levels this factor can take (ascending).
    level_names : tuple of str
        Names of ``levels``, same order.
    reference : int
        Code of the reference level (one of ``levels``).
    """

    label: str
    levels: tuple[int, ...]
    level_names: tuple[str, ...]
    reference: int

    def feature_names(self, coding: str) -> list[str]:
        """Column names of this factor for ``coding`` (see :meth:`SearchSpace.feature_names`)."""
        return [
            f"{self.label}={name}"
            for code, name in zip(self.levels, self.level_names, strict=True)
            if coding == "onehot" or code != self.reference
        ]

    def encode(self, codes: np.ndarray, coding: str) -> np.ndarray:
        """Encode a vector of level codes, shape ``(n,)``, into ``(n, k)`` floats."""
        keep = [c for c in self.levels if coding == "onehot" or c != self.reference]
        out = (codes[:, None] == np.asarray(keep)[None, :]).astype(np.float64)
        if coding == "sum_to_zero":
            out[codes == self.reference, :] = -1.0
        return out


def _fmt_values(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:_SHOW].tolist())
    more = f", ... ({values.size} in all)" if values.size > _SHOW else ""
    return f"[{shown}{more}]"


class SearchSpace(abc.ABC):
    """Abstract base class of the search spaces.

    Subclasses set the class attributes below and implement :meth:`_factors`, :meth:`_factor_codes`, :meth:`flops`, :meth:`params` and
    :meth:`from_archs_csv`; a space whose table is not the op-code array itself also overrides
    :meth:`_ops_all` and :meth:`_table_len`.

    Parameters
    ----------
    arch_table : array-like or dict or None
        The architecture table: row ``i`` describes architecture index ``i`` (see the
        subclass).  Index-based methods raise :class:`~latxfer.errors.ConfigError` when it is
        absent.

    Attributes
    ----------
    name : str
        Registry name (``"nb201"``, ``"fbnet"``, ``"ofa"``).
    position_dim : str
        Name of the dimension of positions (``"edge"``, ``"layer"``, ``"block"``).
    n_positions : int
        Number of positions.
    op_names : tuple of str
        Name of each op code (the code is the position in the tuple).
    default_n_archs : int
        Number of architectures of the shared data table (used when no table is given).
    """

    name: ClassVar[str]
    position_dim: ClassVar[str]
    n_positions: ClassVar[int]
    op_names: ClassVar[tuple[str, ...]]
    default_n_archs: ClassVar[int]

    def __init__(self, arch_table: Any = None) -> None:
        self._table = None if arch_table is None else self._check_table(arch_table)

    # ------------------------------------------------------------------ table
    @abc.abstractmethod
    def _check_table(self, arch_table: Any) -> Any:
        """Validate and normalise an architecture table (raise UnknownArchitectureError)."""

    def _table_len(self) -> int:
        """Number of rows of the (present) table (default: a table that is the op-code array itself)."""
        return int(self._table.shape[0])

    @classmethod
    @abc.abstractmethod
    def from_archs_csv(cls, path: str | Path) -> SearchSpace:
        """Build the space from a shared-format ``archs.csv`` file."""

    @property
    def has_table(self) -> bool:
        """Whether an architecture table was given."""
        return self._table is not None

    @property
    def arch_table(self) -> Any:
        """The architecture table (raises :class:`~latxfer.errors.ConfigError` if absent)."""
        return self._require_table()

    def _require_table(self) -> Any:
        if self._table is None:
            raise ConfigError(
                f"search space {self.name!r} was built without an architecture table, which is "
                f"needed to look architectures up by index; build it with "
                f"{type(self).__name__}.from_archs_csv(path) or "
                f"get_space({self.name!r}, arch_table=...)"
            )
        return self._table

    @property
    def n_archs(self) -> int:
        """Number of indexed architectures (rows of the table, else ``default_n_archs``)."""
        return self._table_len() if self._table is not None else self.default_n_archs

    @property
    def n_ops(self) -> int:
        """Number of op codes."""
        return len(self.op_names)

    def __repr__(self) -> str:
        table = "with table" if self.has_table else "without table"
        return f"{type(self).__name__}(n_archs={self.n_archs}, {table})"

    # ---------------------------------------------------------------- indices
    def validate_indices(self, idx: Any) -> np.ndarray:
        """Check architecture indices and return them as a 1-d int64 array.

        Parameters
        ----------
        idx : int or array-like of int
            Architecture indices; a scalar gives an array of length one.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n,)``.

        Raises
        ------
        UnknownArchitectureError
            If a value is not an integer or is outside ``[0, n_archs - 1]``; the message names
            the first offending values, their count and the valid range.
        """
        arr = np.atleast_1d(np.asarray(idx))
        if arr.ndim != 1:
            raise UnknownArchitectureError(
                f"{self.name}: architecture indices must be a scalar or 1-d, got shape {arr.shape}"
            )
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            if arr.size == 0:
                return np.zeros(0, dtype=np.int64)
            raise UnknownArchitectureError(
                f"{self.name}: architecture indices must be integers in [0, {self.n_archs - 1}], "
                f"got dtype {arr.dtype}: {_fmt_values(arr)}"
            )
        if np.issubdtype(arr.dtype, np.floating):
            bad = arr[~np.isfinite(arr) | (arr != np.round(arr))]
            if bad.size:
                raise UnknownArchitectureError(
                    f"{self.name}: {bad.size} architecture indices are not integers "
                    f"(valid: integers in [0, {self.n_archs - 1}]): {_fmt_values(bad)}"
                )
        out = arr.astype(np.int64)
        bad = out[(out < 0) | (out >= self.n_archs)]
        if bad.size:
            raise UnknownArchitectureError(
                f"{self.name}: {bad.size} architecture indices out of range "
                f"[0, {self.n_archs - 1}]: {_fmt_values(bad)}"
            )
        return out

    def enumerate(self) -> np.ndarray:
        """All architecture indices, ``np.arange(n_archs)`` (int64)."""
        return np.arange(self.n_archs, dtype=np.int64)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` distinct architecture indices uniformly at random.

        Parameters
        ----------
        n : int
            Number of indices, ``0 <= n <= n_archs``.
        rng : numpy.random.Generator or int or None
            Generator or seed (passed to :func:`numpy.random.default_rng`); a seed or a
            generator in the same state gives the same indices.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n,)`` in random order.

        Raises
        ------
        ConfigError
            If ``n`` is negative, not an integer or larger than ``n_archs``.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise ConfigError(f"{self.name}: sample size must be an integer, got {n!r}")
        if n < 0 or n > self.n_archs:
            raise ConfigError(
                f"{self.name}: cannot sample {n} distinct architectures; the space indexes "
                f"{self.n_archs} (expected 0 <= n <= {self.n_archs})"
            )
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return gen.choice(self.n_archs, size=int(n), replace=False).astype(np.int64)

    # -------------------------------------------------------------------- ops
    def _ops_all(self) -> np.ndarray:
        """Op codes of every table row, shape ``(n_archs, n_positions)`` (default: the table itself; a
        space whose table holds something else, as OFA's, overrides this and :meth:`_table_len`)."""
        return self._table

    def ops(self, idx: Any) -> np.ndarray:
        """Op code at every position.

        Parameters
        ----------
        idx : int or array-like of int
            Architecture indices.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n, n_positions)``; ``op_names[code]`` names a code.
        """
        idx = self.validate_indices(idx)
        self._require_table()
        return self._ops_all()[idx]

    def op_counts(self, idx: Any) -> np.ndarray:
        """How often each op occurs over the positions.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n, n_ops)``; rows sum to ``n_positions``.
        """
        ops = self.ops(idx)
        return (ops[:, :, None] == np.arange(self.n_ops)[None, None, :]).sum(axis=1)

    # -------------------------------------------------------------- encodings
    @abc.abstractmethod
    def _factors(self) -> list[Factor]:
        """The factors of the encodings (positions first)."""

    @abc.abstractmethod
    def _factor_codes(self, idx: np.ndarray) -> np.ndarray:
        """Level codes of every factor for validated indices, shape ``(n, n_factors)``."""

    @staticmethod
    def _check_coding(coding: str) -> None:
        if coding not in CODINGS:
            raise ConfigError(f"unknown coding {coding!r}; expected one of {list(CODINGS)}")

    def feature_names(self, coding: str = "reference") -> list[str]:
        """Names of the columns of :meth:`encode`, as ``"<factor>=<level>"``.

        Parameters
        ----------
        coding : {"reference", "sum_to_zero", "onehot"}
            The coding.

        Returns
        -------
        list of str
        """
        self._check_coding(coding)
        return [name for f in self._factors() for name in f.feature_names(coding)]

    def reference_ops(self) -> dict[str, str]:
        """The reference level of each factor, ``{factor label: level name}``."""
        return {f.label: f.level_names[f.levels.index(f.reference)] for f in self._factors()}

    def encode(self, idx: Any, coding: str = "reference") -> np.ndarray:
        """Design-matrix features of architectures, without an intercept column.

        Parameters
        ----------
        idx : int or array-like of int
            Architecture indices.
        coding : {"reference", "sum_to_zero", "onehot"}
            ``"reference"`` (treatment) and ``"sum_to_zero"`` (effects) coding drop each
            factor's reference level and give, with an intercept, a full-rank design;
            ``"onehot"`` keeps every allowed level and is rank-deficient with an intercept
            (each factor's columns sum to one).  See the module docstring.

        Returns
        -------
        numpy.ndarray
            float64 array of shape ``(n, len(feature_names(coding)))``.
        """
        self._check_coding(coding)
        blocks = self._blocks(idx, coding)
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((np.size(idx), 0))

    def onehot_blocks(self, idx: Any) -> list[np.ndarray]:
        """The one-hot encoding of each factor (positions first) as a separate ``(n, levels)`` block: the
        pieces :meth:`encode` (``"onehot"``) concatenates, for features built on factor pairs
        (:func:`latxfer.baselines.own.pairwise_features`)."""
        return self._blocks(idx, "onehot")

    def _blocks(self, idx: Any, coding: str) -> list[np.ndarray]:
        """Each factor's columns of the encoding of validated ``idx`` in ``coding``."""
        idx = self.validate_indices(idx)
        self._require_table()
        codes = self._factor_codes(idx)
        return [f.encode(codes[:, j], coding) for j, f in enumerate(self._factors())]

    def degenerate(self, idx: Any) -> np.ndarray:
        """Architectures no search would deploy (e.g. a network whose output ignores its input).

        Measurement planning does not propose them by default.  The base class has none; NB201 flags
        its disconnected cells (:meth:`NB201Space.is_disconnected`).

        Returns
        -------
        numpy.ndarray of bool, shape (n,)
        """
        return np.zeros(np.atleast_1d(np.asarray(idx)).shape[0], dtype=bool)

    # ----------------------------------------------------------------- costs
    @abc.abstractmethod
    def flops(self, idx: Any) -> np.ndarray:
        """Analytic multiply-accumulates of the whole network, in millions (float64, ``(n,)``)."""

    @abc.abstractmethod
    def params(self, idx: Any) -> np.ndarray:
        """Analytic parameter count of the whole network, in millions (float64, ``(n,)``)."""


# ---------------------------------------------------------------- csv helpers
def read_table(path: str | Path, required: Sequence[str]) -> Any:
    """Read a shared-format ``archs.csv`` into a DataFrame sorted by ``arch_id``.

    Raises DataFileNotFoundError, EmptyDataError, MissingColumnError or
    UnknownArchitectureError (``arch_id`` not exactly ``0..n-1``), each naming the file.
    """
    import pandas as pd

    from latxfer.errors import DataFileNotFoundError, EmptyDataError, MissingColumnError

    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"architecture table {str(path)!r} does not exist")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise EmptyDataError(f"architecture table {str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UnknownArchitectureError(
            f"architecture table {str(path)!r} is not a readable CSV file: {exc}"
        ) from None
    if len(df) == 0:
        raise EmptyDataError(f"architecture table {str(path)!r} has a header but no rows")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"architecture table {str(path)!r} lacks column(s) {missing}; expected columns "
            f"{list(required)}, found {list(df.columns)}"
        )
    ids = pd.to_numeric(df["arch_id"], errors="coerce")
    if ids.isna().any() or not np.array_equal(np.sort(ids.to_numpy()), np.arange(len(df))):
        raise UnknownArchitectureError(
            f"architecture table {str(path)!r}: column 'arch_id' must hold each of "
            f"0..{len(df) - 1} exactly once"
        )
    return df.assign(arch_id=ids.astype(np.int64)).sort_values("arch_id").reset_index(drop=True)


def int_columns(df: Any, columns: Sequence[str], path: str | Path) -> np.ndarray:
    """Integer matrix of ``columns`` of ``df``; UnknownArchitectureError naming ``path`` if not."""
    import pandas as pd

    block = df[list(columns)].apply(pd.to_numeric, errors="coerce")
    values = block.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise UnknownArchitectureError(
            f"architecture table {str(path)!r}: {int(bad.sum())} non-integer op code(s), first "
            f"in row arch_id={int(df['arch_id'].iloc[row])}, column {columns[col]!r}: "
            f"{df[columns[col]].iloc[row]!r}"
        )
    return values.astype(np.int64)
