"""The prior of a new device and the fast path's update under it.

A new device's coefficients ``theta`` (``[intercept, loadings, op costs]`` over the design
``Z = [1, F, Q]``, scaled units) have a *mixture* prior:

``("population", sd, w)``
    a draw from the source population, with novelty sd ``sd`` (the grid ``priors.op_count_sd``: per-op-type
    costs may leave the population; :func:`latxfer.models.basis.novelty_directions`);
``("source", d, w)``
    a device near source ``d`` (``priors.source_shrink`` x the population covariance around d's
    coefficients), total weight ``priors.source_weight``, of which ``priors.source_linear`` goes to
``("source-linear", d, w)``
    the same around d's op-linear part (:func:`op_linear_map`).

:func:`adapt_fast` runs the conjugate update (:func:`latxfer.models.conjugate.adapt_draws`) under each
component and averages them by their evidence (Bayesian model averaging).  Functions take the fitted
:class:`~latxfer.models.latency_model.LatencyModel` ``m`` (its population draws, basis and configuration)
and never change it, except for the cached projection of :func:`op_projection`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latxfer.models.conjugate import adapt_draws, design_eig, lowrank

if TYPE_CHECKING:  # pragma: no cover
    from latxfer.models.latency_model import LatencyModel

__all__ = ["EVIDENCE_DRAWS", "adapt_fast", "component_log_z", "components", "evidence_draws", "novelty",
           "free_grid", "level", "level_label", "novelty_grid", "novelty_weights", "op_linear_map", "op_projection",
           "population_levels", "prior_blocks",
           "run_component", "source_prior", "source_theta", "update"]

#: Population draws that estimate the evidence of each prior component (the mixture weights).
EVIDENCE_DRAWS = 60


def prior_blocks(m: LatencyModel, sel: np.ndarray, novelty_sd=0.0) -> tuple:
    """Prior mean ``(S, M)`` and covariance factor ``(S, M, R)`` of a new device's coefficients at the
    population draws ``sel`` (``M = 1 + K + P``; ``R = M`` plus the novelty directions of level ``novelty_sd``,
    :func:`level`)."""
    pop, K, P = m.population, m.basis.K, m.basis.P
    S, M = len(sel), 1 + K + P
    variant = m.config["model"]["variant"]
    mean = np.zeros((S, M))
    chol = np.zeros((S, M, M))
    mean[:, 0] = pop["intercept_mu"][sel]
    chol[:, 0, 0] = pop["intercept_sd"][sel]
    if variant == "hierarchical":
        if K:
            mean[:, 1:1 + K] = pop["loading_mu"][sel]
            chol[:, 1:1 + K, 1:1 + K] = pop["loading_chol"][sel].reshape(S, K, K)
        if P:
            mean[:, 1 + K:] = pop["op_cost_mu"][sel]
            idx = np.arange(1 + K, M)
            tau = pop["op_cost_tau"][sel]
            chol[:, idx, idx] = tau[:, None] if tau.ndim == 1 else tau
    elif variant == "pooled":
        if K:
            mean[:, 1:1 + K] = pop["loading"][sel]
        if P:
            mean[:, 1 + K:] = pop["op_cost"][sel]
    else:
        pr = m.config["priors"]
        idx = np.arange(1, 1 + K)
        chol[:, idx, idx] = pr["unpooled_loading_sd"]
        idx = np.arange(1 + K, M)
        chol[:, idx, idx] = pr["unpooled_op_cost_sd"]
    W = novelty(m, novelty_sd)
    if W is not None:
        # prior covariance L L' + sd^2 W W': a (non-square) factor [L, sd W] is all the update needs
        chol = np.concatenate([chol, np.broadcast_to(W, (S,) + W.shape)], axis=-1)
    return mean, chol


def novelty_grid(m: LatencyModel) -> list[float]:
    """The configured op-type novelty sds (``priors.op_count_sd``); ``[0.0]`` when the basis has no
    op-type direction."""
    grid = _grid(m.config["priors"].get("op_count_sd", 0.0))
    if m.basis is None or m.basis.generic is None:
        return [0.0]
    return grid


def free_grid(m: LatencyModel) -> list[float]:
    """The configured free op-cost novelty sds (``priors.op_free_sd``, 0 always included); ``[0.0]`` when off,
    when the configuration predates it or when the basis has no op-cost column."""
    grid = _grid(m.config["priors"].get("op_free_sd", 0.0))
    if m.basis is None or not m.basis.P or not any(v > 0 for v in grid):
        return [0.0]
    return sorted(set([0.0] + grid))


def _grid(value) -> list[float]:
    """A configured sd or list of sds as a list of floats."""
    return [float(v) for v in (value if isinstance(value, list) else [value])]


def population_levels(m: LatencyModel) -> list:
    """The population components' novelty levels (:func:`level`), the op-type grid varying fastest: a bare
    op-type sd where the free op-cost sd is 0, else ``(op-type sd, free sd)``."""
    return [sd if f == 0 else (sd, f) for f in free_grid(m) for sd in novelty_grid(m)]


def level(par) -> tuple[float, float]:
    """A population component's novelty level ``(op-type sd, free op-cost sd)`` (a bare number: no free part)."""
    if isinstance(par, tuple):
        return float(par[0]), float(par[1])
    return float(par), 0.0


