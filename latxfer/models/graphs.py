"""PyMC graphs of the latency model, as plain functions (the pooled / unpooled / hierarchical trio).

Observation model, for device d and architecture a, with the device's latency divided by its scale
``s_d`` (``y~ = y / s_d``; source scales are known, a target's is a parameter)::

    y~[d, a] ~ Normal(intercept[d] + F[a] . loading[d] + Q[a] . op_cost[d],  sigma[d])
    sigma[d] = sqrt(exp(2 log_sigma[d]) + sigma_floor^2)

optionally times ``w[a]``, a fixed relative noise sd per architecture (``model.noise_power``, see
:func:`latxfer.models.basis.noise_scale`): slower architectures are noisier in ms.

``F`` and ``Q`` come from :mod:`latxfer.models.basis`.  The three variants differ only in what devices
share:

``pooled``        one ``loading`` and one ``op_cost`` for all devices (complete pooling)
``unpooled``      each device's ``loading`` / ``op_cost`` from fixed, wide priors (no pooling)
``hierarchical``  ``loading[d] ~ MvNormal(loading_mu, Sigma)`` (LKJ prior), ``op_cost[d] ~
                  Normal(op_cost_mu, op_cost_tau)``, ``log sigma[d] ~ Normal(..)``, ``intercept[d] ~
                  Normal(..)``: a population learned from the sources, which is what lets a new device be
                  adapted from a handful of measurements.

Every variant also models the device scales: ``log s_d ~ Normal(log_scale_mu, log_scale_sd)``, so a new
device's unknown scale has a learned prior too.  Parameters are centred (each source has hundreds of
observations); names never clash with dims.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

__all__ = ["build_graph", "VARIANTS", "POPULATION_VARS"]

VARIANTS = ("hierarchical", "pooled", "unpooled")

#: Variables the fast adaptation path reads from the posterior, per variant.
POPULATION_VARS = {
    "hierarchical": ["intercept_mu", "intercept_sd", "loading_mu", "loading_chol", "op_cost_mu",
                     "op_cost_tau", "log_sigma_mu", "log_sigma_sd", "log_scale_mu", "log_scale_sd"],
    "pooled": ["intercept_mu", "intercept_sd", "loading", "op_cost", "log_sigma_mu", "log_sigma_sd",
               "log_scale_mu", "log_scale_sd"],
    "unpooled": ["intercept_mu", "intercept_sd", "log_sigma_mu", "log_sigma_sd", "log_scale_mu",
                 "log_scale_sd"],
}


def build_graph(
    variant: str,
    *,
    devices: list[str],
    dev_idx: np.ndarray,
    F_rows: np.ndarray,
    Q_rows: np.ndarray,
    y_scaled: np.ndarray,
    log_scales: np.ndarray,
    priors: dict,
    target: dict | None = None,
    noise_rows: np.ndarray | None = None,
) -> pm.Model:
    """Build the PyMC model of one variant.

    Parameters
    ----------
    variant : {"hierarchical", "pooled", "unpooled"}
    devices : list of str
        Source device names (the ``device`` coordinate).
    dev_idx : numpy.ndarray
        ``(N,)`` device position of each observation.
    F_rows, Q_rows : numpy.ndarray
        ``(N, K)`` and ``(N, P)`` factor scores and encoding of each observation's architecture.
    y_scaled : numpy.ndarray
        ``(N,)`` latency divided by its device's scale (dimensionless).
    log_scales : numpy.ndarray
        ``(D,)`` log of each source device's scale (log ms).
    priors : dict
        Prior hyper-parameters (see ``models/*.toml``, section ``[priors]``).
    target : dict, optional
        Exact adaptation: ``{"F": (n, K), "Q": (n, P), "y": (n,) latency in ms}`` of a new device whose
        scale is a parameter; adds ``target_*`` variables.  An optional ``"G": (n, G)`` adds the novelty
        term ``G . target_novelty`` with standard normal coefficients (the prior sd folded into ``G``); an
        optional ``"near": (d, shrink[, P])`` centres the target's prior on source ``d`` (hierarchical only;
        with ``P`` on ``P theta_d``, the op-linear part of d's coefficients).  An optional ``"w": (n,)``
        is the relative noise sd of the target's rows (as ``noise_rows``).
    noise_rows : numpy.ndarray, optional
        ``(N,)`` relative noise sd of each observation's architecture (default 1).

    Returns
    -------
    pymc.Model
    """
    K, P = F_rows.shape[1], Q_rows.shape[1]
    coords = {"device": devices, "factor": [f"f{k}" for k in range(K)],
              "feature": [f"q{p}" for p in range(P)]}
    with pm.Model(coords=coords) as model:
        # the variables are created in one fixed order (it fixes the sampler's parameter vector, so the
        # same seed gives the same draws): population, device coefficients, likelihood, target
        v = _population(priors, log_scales, y_scaled)
        v |= _device_coefficients(variant, priors, K, len(devices), dev_idx)
        mu = (v["intercept"][dev_idx] + (F_rows * v["lam_rows"]).sum(axis=-1)
              + (Q_rows * v["g_rows"]).sum(axis=-1))
        sd_rows = v["sigma"][dev_idx] if noise_rows is None else v["sigma"][dev_idx] * np.asarray(noise_rows, float)
        pm.Normal("y_scaled", mu, sd_rows, observed=y_scaled)
        if target is not None:
            _target(variant, priors, K, v, target)
    return model


def _population(priors: dict, log_scales: np.ndarray, y_scaled: np.ndarray) -> dict:
    """Population of device scales (log ms), intercepts (scaled units) and noise sds; in a model context."""
    log_scale_mu = pm.Normal("log_scale_mu", float(np.mean(log_scales)), 3.0)
    log_scale_sd = pm.HalfNormal("log_scale_sd", priors.get("log_scale_sd", 2.0))
    pm.Normal("log_scale_obs", log_scale_mu, log_scale_sd, observed=log_scales)
    intercept_mu = pm.Normal("intercept_mu", float(np.mean(y_scaled)), 5.0)
    intercept_sd = pm.HalfNormal("intercept_sd", priors.get("intercept_sd", 5.0))
    intercept = pm.Normal("intercept", intercept_mu, intercept_sd, dims="device")
    log_sigma_mu = pm.Normal("log_sigma_mu", -1.5, 1.5)
    log_sigma_sd = pm.HalfNormal("log_sigma_sd", priors.get("log_sigma_sd", 1.0))
    log_sigma = pm.Normal("log_sigma", log_sigma_mu, log_sigma_sd, dims="device")
    # noise floor: some published tables are exact sums of a lookup table (zero residual), which
    # would send log sigma to -inf and the sampler into a funnel; no measurement is more precise
    # than ``sigma_floor`` of the device's scale
    floor2 = float(priors.get("sigma_floor", 0.0)) ** 2
    sigma = pm.math.sqrt(pm.math.exp(2 * log_sigma) + floor2)
    return {"log_scale_mu": log_scale_mu, "log_scale_sd": log_scale_sd, "intercept_mu": intercept_mu,
            "intercept_sd": intercept_sd, "intercept": intercept, "log_sigma_mu": log_sigma_mu,
            "log_sigma_sd": log_sigma_sd, "floor2": floor2, "sigma": sigma}


def _device_coefficients(variant: str, priors: dict, K: int, n_devices: int, dev_idx: np.ndarray) -> dict:
    """Factor loadings and op costs of the source devices, per variant; in a model context."""
    out: dict = {}
    if variant == "hierarchical":
        loading_mu = pm.Normal("loading_mu", 0.0, priors.get("loading_sd", 1.0), dims="factor")
        if K > 1:
            chol, _, _ = pm.LKJCholeskyCov(
                "loading_cov", n=K, eta=priors.get("lkj_eta", 2.0),
                sd_dist=pm.HalfNormal.dist(priors.get("loading_sd", 1.0), shape=K), compute_corr=True,
            )
            pm.Deterministic("loading_chol", chol)
            loading = pm.MvNormal("loading", loading_mu, chol=chol, dims=("device", "factor"))
            out["chol"] = chol
        elif K == 1:
            lsd = pm.HalfNormal("loading_sd", priors.get("loading_sd", 1.0))
            pm.Deterministic("loading_chol", lsd.reshape((1, 1)))
            loading = pm.Normal("loading", loading_mu, lsd, dims=("device", "factor"))
            out["lsd"] = lsd
        else:
            pm.Deterministic("loading_chol", pt.zeros((0, 0)))
            loading = pt.zeros((n_devices, 0))
        op_cost_mu = pm.Normal("op_cost_mu", 0.0, priors.get("op_cost_mu_sd", 0.5), dims="feature")
        # one spread for all (orthogonalised) op-cost features: 9 x P values inform it, no funnel
        op_cost_tau = pm.HalfNormal("op_cost_tau", priors.get("op_cost_tau_sd", 0.3))
        op_cost = pm.Normal("op_cost", op_cost_mu, op_cost_tau, dims=("device", "feature"))
        out |= {"loading_mu": loading_mu, "op_cost_mu": op_cost_mu, "op_cost_tau": op_cost_tau,
                "lam_rows": loading[dev_idx], "g_rows": op_cost[dev_idx]}
    elif variant == "pooled":
        loading = pm.Normal("loading", 0.0, priors.get("loading_sd", 1.0), dims="factor")
        op_cost = pm.Normal("op_cost", 0.0, priors.get("op_cost_mu_sd", 0.5), dims="feature")
        out |= {"lam_rows": loading[None, :], "g_rows": op_cost[None, :]}
    elif variant == "unpooled":
        loading = pm.Normal("loading", 0.0, priors.get("unpooled_loading_sd", 2.0), dims=("device", "factor"))
        op_cost = pm.Normal("op_cost", 0.0, priors.get("unpooled_op_cost_sd", 1.0), dims=("device", "feature"))
        out |= {"lam_rows": loading[dev_idx], "g_rows": op_cost[dev_idx]}
    else:  # pragma: no cover - validated by the config loader
        raise ValueError(variant)
    return out | {"loading": loading, "op_cost": op_cost}


def _target_coefficients(variant: str, priors: dict, K: int, v: dict, near) -> tuple:
    """Prior of the target's intercept, loadings and op costs (population, or near a source)."""
    if near is not None and variant == "hierarchical":
        # mixture component "near source d": centred on d's coefficients (or, with a projector
        # P, on P theta_d: d's op-linear part), population spread x shrink
        d, c = int(near[0]), float(near[1])
        P_lin = near[2] if len(near) > 2 else None
        c_int, c_load, c_op = v["intercept"][d], v["loading"][d], v["op_cost"][d]
        if P_lin is not None:
            th = pt.dot(pt.as_tensor(np.asarray(P_lin)),
                        pt.concatenate([v["intercept"][d][None], v["loading"][d], v["op_cost"][d]]))
            c_int, c_load, c_op = th[0], th[1:1 + K], th[1 + K:]
        t_intercept = pm.Normal("target_intercept", c_int, c * v["intercept_sd"])
        if K > 1:
            t_loading = pm.MvNormal("target_loading", c_load, chol=c * v["chol"], dims="factor")
        elif K == 1:
            t_loading = pm.Normal("target_loading", c_load, c * v["lsd"], dims="factor")
        else:
            t_loading = pt.zeros(0)
        t_op = pm.Normal("target_op_cost", c_op, c * v["op_cost_tau"], dims="feature")
    elif variant == "hierarchical":
        t_intercept = pm.Normal("target_intercept", v["intercept_mu"], v["intercept_sd"])
        if K > 1:
            t_loading = pm.MvNormal("target_loading", v["loading_mu"], chol=v["chol"], dims="factor")
        elif K == 1:
            t_loading = pm.Normal("target_loading", v["loading_mu"], v["lsd"], dims="factor")
        else:
            t_loading = pt.zeros(0)
        t_op = pm.Normal("target_op_cost", v["op_cost_mu"], v["op_cost_tau"], dims="feature")
    elif variant == "pooled":
        t_intercept = pm.Normal("target_intercept", v["intercept_mu"], v["intercept_sd"])
        t_loading, t_op = v["loading"], v["op_cost"]
    else:
        t_intercept = pm.Normal("target_intercept", v["intercept_mu"], v["intercept_sd"])
        t_loading = pm.Normal("target_loading", 0.0, priors.get("unpooled_loading_sd", 2.0), dims="factor")
        t_op = pm.Normal("target_op_cost", 0.0, priors.get("unpooled_op_cost_sd", 1.0), dims="feature")
    return t_intercept, t_loading, t_op


def _target(variant: str, priors: dict, K: int, v: dict, target: dict) -> None:
    """The new device of the exact path: scale, noise, coefficients, novelty, likelihood; in a model context."""
    t_log_scale = pm.Normal("target_log_scale", v["log_scale_mu"], v["log_scale_sd"])
    t_log_sigma = pm.Normal("target_log_sigma", v["log_sigma_mu"], v["log_sigma_sd"])
    t_intercept, t_loading, t_op = _target_coefficients(variant, priors, K, v, target.get("near"))
    s = pm.math.exp(t_log_scale)
    t_mu = t_intercept + pt.dot(target["F"], t_loading) + pt.dot(target["Q"], t_op)
    if target.get("G") is not None:
        # novelty: per-op-type cost departures from the population (op_count_sd folded in G)
        t_nov = pm.Normal("target_novelty", 0.0, 1.0, shape=target["G"].shape[1])
        t_mu = t_mu + pt.dot(target["G"], t_nov)
    t_sd = s * pm.math.sqrt(pm.math.exp(2 * t_log_sigma) + v["floor2"])
    if target.get("w") is not None:
        t_sd = t_sd * np.asarray(target["w"], float)
    pm.Normal("target_y", s * t_mu, t_sd, observed=target["y"])
