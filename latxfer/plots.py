"""Figures.  matplotlib is imported lazily inside each function (Agg backend: no display needed)."""

from __future__ import annotations

import os

__all__ = ["plot_fewshot", "plot_monotonicity_heatmap", "plot_posterior_srcc", "plot_prediction"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_monotonicity_heatmap(result, path: str | os.PathLike | None = None, *, metric: str = "srcc",
                              annotate: bool = True, intervals: bool | None = None, title: str | None = None,
                              vmin: float | None = None):
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
    vmin : float, optional
        Lower end of the colour scale (default: the matrix minimum, at most 0.5).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    from latxfer.errors import ConfigError

    if metric not in result:
        raise ConfigError(f"no {metric!r} in the result; expected one of 'srcc', 'kendall'")
    plt = _pyplot()
    m = np.asarray(result[metric].values, dtype=float)
    names = [str(d) for d in result[metric].coords[result[metric].dims[0]].values]
    d = len(names)
    intervals = d <= 8 if intervals is None else intervals
    lo = hi = None
    if intervals and f"{metric}_lower" in result:
        lo, hi = result[f"{metric}_lower"].values, result[f"{metric}_upper"].values
    size = max(4.0, 0.75 * d + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    vmin = min(0.5, float(np.nanmin(m))) if vmin is None else vmin
    im = ax.imshow(m, cmap="viridis", vmin=vmin, vmax=1.0)
    ax.set_xticks(range(d), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(d), names, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=metric.upper() if metric == "srcc" else "Kendall tau-b")
    if annotate:
        fs = 8 if d <= 10 else 6 if d <= 20 else 4
        for i in range(d):
            for j in range(d):
                txt = f"{m[i, j]:.2f}"
                if lo is not None and i != j:
                    txt += f"\n[{lo[i, j]:.2f},{hi[i, j]:.2f}]"
                colour = "white" if m[i, j] < vmin + 0.6 * (1 - vmin) else "black"
                ax.text(j, i, txt, ha="center", va="center", fontsize=fs, color=colour)
    if title is None:
        iv = result.attrs.get("interval")
        title = f"{'SRCC' if metric == 'srcc' else 'Kendall'} between devices" + (
            f" ({result.attrs.get('dataset')})" if result.attrs.get("dataset") else "")
        if lo is not None and iv:
            title += f"\n[{float(iv):.0%} interval]"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
        plt.close(fig)
    return fig


def plot_posterior_srcc(srcc_post, path: str | os.PathLike | None = None, *, title: str | None = None,
                        others: dict | None = None):
    """Posterior density of SRCC(proxy, target) with its interval, the threshold and P(SRCC >= threshold).

    Parameters
    ----------
    srcc_post : SRCCPosterior
        From :meth:`latxfer.models.LatencyModel.posterior_srcc`.
    path : path-like, optional
        Where to save the figure.
    title : str, optional
    others : dict, optional
        ``label -> SRCCPosterior`` drawn as extra outlines (e.g. the adapted ranking's expected SRCC).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    draws = np.asarray(srcc_post.draws, float)
    lo, hi = srcc_post.interval
    all_draws = [draws] + [np.asarray(o.draws, float) for o in (others or {}).values()]
    low = min(float(np.min(d)) for d in all_draws)
    top = max(float(np.max(d)) for d in all_draws)
    pad = max(0.01, 0.05 * (top - low))
    bins = np.linspace(min(low, srcc_post.threshold) - pad, min(1.0, max(top, srcc_post.threshold) + pad), 50)
    ax.hist(draws, bins=bins, density=True, color="tab:blue", alpha=0.55, label="SRCC(proxy, target)")
    ax.axvspan(lo, hi, color="tab:blue", alpha=0.12, label=f"{srcc_post.prob:.0%} interval [{lo:.3f}, {hi:.3f}]")
    ax.axvline(srcc_post.threshold, color="tab:red", ls="--",
               label=f"threshold {srcc_post.threshold}: P(SRCC >= it) = {srcc_post.p_above:.2f}")
    for (name, o), colour in zip((others or {}).items(), ["tab:green", "tab:purple", "tab:orange"], strict=False):
        ax.hist(np.asarray(o.draws, float), bins=bins, density=True, histtype="step", lw=1.6, color=colour,
                label=name)
    ax.set_xlabel("Spearman rank correlation")
    ax.set_ylabel("posterior density")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "Posterior of the proxy-target rank correlation", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def plot_prediction(posterior, path: str | os.PathLike | None = None, *, interval: float = 0.9,
                    title: str | None = None, max_points: int = 4000):
    """Predicted latency of every architecture, sorted, with its predictive interval and the measurements.

    Parameters
    ----------
    posterior : DevicePosterior
    path : path-like, optional
    interval : float
        Central predictive interval drawn as a band.
    max_points : int
        Architectures drawn (an even subsample of the sorted order; measured ones are always drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    plt = _pyplot()
    s = posterior.summary(interval)
    mean = np.asarray(s["mean_ms"].values)
    lower, upper = np.asarray(s["lower_ms"].values), np.asarray(s["upper_ms"].values)
    order = np.argsort(mean, kind="stable")
    keep = order[np.unique(np.linspace(0, len(order) - 1, min(max_points, len(order))).astype(int))]
    xs = np.empty(len(order), int)
    xs[order] = np.arange(len(order))
    keep = np.sort(keep)
    kx = xs[keep]
    o = np.argsort(kx)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.fill_between(kx[o], lower[keep][o], upper[keep][o], color="tab:blue", alpha=0.2,
                    label=f"{interval:.0%} predictive interval")
    ax.plot(kx[o], mean[keep][o], color="tab:blue", lw=1.2, label="posterior mean")
    meas = np.isfinite(posterior.measured_ms)
    if meas.any():
        ax.scatter(xs[meas], posterior.measured_ms[meas], s=18, color="tab:red", zorder=3,
                   label=f"measured ({int(meas.sum())})")
    ax.set_xlabel("architectures, sorted by predicted latency")
    ax.set_ylabel("latency (ms)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or f"{posterior.device}: {posterior.label}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def plot_fewshot(result, path: str | os.PathLike | None = None, *, metric: str = "srcc", methods=None,
                 title: str | None = None):
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

    Returns
    -------
    matplotlib.figure.Figure
        Mean over seeds with a band of +- one sd; the nominal level is drawn for ``coverage``.
    """
    import numpy as np
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
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(targets), figsize=(3.6 * len(targets) + 0.8, 3.6), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
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
    axes[0][0].set_ylabel(metric)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig
