"""Old import path of :func:`latxfer.plots.plot_plan` (moved to :mod:`latxfer.plots.plan`); kept so existing
imports work.  New code: ``from latxfer.plots import plot_plan``."""

from latxfer.plots.plan import plot_plan

__all__ = ["plot_plan"]
