"""Figure of the few-shot harness (:func:`latxfer.evaluate.evaluate`): a metric against n, per target."""

from __future__ import annotations

import os

from latxfer.plots._common import figure, save

__all__ = ["plot_fewshot"]


def _panel(ax, d, t, methods, metric: str) -> None:
    import numpy as np

    for m in methods:
        r = d[(d["target"] == t) & (d["method"] == m)].sort_values("n")
        r = r[np.isfinite(r["mean"])]
        if r.empty:
            continue
        line, = ax.plot(r["n"], r["mean"], marker="o", ms=3, label=m)
        sd = r["sd"].fillna(0.0)
        ax.fill_between(r["n"], r["mean"] - sd, r["mean"] + sd, color=line.get_color(), alpha=0.15, lw=0)
    if metric == "coverage":
        ax.axhline(0.9, color="grey", ls=":", lw=1)
    ax.set_title("mean over targets" if t == "mean" else str(t), fontsize=10)
    ax.set_xlabel("target measurements n")
    ax.grid(alpha=0.3)


def plot_fewshot(result, path: str | os.PathLike | None = None, *, metric: str = "srcc", methods=None,
                 title: str | None = None, overwrite: bool = True):
    """A metric of the few-shot harness against the number of target measurements, one panel per target.

    Parameters
    ----------
    result : xarray.Dataset or pandas.DataFrame
        :func:`latxfer.evaluate.evaluate`'s result, or its :func:`~latxfer.evaluate.summarize` table.
    path : path-like, optional
        Where to save the figure.
    metric : str
        A metric of the result (``srcc``, ``srcc_trimmed``, ``coverage``, ``top10``...).
    methods : sequence of str, optional
        Methods to draw, in this order (default: all).
    title : str, optional
        Figure title.
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
        Mean over seeds with a band of +- one sd; the nominal level is drawn for ``coverage``.
    """
    import pandas as pd

    from latxfer.errors import ConfigError
    from latxfer.evaluate import summarize

    summ = result if isinstance(result, pd.DataFrame) else summarize(result)
    d = summ[summ["metric"] == metric]
    if d.empty:
        raise ConfigError(f"no metric {metric!r} in the result; it has {sorted(set(summ['metric']))}")
    known = list(dict.fromkeys(d["method"]))
    methods = known if methods is None else list(methods)
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ConfigError(f"method(s) {unknown} are not in the result; it has {known}")
    targets = list(dict.fromkeys(d["target"]))
    fig = figure((3.6 * len(targets) + 0.8, 3.6))
    axes = fig.subplots(1, len(targets), sharey=True, squeeze=False)[0]
    for ax, t in zip(axes, targets, strict=True):
        _panel(ax, d, t, methods, metric)
    axes[0].set_ylabel(metric)
    axes[-1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        save(fig, path, dpi=130, overwrite=overwrite)
    return fig
