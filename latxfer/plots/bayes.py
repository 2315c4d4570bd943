"""Figures of an adapted device: its predicted latencies, and the posterior SRCC between a proxy and it."""

from __future__ import annotations

import os

from latxfer.plots._common import figure, save

__all__ = ["plot_posterior_srcc", "plot_prediction"]


def plot_posterior_srcc(srcc_post, path: str | os.PathLike | None = None, *, title: str | None = None,
                        others: dict | None = None, overwrite: bool = True):
    """Posterior density of SRCC(proxy, target) with its interval, the threshold and P(SRCC >= threshold).

    Parameters
    ----------
    srcc_post : SRCCPosterior
        From :meth:`latxfer.models.LatencyModel.posterior_srcc`.
    path : path-like, optional
        Where to save the figure.
    title : str, optional
        Figure title.
    others : dict, optional
        ``label -> SRCCPosterior`` drawn as extra outlines (e.g. the adapted ranking's expected SRCC).
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

    fig = figure((6.4, 4.0))
    ax = fig.add_subplot(1, 1, 1)
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
        save(fig, path, dpi=130, overwrite=overwrite)
    return fig


def plot_prediction(posterior, path: str | os.PathLike | None = None, *, interval: float = 0.9,
                    title: str | None = None, max_points: int = 4000, overwrite: bool = True):
    """Predicted latency of every architecture, sorted, with its predictive interval and the measurements.

    Parameters
    ----------
    posterior : DevicePosterior
        The adapted device (latency in ms).
    path : path-like, optional
        Where to save the figure.
    interval : float
        Central predictive interval drawn as a band.
    title : str, optional
        Figure title (default: the device and the posterior's label).
    max_points : int
        Architectures drawn (an even subsample of the sorted order; measured ones are always drawn).
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np

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
    fig = figure((7.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
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
        save(fig, path, dpi=130, overwrite=overwrite)
    return fig
