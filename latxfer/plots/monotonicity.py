"""Figure of a device-by-device rank-correlation matrix (:func:`latxfer.monotonicity.monotonicity_matrix`)."""

from __future__ import annotations

import os

from latxfer.plots._common import figure, save

__all__ = ["plot_monotonicity_heatmap"]


def _annotate(ax, m, lo, hi, vmin: float) -> None:
    d = m.shape[0]
    fs = 8 if d <= 10 else 6 if d <= 20 else 4
    for i in range(d):
        for j in range(d):
            txt = f"{m[i, j]:.2f}"
            if lo is not None and i != j:
                txt += f"\n[{lo[i, j]:.2f},{hi[i, j]:.2f}]"
            colour = "white" if m[i, j] < vmin + 0.6 * (1 - vmin) else "black"
            ax.text(j, i, txt, ha="center", va="center", fontsize=fs, color=colour)


def plot_monotonicity_heatmap(result, path: str | os.PathLike | None = None, *, metric: str = "srcc",
                              annotate: bool = True, intervals: bool | None = None, title: str | None = None,
                              vmin: float | None = None, overwrite: bool = True):
    """Heatmap of a device-by-device rank-correlation matrix, annotated with its values.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`latxfer.monotonicity.monotonicity_matrix` (dims ``device``, ``other_device``).
    path : path-like, optional
        Where to save the figure (format from the suffix, e.g. ``.png``); None: do not save.
    metric : {"srcc", "kendall"}
        Which matrix.
    annotate : bool
        Write the value in every cell.
    intervals : bool, optional
        Also write ``[lower, upper]`` under the value (default: when there are at most 8 devices).
    title : str, optional
        Figure title (default: the metric and the dataset).
    vmin : float, optional
        Lower end of the colour scale (default: the matrix minimum, at most 0.5).
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    from latxfer.errors import ConfigError

    if metric not in result:
        raise ConfigError(f"no {metric!r} in the result; expected one of 'srcc', 'kendall'")
    m = np.asarray(result[metric].values, dtype=float)
    names = [str(d) for d in result[metric].coords[result[metric].dims[0]].values]
    d = len(names)
    intervals = d <= 8 if intervals is None else intervals
    lo = hi = None
    if intervals and f"{metric}_lower" in result:
        lo, hi = result[f"{metric}_lower"].values, result[f"{metric}_upper"].values
    size = max(4.0, 0.75 * d + 2.0)
    fig = figure((size + 1.2, size))
    ax = fig.add_subplot(1, 1, 1)
    vmin = min(0.5, float(np.nanmin(m))) if vmin is None else vmin
    im = ax.imshow(m, cmap="viridis", vmin=vmin, vmax=1.0)
    ax.set_xticks(range(d), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(d), names, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=metric.upper() if metric == "srcc" else "Kendall tau-b")
    if annotate:
        _annotate(ax, m, lo, hi, vmin)
    if title is None:
        iv = result.attrs.get("interval")
        title = f"{'SRCC' if metric == 'srcc' else 'Kendall'} between devices" + (
            f" ({result.attrs.get('dataset')})" if result.attrs.get("dataset") else "")
        if lo is not None and iv:
            title += f"\n[{float(iv):.0%} interval]"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi=150, overwrite=overwrite)
    return fig