def level_label(par) -> str:
    """The key of a novelty level in ``info["novelty_weights"]``: ``"0.3"``, or ``"0.3+free0.1"``."""
    c, f = level(par)
    return f"{c:g}" if f == 0 else f"{c:g}+free{f:g}"


def novelty(m: LatencyModel, par) -> np.ndarray | None:
    """Novelty directions at level ``par`` (:func:`level`): ``[c W, f E]``, or None if both are off.

    ``W`` are the op-type count directions (:func:`~latxfer.models.basis.novelty_directions`): a new device's
    per-op-type costs depart from the population with sd ``c``.  ``E`` selects every op-cost column (``Q``,
    unit variance over the architectures): the cost of each op at each position departs on its own, so that
    with enough measurements the posterior follows the device's own first-order structure where the
    population's factors and op-cost spread (``op_cost_tau``) would hold it back.  ``f`` is the sd of that
    departure *as a function over the architectures*, spread evenly over the ``P`` columns (each has sd
    ``f / sqrt(P)``), so one setting means the same on a space of 24 op-cost columns (NB201) and of 176
    (FBNet).  The measurements weigh the levels (Bayesian model averaging), so a device like the sources
    keeps the tight population prior.
    """
    if m.basis is None:
        return None
    c, f = level(par)
    parts = []
    if c > 0 and m.basis.generic is not None:
        parts.append(c * m.basis.generic)
    if f > 0 and m.basis.P:
        K, P = m.basis.K, m.basis.P
        E = np.zeros((1 + K + P, P))
        E[1 + K:, :] = np.eye(P)
        parts.append((f / np.sqrt(P)) * E)
    return np.concatenate(parts, axis=1) if parts else None


def update(m: LatencyModel, draws, mean, chol, Z, y, rng, evidence_only=False, eig=None) -> dict:
    """The fast path's conditional update from the prior ``N(mean, chol chol')`` for population ``draws``
    (``eig``: :func:`~latxfer.models.conjugate.design_eig` of ``Z`` and this prior, if known)."""
    pop = m.population
    return adapt_draws(
        Z, y, mean, chol, pop["log_scale_mu"][draws], pop["log_scale_sd"][draws],
        pop["log_sigma_mu"][draws], pop["log_sigma_sd"][draws], rng,
        grid_scale=m.config["adapt"]["grid_scale"], grid_noise=m.config["adapt"]["grid_noise"],
        sigma_floor=m._sigma_floor, evidence_only=evidence_only, eig=eig,
    )


def evidence_draws(m: LatencyModel, rng, n: int = EVIDENCE_DRAWS) -> np.ndarray:
    """A random, sorted subset of ``n`` population draws over which component evidence is averaged."""
    S_all = len(m.population["intercept_mu"])
    return np.sort(rng.permutation(S_all)[:min(n, S_all)])


