"""Everything that runs PyMC: the NUTS (nutpie / PyMC) fit, its convergence diagnostics, and the exact
adaptation path (a joint re-fit of sources and target).

The only module of :mod:`latxfer.models` that imports PyMC / PyTensor (inside its functions), so that
loading a model, adapting and predicting never pay for them.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from latxfer import dims as D
from latxfer.errors import ConfigError, ConvergenceWarning

if TYPE_CHECKING:  # pragma: no cover
    from latxfer.models.latency_model import LatencyModel

__all__ = ["NUTS_SAMPLERS", "adapt_exact", "check_convergence", "extract_population", "sample"]

#: Samplers that run NUTS chains (and so have convergence diagnostics).
NUTS_SAMPLERS = ("nutpie", "pymc")


def sample(model, sampler: dict, *, seed, progress: bool, var_names=None):
    """Sample a PyMC model with the ``[sampler]`` configuration.

    Parameters
    ----------
    model : pymc.Model
        The graph (:func:`latxfer.models.graphs.build_graph`).
    sampler : dict
        The ``[sampler]`` section: ``name`` (nutpie | pymc | advi | map), ``chains``, ``tune``, ``draws``,
        ``target_accept``, ``advi_iterations``.
    seed : int or None
        Random seed of the sampler.
    progress : bool
        Show the sampler's progress bar.
    var_names : list of str, optional
        Variables to keep.

    Returns
    -------
    xarray.DataTree
        ``/posterior`` (``chain``, ``draw``, ...) and, for NUTS, ``/sample_stats``.
    """
    import pymc as pm

    s = sampler
    with model:
        if s["name"] in NUTS_SAMPLERS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", UserWarning)
                return pm.sample(
                    draws=s["draws"], tune=s["tune"], chains=s["chains"], cores=min(s["chains"], 2),
                    nuts_sampler=s["name"], random_seed=seed, progressbar=progress,
                    target_accept=s["target_accept"], compute_convergence_checks=False,
                    var_names=var_names,
                )
        if s["name"] == "advi":
            approx = pm.fit(s["advi_iterations"], method="advi", random_seed=seed, progressbar=progress)
            return approx.sample(s["draws"] * s["chains"], random_seed=seed)
        # map: a single point, repeated so downstream code sees draws
        point = pm.find_MAP(progressbar=progress, seed=seed)
        from arviz_base import from_dict

        post = {k: np.asarray(v)[None, None] for k, v in point.items()
                if not k.endswith(("__", "_log__", "_interval__", "_cholesky-cov-packed__"))}
        return from_dict({"posterior": post})


def extract_population(tree) -> dict[str, np.ndarray]:
    """Posterior draws as ``{name: (chain * draw, ...)}`` arrays (chains stacked, chain-major).

    Parameters
    ----------
    tree : xarray.DataTree or xarray.Dataset
        A tree with a ``posterior`` group, or the posterior itself.

    Returns
    -------
    dict of str to numpy.ndarray
        The first axis indexes the (chain, draw) pairs.
    """
    post = tree["posterior"] if "posterior" in tree.children else tree
    out = {}
    for name in post.data_vars if hasattr(post, "data_vars") else post.ds.data_vars:
        da = post[name]
        da = da.stack(sample=(D.CHAIN, D.DRAW)).transpose("sample", ...)
        out[name] = np.asarray(da.values)
    return out


def check_convergence(tree, sampler: dict) -> dict:
    """R-hat, bulk / tail ESS and divergences of a NUTS fit (ArviZ); warns when they fail the thresholds.

    Parameters
    ----------
    tree : xarray.DataTree
        The sampler's output.
    sampler : dict
        The ``[sampler]`` section (``name``, ``chains``, ``rhat_max``, ``ess_min``).

    Returns
    -------
    dict
        ``checked``, ``max_rhat``, ``min_ess``, ``divergences``, ``failing`` (list of str), ``converged``;
        or ``checked=False`` with a ``reason`` when the sampler has no diagnostics.
    """
    s = sampler
    if s["name"] not in NUTS_SAMPLERS or s["chains"] < 2:
        return {"checked": False, "reason": f"sampler {s['name']!r} with {s['chains']} chain(s)"}
    import arviz_stats as azs

    post = tree["posterior"]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant entries (zeros of a Cholesky)
        rhat = azs.rhat(tree)
        ess_b = azs.ess(tree, method="bulk")
        ess_t = azs.ess(tree, method="tail")
    bad, worst_rhat, min_ess = [], 1.0, np.inf
    for v in post.data_vars:
        r = np.asarray(rhat[v].values, float)
        eb = np.asarray(ess_b[v].values, float)
        et = np.asarray(ess_t[v].values, float)
        r, eb, et = r[np.isfinite(r)], eb[np.isfinite(eb)], et[np.isfinite(et)]
        if r.size:
            worst_rhat = max(worst_rhat, float(r.max()))
        if eb.size:
            min_ess = min(min_ess, float(eb.min()), float(et.min()) if et.size else np.inf)
        if (r.size and r.max() > s["rhat_max"]) or (eb.size and eb.min() < s["ess_min"]) or (
                et.size and et.min() < s["ess_min"]):
            bad.append(f"{v} (r_hat {r.max() if r.size else np.nan:.3f}, "
                       f"ess_bulk {eb.min() if eb.size else np.nan:.0f}, "
                       f"ess_tail {et.min() if et.size else np.nan:.0f})")
    div = 0
    if "sample_stats" in tree.children and "diverging" in tree["sample_stats"].data_vars:
        div = int(np.asarray(tree["sample_stats"]["diverging"].values).sum())
    diag = {"checked": True, "max_rhat": worst_rhat, "min_ess": min_ess, "divergences": div,
            "failing": bad, "converged": not bad and div == 0}
    if bad or div:
        warnings.warn(
            "the sampler did not converge: "
            + (f"{div} divergent transition(s); " if div else "")
            + (f"parameters beyond r_hat <= {s['rhat_max']} / ESS >= {s['ess_min']}: "
               + "; ".join(bad[:8]) if bad else "")
            + ". Increase sampler.tune/draws or check the data.",
            ConvergenceWarning, stacklevel=3,
        )
    return diag


def adapt_exact(m: LatencyModel, pos, y, rng, progress) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact adaptation path: a joint NUTS re-fit of sources and target.

    It re-fits with one prior component: the one of highest evidence (type-II ML) among the
    population's novelty sds and the near-source components (:mod:`latxfer.models.mixture`).

    Parameters
    ----------
    m : LatencyModel
        A model fitted in this session (it needs the source data).
    pos : numpy.ndarray
        Positions of the measured architectures in ``m.basis``.
    y : numpy.ndarray
        Their latency in ms.
    rng : numpy.random.Generator
        Seeds the evidence draws, the sampler and the kept draws.
    progress : bool
        Sampler progress bar.

    Returns
    -------
    theta, scale, sigma : numpy.ndarray
        ``(S, 1 + K + P)`` coefficients, ``(S,)`` scales (ms) and noise sds (scaled units).
    """
    from latxfer.models import mixture
    from latxfer.models.graphs import build_graph

    if m._fit_data is None:
        raise ConfigError(
            "exact adaptation re-fits sources and target jointly and needs the source data: it is "
            "available on a model fitted in this session, not on one loaded from a file"
        )
    Z = m.basis.design(pos)
    comps = mixture.components(m)
    log_z = mixture.component_log_z(m, mixture.evidence_draws(m, rng), comps, *m._weighted(pos, y), rng)
    kind, par, _ = comps[int(np.argmax(log_z))]
    W = mixture.novelty(m, par) if kind == "population" else None
    target = {"F": m.basis.F[pos], "Q": m.basis.Q[pos], "y": y,
              "w": None if m.basis.noise is None else m.basis.noise[pos],
              "G": None if W is None else Z @ W,
              "near": None if kind == "population" else
              (par, float(m.config["priors"]["source_shrink"]),
               mixture.op_linear_map(m) if kind == "source-linear" else None)}
    model = build_graph(m.config["model"]["variant"], priors=m.config["priors"], target=target, **m._fit_data)
    seed = int(rng.integers(2**31))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tree = sample(model, m.config["sampler"], seed=seed, progress=progress)
    pop = extract_population(tree)
    S = len(pop["target_log_scale"])
    K, P = m.basis.K, m.basis.P
    theta = np.zeros((S, 1 + K + P))
    theta[:, 0] = pop["target_intercept"]
    variant = m.config["model"]["variant"]
    lk = "loading" if variant == "pooled" else "target_loading"
    ok = "op_cost" if variant == "pooled" else "target_op_cost"
    if K:
        theta[:, 1:1 + K] = pop[lk]
    if P:
        theta[:, 1 + K:] = pop[ok]
    if W is not None:
        theta += pop["target_novelty"] @ W.T
    n_keep = min(m.config["adapt"]["n_draws"], S)
    keep = np.sort(rng.choice(S, n_keep, replace=False))
    return theta[keep], np.exp(pop["target_log_scale"][keep]), m._noise_sd(pop["target_log_sigma"][keep])
