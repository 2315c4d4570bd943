"""Old import path of the NAS figures (moved to :mod:`latxfer.plots.nas`); kept so existing imports work.
New code: ``from latxfer.plots import plot_pareto_fronts, plot_search``."""

from latxfer.plots.nas import plot_pareto_fronts, plot_search

__all__ = ["plot_pareto_fronts", "plot_search"]
