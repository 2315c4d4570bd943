"""Monotonicity between devices: rank correlations with intervals, proxy reuse and proxy selection.

Two devices are *monotone* when they rank architectures alike; then a cheap proxy device can stand in for
the target in latency-constrained NAS.  This module measures it (all latencies in **milliseconds**; ranks
do not depend on the unit or on a log transform):

:func:`monotonicity_matrix`
    Spearman (SRCC) and Kendall (tau-b) between every pair of devices of a latency Dataset over the
    architectures both devices measured, ties handled with average ranks, with a bootstrap interval over
    architectures for SRCC and a Fisher-z interval for Kendall.  FLOPs and parameter counts can join as
    pseudo-devices.
:func:`estimate_from_samples`
    SRCC between a proxy and a target from the n architectures measured on the target, with an interval
    (n = 10 cannot tell 0.85 from 0.95, and the interval says so).
:func:`reuse_decision`
    ``"reuse"`` the proxy, ``"adapt"`` it, or ``"measure more"``, with the evidence.
:func:`rank_proxies`
    Rank candidate proxies (full tables) by their SRCC on a few target measurements, with intervals and the
    bootstrap probability that each is the best.

Intervals
---------
SRCC, bootstrap (percentile): resample architectures with replacement and recompute the *average ranks of
the resampled data* (a duplicated architecture ties with itself) -- done exactly and vectorised through
multiplicity weights: an architecture drawn ``w`` times gets rank ``#(drawn values below) + (w_tie + 1) / 2``
where ``w_tie`` counts every drawn copy of its tie group.  Resamples with a constant device (possible for
tiny n) give no SRCC; their share is reported (``degenerate_share``).

SRCC, ``"fisher"``: ``atanh(r) +- z * sqrt((1 + r^2 / 2) / (n - 3))`` (Bonett & Wright, 2000).  The bootstrap is
the default for few samples too: drawing 300 random sets of n architectures from ``nb201-hwnasbench``, the
nominal 90% bootstrap interval covered the all-architecture SRCC 93% / 92% / 91% of the time at
n = 10 / 20 / 50 for Pixel3-Raspi4 (SRCC 0.92), the Fisher interval only 81% / 88% / 89%; both were near 90%
for Pixel3-EdgeGPU (SRCC 0.50).

Kendall: Fisher-z with variance ``0.437 / (n - 4)`` (Fieller, Hartley & Pearson, 1957); a bootstrap of
Kendall's tau is O(n^2) per resample and is not offered.
"""

from latxfer.monotonicity._core import bootstrap_srcc, kendall, srcc
from latxfer.monotonicity.decisions import (
    DEFAULT_THRESHOLD,
    CorrelationEstimate,
    ReuseDecision,
    estimate_from_samples,
    rank_proxies,
    reuse_decision,
)
from latxfer.monotonicity.matrix import (
    OTHER,
    PSEUDO_DEVICES,
    monotonicity_matrix,
    pseudo_device_table,
)

__all__ = [
    "OTHER",
    "PSEUDO_DEVICES",
    "DEFAULT_THRESHOLD",
    "CorrelationEstimate",
    "ReuseDecision",
    "srcc",
    "kendall",
    "bootstrap_srcc",
    "monotonicity_matrix",
    "estimate_from_samples",
    "reuse_decision",
    "rank_proxies",
    "pseudo_device_table",
]
