"""Figures of the NAS workflows (:mod:`latxfer.nas`): Pareto fronts on accuracy vs latency."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from latxfer.plots._common import figure, save

__all__ = ["plot_pareto_fronts", "plot_search"]

_STYLES = [("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^"), ("tab:red", "D"), ("tab:purple", "v")]


def _figure(figsize=(6.4, 4.4)):
    fig = figure(figsize, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def _step(ax, lat, acc, **kw):
    """Attainment staircase of a front (minimise latency, maximise accuracy)."""
    o = np.argsort(lat, kind="stable")
    lat, acc = np.asarray(lat)[o], np.maximum.accumulate(np.asarray(acc)[o])
    ax.step(lat, acc, where="post", **kw)


def plot_pareto_fronts(fronts: Mapping[str, np.ndarray], truth, path=None, *, title: str | None = None,
                       log_latency: bool = False, show_space: bool = True, overwrite: bool = True):
    """Pareto sets of several workflows re-scored on the TRUE target latency, with the true front.

    Parameters
    ----------
    fronts : mapping label -> architecture indices
        E.g. ``{"proxy reuse": r.archs, "adapted (n=10)": a.archs}``.
    truth : latxfer.nas.TrueFront
        The true front (from :func:`latxfer.nas.true_pareto_front`); also gives every architecture's
        true latency (ms) and accuracy (%).
    path : path-like, optional
        Write the figure there (PNG, PDF, SVG by extension).
    title : str, optional
        Figure title.
    log_latency : bool
        Log-scaled latency axis.
    show_space : bool
        All architectures as light grey dots.
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure()
    if show_space:
        ax.scatter(truth.latency_ms, truth.accuracy, s=2, c="0.85", lw=0, label="all architectures",
                   rasterized=True)
    tl, ta = truth.lookup(truth.front_archs)
    _step(ax, tl, ta, color="k", lw=1.2, label=f"true target front ({len(tl)})")
    for (label, archs), (color, marker) in zip(fronts.items(), itertools.cycle(_STYLES)):
        archs = np.unique(np.asarray(archs, np.int64))
        archs = archs[np.isin(archs, truth.archs)]
        if archs.size == 0:
            continue
        fl, fa = truth.lookup(archs)
        _step(ax, fl, fa, color=color, lw=0.9, alpha=0.8)
        ax.scatter(fl, fa, s=22, marker=marker, facecolors="none", edgecolors=color, lw=1.1,
                   label=f"{label} ({archs.size})")
    if log_latency:
        ax.set_xscale("log")
    ax.set_xlabel("true target latency (ms)")
    ax.set_ylabel("accuracy (%)")
    lo = np.percentile(truth.accuracy, 5)
    ax.set_ylim(max(lo, float(np.min(ta)) if len(ta) else lo) - 1, float(truth.accuracy.max()) + 0.5)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    if path is not None:
        save(fig, path, dpi=150, overwrite=overwrite)
    return fig


def plot_search(result, path=None, *, interval: float = 0.9, title: str | None = None, overwrite: bool = True):
    """The Pareto set of one search on its own (predicted) latency, with posterior intervals.

    Parameters
    ----------
    result : latxfer.nas.SearchResult
        Evaluated architectures are drawn grey, the Pareto set in colour; with a posterior, horizontal
        bars show the central ``interval`` of each Pareto architecture's latency (ms) and measured
        architectures are marked.
    path : path-like, optional
        Write the figure there (PNG, PDF, SVG by extension).
    interval : float
        Central posterior interval of the bars.
    title : str, optional
        Figure title (default: the device and the trial counts).
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    pb = result.problem
    fig, ax = _figure()
    ev = pb.positions(np.unique(result.trial_archs))
    ax.scatter(pb.latency_ms[ev], pb.accuracy[ev], s=4, c="0.75", lw=0, label=f"evaluated ({ev.size})")
    tab = result.table(interval)
    if len(tab):
        x, y = tab["latency_ms"].to_numpy(), tab["accuracy"].to_numpy()
        lo_col = [c for c in tab.columns if c.startswith("lower")]
        if lo_col:
            lo, hi = tab[lo_col[0]].to_numpy(), tab[lo_col[0].replace("lower", "upper")].to_numpy()
            ax.errorbar(x, y, xerr=[np.maximum(x - lo, 0), np.maximum(hi - x, 0)], fmt="none",
                        ecolor="tab:blue", alpha=0.5, lw=0.8, label=f"{int(round(interval * 100))}% interval")
            meas = np.isfinite(tab["measured_ms"].to_numpy())
            if meas.any():
                ax.scatter(tab["measured_ms"].to_numpy()[meas], y[meas], marker="x", c="tab:red", s=30,
                           label="measured on target")
        _step(ax, x, y, color="tab:blue", lw=1)
        ax.scatter(x, y, s=20, c="tab:blue", label=f"Pareto set ({len(tab)})")
    if pb.budget_ms is not None:
        ax.axvline(pb.budget_ms, color="tab:red", ls="--", lw=0.8, label=f"budget {pb.budget_ms:g} ms")
    ax.set_xlabel(f"predicted latency, objective {pb.objective} (ms)")
    ax.set_ylabel(f"accuracy ({pb.accuracy_name}, %)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(title or f"{pb.device}: {result.n_trials} trials, {result.n_unique} unique architectures",
                 fontsize=10)
    if path is not None:
        save(fig, path, dpi=150, overwrite=overwrite)
    return fig
