"""Figure of a measurement plan (:func:`latxfer.plan.preposterior`): expected SRCC vs target measurements."""

from __future__ import annotations

import numpy as np

from latxfer.plots._common import figure, save

__all__ = ["plot_plan"]


def _figure(ncols: int):
    fig = figure((5.2 * ncols, 4.0), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def plot_plan(result, path=None, *, others=None, title: str | None = None, overwrite: bool = True):
    """Expected curve(s) of a :class:`latxfer.plan.PlanResult` with the realised values after each round.

    Parameters
    ----------
    result : PlanResult
        Its SRCC band (median over simulated devices, 90% band for a real one: ``PlanResult.band``) is
        drawn against the total number of target measurements; ``result.realised`` ``(n_measured,
        value)`` pairs as points (true values, when known), ``result.history`` (the posterior's expected
        SRCC after each of the user's earlier rounds) as a thin line, and the current posterior's expected
        SRCC as a diamond.  With a proxy, a
        second panel shows P(SRCC(proxy, target) >= threshold).
    path : path-like, optional
        Write the figure there (PNG, PDF, SVG by extension).
    others : mapping label -> PlanResult, optional
        More plans on the same axes (e.g. random selection for comparison).
    title : str, optional
        Figure title (default: the device and the goal).
    overwrite : bool
        Replace an existing ``path`` (False refuses it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plans = {f"{result.policy}": result}
    if others:
        plans.update(others)
    two = "p_above" in result.metrics
    fig, axes = _figure(2 if two else 1)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    ax = axes[0]
    for (label, r), c in zip(plans.items(), colors, strict=False):
        n = r.n_measured + r.ks
        med, lo, hi = r.band("srcc")
        ax.fill_between(n, lo, hi, color=c, alpha=0.2, lw=0)
        ax.plot(n, med, "-", color=c, label=f"{label}: predicted median, 90% band")
        if r.realised:
            rn, rv = np.asarray(r.realised, float).T
            ax.plot(rn, rv, "o", color=c, mec="k", ms=5, label=f"{label}: realised")
    if result.history:
        hn, hv = np.asarray(result.history, float).T
        ax.plot(hn, hv, "-", color="k", lw=1, alpha=0.6, marker="D", ms=3,
                label="after each of your rounds: the posterior's expected SRCC")
    now = result.current.get("expected_srcc") if result.current else None
    if now is not None and np.isfinite(now):
        ax.plot([result.n_measured], [now], "D", color="k", ms=5,
                label="now: the posterior's expected SRCC")
    if result.goal.kind == "srcc":
        ax.axhline(result.goal.value, color="k", ls=":", lw=1, label=f"goal {result.goal}")
    if result.recommended_k is not None:
        ax.axvline(result.n_measured + result.recommended_k, color="tab:green", ls="--", lw=1,
                   label=f"recommended: {result.n_measured + result.recommended_k} measurements")
    ax.set_xlabel("target measurements (total)")
    ax.set_ylabel("SRCC of the adapted ranking vs truth")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    if two:
        ax = axes[1]
        for (label, r), c in zip(plans.items(), colors, strict=False):
            if "p_above" not in r.metrics:
                continue
            n = r.n_measured + r.ks
            med, lo, hi = r.band("p_above")
            ax.fill_between(n, lo, hi, color=c, alpha=0.2, lw=0)
            ax.plot(n, med, "-", color=c, label=f"{label}: median, 90% band")
        lvl = result.goal.decision_level(result.confidence)
        ax.axhline(lvl, color="k", ls=":", lw=1, label=f"reuse at {lvl:g}")
        ax.axhline(1 - lvl, color="k", ls="--", lw=1, label=f"adapt at {1 - lvl:g}")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("target measurements (total)")
        ax.set_ylabel(f"P(SRCC(proxy, target) >= {result.threshold:g})")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"plan for {result.device}: goal {result.goal}", fontsize=10)
    if path is not None:
        save(fig, path, dpi=120, overwrite=overwrite)
    return fig