def source_theta(m: LatencyModel, sel, d: int) -> np.ndarray:
    """``(S, 1 + K + P)`` coefficients of source ``d`` at population draws ``sel``."""
    pop, K, P = m.population, m.basis.K, m.basis.P
    theta = np.zeros((len(sel), 1 + K + P))
    theta[:, 0] = pop["intercept"][sel, d]
    lo, oc = pop["loading"][sel], pop["op_cost"][sel]
    if K:
        theta[:, 1:1 + K] = lo[:, d] if lo.ndim == 3 else lo
    if P:
        theta[:, 1 + K:] = oc[:, d] if oc.ndim == 3 else oc
    return theta


def source_prior(m: LatencyModel, sel, d: int, linear: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Prior of a new device *near source d*: centred on d's coefficients (or, ``linear``, on those of
    d's op-linear part, :func:`op_linear_map`), population covariance shrunk."""
    _, chol = prior_blocks(m, sel, 0.0)
    theta = source_theta(m, sel, d)
    if linear:
        theta = theta @ op_linear_map(m).T
    return theta, float(m.config["priors"]["source_shrink"]) * chol


def op_projection(m: LatencyModel) -> dict:
    """The least-squares projection of the design ``Z = [1, F, Q]`` on ``[1, X]`` (the op encoding in the
    model's coding), cached on the model until the next fit: ``B`` with ``[1, X] B`` the additive part of
    every column of ``Z`` (``"additive"``), and the space.  Shared by :func:`op_linear_map` and
    :func:`latxfer.models.layerwise.layer_map`."""
    if getattr(m, "_op_proj_cache", None) is None:
        from latxfer.data.datasets import load_space

        space = load_space(m.space_name)
        X1 = np.c_[np.ones(len(m.basis.archs)), space.encode(m.basis.archs, m.config["model"]["coding"])]
        B, *_ = np.linalg.lstsq(X1, m.basis.design(), rcond=None)
        m._op_proj_cache = {"B": B, "additive": X1 @ B, "space": space}
    return m._op_proj_cache


def op_linear_map(m: LatencyModel) -> np.ndarray:
    """``(M, M)`` map from a device's coefficients to those of its op-linear part.

    A device's latency function is ``Z theta`` (``Z = [1, F, Q]``).  Its op-linear part is the
    least-squares projection of ``Z theta`` on ``[1, X]`` (the op encoding), which lies in the span of
    ``Z``; this returns ``P`` with ``Z P theta`` = that projection.  The factors ``F`` carry structure
    the sources share; a new device near a source in its op costs but not in that shared structure is
    near ``P theta_d``, not ``theta_d``.
    """
    proj = op_projection(m)
    if "P" not in proj:
        proj["P"], *_ = np.linalg.lstsq(m.basis.design(), proj["additive"], rcond=None)
    return proj["P"]


def components(m: LatencyModel) -> list[tuple[str, float | int, float]]:
    """Prior components of a new device: ``(kind, parameter, prior weight)`` (see the module docstring)."""
    pr = m.config["priors"]
    shrink = float(pr.get("source_shrink", 0.0))
    w_src = float(pr.get("source_weight", 0.0)) if shrink > 0 else 0.0
    if m.config["model"]["variant"] != "hierarchical":
        w_src = 0.0
    n_src = len(m.source_devices)
    levels = population_levels(m)
    comps = [("population", par, (1.0 - w_src) / len(levels)) for par in levels]
    if w_src > 0:
        lin = float(pr.get("source_linear", 0.0))
        if lin < 1:
            comps += [("source", d, (1 - lin) * w_src / n_src) for d in range(n_src)]
        if lin > 0:
            comps += [("source-linear", d, lin * w_src / n_src) for d in range(n_src)]
    return comps


def run_component(m: LatencyModel, draws, comp, Z, y, rng, evidence_only=False, eig=None) -> dict:
    """The fast update under one prior component; ``eig`` (near-source components only): the shared
    :func:`~latxfer.models.conjugate.design_eig` of ``Z`` and the component's prior."""
    kind, par, _ = comp
    if kind == "population":
        return update(m, draws, *prior_blocks(m, draws, par), Z, y, rng, evidence_only)
    return update(m, draws, *source_prior(m, draws, par, kind == "source-linear"), Z, y, rng,
                  evidence_only, eig)


def component_log_z(m: LatencyModel, sub, comps, Z, y, rng) -> np.ndarray:
    """log(prior weight x marginal likelihood averaged over population draws ``sub``) per component."""
    eig = None
    if len(y) and any(c[0] != "population" for c in comps):
        base = prior_blocks(m, sub, 0.0)[1]
        if not lowrank(len(y), base.shape[-1]):
            # the near-source components' covariance is source_shrink^2 x the population's (novelty sd 0):
            # one eigendecomposition of the measured rows' prior covariance serves all of them
            lam, U = design_eig(Z, base)
            eig = (float(m.config["priors"]["source_shrink"]) ** 2 * lam, U)
    return np.array([np.log(c[2]) + np.logaddexp.reduce(run_component(
        m, sub, c, Z, y, rng, True, None if c[0] == "population" else eig)["log_evidence"]) for c in comps])


def adapt_fast(m: LatencyModel, Z, y, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Conjugate update over posterior draws, averaged over the prior components by evidence.

    ``Z`` holds one design row per observation: ``[1, F, Q]`` of an architecture for an end-to-end
    latency (divided, with ``y``, by the row's relative noise sd: ``LatencyModel._weighted``), a row of
    :func:`latxfer.models.layerwise.layer_map` for a layer-wise one.

    Returns
    -------
    theta, scale, sigma : numpy.ndarray
        ``(S, 1 + K + P)`` coefficients, ``(S,)`` scales (ms) and noise sds (scaled units).
    info : dict
        The posterior weights of the components.
    """
    S_all = len(m.population["intercept_mu"])
    S = min(m.config["adapt"]["n_draws"], S_all)
    sel = rng.permutation(S_all)[:S]
    comps = components(m)
    if len(comps) == 1:
        res = run_component(m, np.sort(sel), comps[0], Z, y, rng)
        return res["theta"], res["scale"], res["sigma"], {}
    # Bayesian model averaging over the components: each gets a share of the draws proportional to its
    # posterior weight (prior weight x marginal likelihood, averaged over population draws)
    log_z = component_log_z(m, np.sort(sel[:min(S, EVIDENCE_DRAWS)]), comps, Z, y, rng)
    w = np.exp(log_z - log_z.max())
    w /= w.sum()
    counts = rng.multinomial(S, w)
    parts, start = [], 0
    for comp, c in zip(comps, counts, strict=True):
        if c:
            parts.append(run_component(m, np.sort(sel[start:start + c]), comp, Z, y, rng))
            start += c
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("theta", "scale", "sigma")}
    pw = {level_label(c[1]): float(x) for c, x in zip(comps, w, strict=True) if c[0] == "population"}
    tot = sum(pw.values())
    info = {"novelty_weights": {k: round(v / tot, 4) if tot > 0 else 0.0 for k, v in pw.items()}}
    for kind in ("source", "source-linear"):
        if any(c[0] == kind for c in comps):
            info[f"{kind.replace('-', '_')}_weights"] = {
                m.source_devices[c[1]]: round(float(x), 4) for c, x in zip(comps, w, strict=True) if c[0] == kind}
    if any(c[0] != "population" for c in comps):
        info["population_weight"] = round(tot, 4)
    return cat["theta"], cat["scale"], cat["sigma"], info


def novelty_weights(m: LatencyModel, pos, y, rng, n_draws: int = EVIDENCE_DRAWS) -> dict[float, float]:
    """Posterior weights of the op-type novelty grid given end-to-end measurements ``y`` (ms) at ``pos``.

    A uniform hyperprior over the population's novelty levels (op-type sd x free op-cost sd), updated by the
    marginal likelihood of the measurements (averaged over ``n_draws`` population draws), summed over the
    free op-cost levels.
    """
    grid, free = novelty_grid(m), free_grid(m)
    if len(grid) == 1 and len(free) == 1:
        return {grid[0]: 1.0}
    comps = [("population", par, 1.0) for par in population_levels(m)]
    Z, yw = m._weighted(pos, y)
    log_z = component_log_z(m, evidence_draws(m, rng, n_draws), comps, Z, yw, rng)
    w = np.exp(log_z - log_z.max()).reshape(len(free), len(grid)).sum(axis=0)
    return dict(zip(grid, (w / w.sum()).tolist(), strict=True))
