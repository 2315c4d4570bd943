"""Figures, one module per family; matplotlib is imported only when a figure is drawn.

Every figure is a :class:`matplotlib.figure.Figure` on the Agg canvas: the user's backend is never
switched and pyplot's state is left alone.  With ``path`` a figure is written atomically (format from
the suffix); ``overwrite=False`` refuses an existing file, as the CLI does without ``--overwrite``.

- :mod:`latxfer.plots.monotonicity`: :func:`plot_monotonicity_heatmap`
- :mod:`latxfer.plots.bayes`: :func:`plot_posterior_srcc`, :func:`plot_prediction`
- :mod:`latxfer.plots.evaluate`: :func:`plot_fewshot`
- :mod:`latxfer.plots.plan`: :func:`plot_plan`
- :mod:`latxfer.plots.nas`: :func:`plot_pareto_fronts`, :func:`plot_search`
"""

from latxfer.plots.bayes import plot_posterior_srcc, plot_prediction
from latxfer.plots.evaluate import plot_fewshot
from latxfer.plots.monotonicity import plot_monotonicity_heatmap
from latxfer.plots.nas import plot_pareto_fronts, plot_search
from latxfer.plots.plan import plot_plan

__all__ = [
    "plot_fewshot", "plot_monotonicity_heatmap", "plot_pareto_fronts", "plot_plan", "plot_posterior_srcc",
    "plot_prediction", "plot_search",
]
