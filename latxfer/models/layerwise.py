"""Layer-wise target measurements: per-layer op costs as observations of a new device's coefficients.

Layer tables (``fbnet-layers``, or a CSV with ``layer, op`` columns) give each layer's latency relative to
its reference op, and end-to-end = sum of layers + intercept.  Every observed non-reference cell is an
observation ``y / s = B[feature] theta + noise`` of the device's coefficients, with ``B`` from
:func:`layer_map`; the update is the fast path's (:func:`latxfer.models.mixture.adapt_fast`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latxfer import dims as D
from latxfer.errors import ConfigError, InvalidLatencyError
from latxfer.models.mixture import op_projection

if TYPE_CHECKING:  # pragma: no cover
    from latxfer.models.latency_model import LatencyModel

__all__ = ["layer_map", "layer_rows"]


def layer_map(m: LatencyModel) -> tuple[np.ndarray, np.ndarray]:
    """Linear map from a device's coefficients to its per-layer op costs.

    A device's latency function over the space is ``Z theta`` (``Z = [1, F, Q]``, scaled units).  Its
    additive part is ``c + sum_l beta(l, op_l)`` with ``beta`` in the space's reference coding (each
    layer's cost relative to its reference op: ``skip`` for FBNet, the convention of the layer tables).
    ``[c, beta] = B theta`` with ``B`` the least-squares projection of ``Z`` on ``[1, X]``; since the
    encoding lies in the span of ``Z``, ``B`` is exact for every additive device.

    Parameters
    ----------
    m : LatencyModel
        A fitted model of a layer-structured space, in the reference coding.

    Returns
    -------
    B : numpy.ndarray
        ``(1 + n_features, 1 + K + P)``: row 0 maps to the intercept ``c``, row ``1 + j`` to feature ``j``.
    col : numpy.ndarray
        ``(n_positions, n_codes)`` feature index of (layer, op code); -1 for the reference op (cost 0).
    """
    if getattr(m, "_layer_map_cache", None) is None:
        from latxfer.data.datasets import load_space

        space = load_space(m.space_name)
        if not hasattr(space, "position_dim") or space.position_dim != D.LAYER:
            raise ConfigError(f"layer-wise measurements need a layer-structured space; "
                              f"{m.space_name!r} is not one")
        coding = m.config["model"]["coding"]
        if coding != "reference":
            raise ConfigError(f"layer-wise adaptation needs the reference coding, the model uses {coding!r}")
        proj = op_projection(m)  # in the reference coding, checked above
        factors = space._factors()
        n_codes = 1 + max(max(f.levels) for f in factors)
        col = np.full((len(factors), n_codes), -1, np.int64)
        j = 0
        for i, f in enumerate(factors):
            for code in f.levels:
                if code != f.reference:
                    col[i, code] = j
                    j += 1
        m._layer_map_cache = {"B": proj["B"], "col": col, "space": space, "additive": proj["additive"]}
    return m._layer_map_cache["B"], m._layer_map_cache["col"]


def layer_rows(m: LatencyModel, archs, layer_ms, intercept_ms):
    """Design rows and values of layer-wise measurements (reference-op rows checked and dropped).

    Returns
    -------
    archs : numpy.ndarray
        ``(n,)`` architectures.
    Y : numpy.ndarray
        ``(n, n_layers)`` the layer latencies (ms).
    Z : numpy.ndarray
        Design rows of the observed cells (and of the intercept, first, when given).
    y : numpy.ndarray
        Their values (ms).
    """
    archs = np.atleast_1d(np.asarray(archs, np.int64))
    Y = np.atleast_2d(np.asarray(layer_ms, float))
    B, col = layer_map(m)
    space = m._layer_map_cache["space"]
    if Y.shape != (len(archs), col.shape[0]):
        raise ConfigError(f"layer latencies must be (n_archs, {col.shape[0]} layers); got {Y.shape} for "
                          f"{len(archs)} architecture(s)")
    m.basis.positions(archs)  # UnknownArchitectureError naming them
    codes = space._factor_codes(archs)
    lay_idx = np.broadcast_to(np.arange(col.shape[0]), Y.shape)
    feat = col[lay_idx, codes]
    obs = np.isfinite(Y)
    bad = obs & (np.abs(Y) > 1e3 * np.finfo(float).eps * np.nanmax(np.abs(Y), initial=1.0)) & (feat < 0)
    if bad.any():
        a, lay_i = np.argwhere(bad)[0]
        raise InvalidLatencyError(
            f"layer-wise latencies are relative to each layer's reference op (the layer tables' "
            f"convention: end-to-end = sum of layers + intercept); architecture {archs[a]} layer {lay_i} has "
            f"the reference op but {Y[a, lay_i]:g} ms ({int(bad.sum())} such cell(s))"
        )
    use = obs & (feat >= 0)
    Z = B[1 + feat[use]]
    y = Y[use]
    if intercept_ms is not None:
        if not np.isfinite(intercept_ms):
            raise InvalidLatencyError(f"the intercept must be finite, got {intercept_ms}")
        Z, y = np.vstack([B[:1], Z]), np.r_[float(intercept_ms), y]
    return archs, Y, Z, y
