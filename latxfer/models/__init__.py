"""Latency models: the hierarchical Bayesian model, its fits and the DevicePosterior they produce."""

from latxfer.models.config import list_configs, load_config
from latxfer.models.latency_model import (
    AdaptedLatency,
    LatencyModel,
    SRCCPosterior,
    load_model,
)
from latxfer.models.posterior import DevicePosterior

__all__ = ["AdaptedLatency", "DevicePosterior", "LatencyModel", "SRCCPosterior", "list_configs",
           "load_config", "load_model"]
