"""Latency models: the hierarchical Bayesian model, its fits and the DevicePosterior they produce.

Importing this package (and loading, adapting, predicting, ``posterior_srcc``) never imports PyMC,
PyTensor or ArviZ's plotting: only fitting and the exact adaptation path do (:mod:`latxfer.models.sampling`).
"""

from latxfer.models.config import list_configs, load_config
from latxfer.models.latency_model import AdaptedLatency, LatencyModel, load_model
from latxfer.models.posterior import DevicePosterior
from latxfer.models.srcc import (
    PSRCC_DISCREPANCY,
    SRCCPosterior,
    expected_rank_quality,
    p_srcc_at_least,
    posterior_srcc,
    widen_srcc,
)

__all__ = ["PSRCC_DISCREPANCY", "AdaptedLatency", "DevicePosterior", "LatencyModel", "SRCCPosterior",
           "expected_rank_quality", "list_configs", "load_config", "load_model", "p_srcc_at_least",
           "posterior_srcc", "widen_srcc"]
