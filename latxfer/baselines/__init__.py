"""Few-shot baselines, all implementing :class:`latxfer.methods.FewShotMethod`.

================  ==========================================================================
``ProxyOnly``     one source device's latency as the target's (rank = proxy's rank)
``BestProxy``     the source with the highest SRCC on the n target samples
``FLOPs``         analytic FLOPs of the search space
``TargetRidge``   ridge on op features from the n target samples only (n >= 3)
``AdaProxy``      the OneProxy paper's proxy adaptation, identifiable coding, lambda by LOO CV
                  (``proxy=None``: "adaproxy-best", proxy picked by SRCC on the samples)
``LowRankSVD``    SVD of the source log-latency matrix, target loadings by ridge
``OwnRidge``      the device's own n samples alone: ridge on log latency, op encoding + pairwise terms
``OwnGP``         the same features as a Gaussian-process kernel, variances by marginal likelihood
================  ==========================================================================

Each class has ``min_n`` (fewest target measurements it accepts; the evaluation harness marks smaller
n as not applicable), ``gives_intervals`` and, when it needs the search space, ``needs_space = True``.
"""

from __future__ import annotations

from collections.abc import Sequence

from latxfer.baselines.adaproxy import AdaProxy, proxy_linear_model
from latxfer.baselines.lowrank import LowRankSVD
from latxfer.baselines.own import OwnGP, OwnRidge
from latxfer.baselines.proxy import BestProxy, FLOPs, ProxyOnly
from latxfer.baselines.ridge import TargetRidge

__all__ = [
    "AdaProxy", "BestProxy", "FLOPs", "LowRankSVD", "OwnGP", "OwnRidge", "ProxyOnly", "TargetRidge", "default_baselines",
    "proxy_linear_model",
]


def default_baselines(sources: Sequence[str], *, per_proxy: bool = True) -> list:
    """The registered baselines for a source set (fresh, unfitted instances).

    ``best-proxy``, ``flops``, ``target-ridge``, ``adaproxy-best``, ``lowrank-svd`` and, with
    ``per_proxy``, ``adaproxy:<source>`` for every source.
    """
    methods = [BestProxy(), FLOPs(), TargetRidge(), AdaProxy(None), LowRankSVD()]
    if per_proxy:
        methods += [AdaProxy(s) for s in sources]
    return methods
