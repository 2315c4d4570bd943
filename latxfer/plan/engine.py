"""Preposterior analysis: what ``k = 0, batch, ..., max_k`` further target measurements will buy.

:func:`preposterior` adapts to the measurements so far (the model's fast path, as ``latxfer predict`` /
``assess``), draws ``n_worlds`` simulated target devices from that posterior's predictive, and follows the user's
loop in every one of them at once with the batched engine of :mod:`latxfer.plan.worlds`.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from latxfer.errors import ConfigError, InsufficientDataError, UndefinedCorrelationError
from latxfer.models.posterior import DevicePosterior
from latxfer.models.srcc import PSRCC_DISCREPANCY, align_proxy, srcc_draws, widen_srcc
from latxfer.plan.goals import check_conf, parse_goal
from latxfer.plan.result import PlanResult, recommend
from latxfer.plan.selection import (
    ACTIVE_CRITERIA,
    POLICIES,
    _ActiveSelection,
    _candidates,
    _check_trim,
    _design,
    select_batch,
)
from latxfer.plan.worlds import WorldDesign, WorldPrior, extreme_masks, pair_products, select_worlds
from latxfer.ranks import ranks, srcc, srcc_rows

__all__ = ["DEFAULT_WORLDS", "blas_threads", "preposterior", "proxy_srcc_draws"]

#: Simulated devices per plan (``preposterior(n_worlds=...)``, ``latxfer plan --worlds``).  Chosen so that the
#: recommendation is stable to one batch between seeds on devices that are not HELP targets
#: (``benchmarks/plan_speed.py --stability``, docs/results/plan_worlds_stability.md).
DEFAULT_WORLDS = 100

#: Posterior draws (and architectures) on which the draw-based metrics of a simulated world are computed:
#: ``expected_srcc``, ``p_above`` and ``width`` (the realised SRCC uses the exact posterior mean on ``n_eval``).
METRIC_DRAWS = 50

#: Coefficients up to which the plan runs its matrix products on one BLAS thread per Python thread.
BLAS_SERIAL_MAX = 64
METRIC_ARCHS = 500


def _light(model, n_draws: int):
    """The model with fewer posterior draws per adaptation (cheap re-adaptations)."""
    if model.config["adapt"]["n_draws"] <= n_draws:
        return model
    m = copy.copy(model)
    m.config = {**model.config, "adapt": {**model.config["adapt"], "n_draws": int(n_draws)}}
    return m


def _adapt(model, archs, y, device, rng, tries: int = 5, allow_implausible: bool = False):
    """``model.adapt`` retried with fresh population draws when a Cholesky fails.

    The fast path's Gauss-Hermite nodes over the noise sd can reach a noise variance below machine
    precision relative to the prior covariance of the measured rows, which is singular once the
    measurements outnumber the coefficients (``1 + K + P``); a few population draws then make the
    Cholesky fail.  Another random subset of population draws avoids them.
    """
    for i in range(tries):
        try:
            return model.adapt(archs, y, device=device, rng=rng, allow_implausible=allow_implausible)
        except np.linalg.LinAlgError:
            if i == tries - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _k_grid(batch: int, max_k: int) -> np.ndarray:
    ks = list(range(0, max_k + 1, batch))
    if ks[-1] != max_k:
        ks.append(max_k)
    return np.asarray(ks, np.int64)


def proxy_srcc_draws(proxy: np.ndarray, draws_ms: np.ndarray, measured_ms: np.ndarray | None = None, *,
                     discrepancy: float | None = None, unmeasured_share: float | None = None) -> np.ndarray:
    """Draws of SRCC(proxy, target), computed as :meth:`LatencyModel.posterior_srcc` computes them (both
    call :func:`latxfer.models.srcc.srcc_draws`).

    Architectures without a proxy latency are skipped; measured ones (finite ``measured_ms``) enter with their
    measured value in every draw; the model discrepancy (default
    :data:`~latxfer.models.latency_model.PSRCC_DISCREPANCY`) times the share of unmeasured architectures is added
    on the Fisher-z scale (:func:`~latxfer.models.latency_model.widen_srcc`).

    Parameters
    ----------
    proxy : numpy.ndarray
        ``(A,)`` proxy latency (ms), NaN = not measured.
    draws_ms : numpy.ndarray
        ``(S, A)`` posterior predictive draws of the target (ms).
    measured_ms : numpy.ndarray, optional
        ``(A,)`` the target's measurements, NaN elsewhere.
    discrepancy : float, optional
        Model discrepancy (Fisher-z sd).
    unmeasured_share : float, optional
        The share the discrepancy is multiplied by, when the columns are a subset of the architectures
        ``posterior_srcc`` would use (default: the share of unmeasured columns).

    Returns
    -------
    numpy.ndarray
        ``(S,)`` widened SRCC draws (``SRCCPosterior.draws``).
    """
    return srcc_draws(proxy, draws_ms, measured_ms, discrepancy=discrepancy,
                      unmeasured_share=unmeasured_share)[0]


def _score(post: DevicePosterior, truth: np.ndarray | None, E: np.ndarray, proxy: np.ndarray | None,
           threshold: float) -> dict:
    """Metrics of one posterior on evaluation positions E (unmeasured): ``expected_srcc`` (the posterior's
    expected SRCC of its mean ranking), with ``truth`` the realised ``srcc``, with a proxy ``p_above`` and
    ``width`` (:func:`proxy_srcc_draws` on ``E``)."""
    fn = post.mean_fn_ms if post.mean_fn_ms is not None else post.draws_ms
    mean = fn[:, E].mean(axis=0)
    out = {"expected_srcc": float(np.nanmean(srcc_rows(mean, post.draws_ms[:, E])))}
    if truth is not None:
        out["srcc"] = srcc(mean, truth[E])
    if proxy is not None:
        r = proxy_srcc_draws(proxy[E], post.draws_ms[:, E])
        out["p_above"] = float(np.mean(r >= threshold))
        lo, hi = np.quantile(r, [0.05, 0.95])
        out["width"] = float(hi - lo)
    return out


_CACHE: dict[int, tuple] = {}


def _world_model(model):
    """The batched engine's prior and design of ``model`` (cached per fitted basis)."""
    key = id(model.basis)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not model.population:
        if len(_CACHE) > 4:
            _CACHE.clear()
        hit = _CACHE[key] = (model.population, WorldPrior(model), WorldDesign(model, _design(model)))
    return hit[1], hit[2]


def blas_threads(model):
    """A context in which the plan of ``model`` runs its matrix products: one BLAS thread per Python thread
    when the design is small (``<=`` :data:`BLAS_SERIAL_MAX` coefficients; NB201: 28), BLAS's own threads
    otherwise (FBNet: 180, whose plan is mostly matrix products).

    With small matrices OpenBLAS's threads spin on the core that the plan's worker thread (and ``latxfer
    plan``'s track record) need: on 2 shared cores they cost more CPU time than they save (measured at load
    5: ``latxfer plan`` 14 s wall with them, 10-11 s without).

    Parameters
    ----------
    model : LatencyModel
        A fitted model.

    Returns
    -------
    contextlib.AbstractContextManager
        ``threadpoolctl.threadpool_limits`` (restores the previous setting on exit).
    """
    serial = 1 + model.basis.F.shape[1] + model.basis.Q.shape[1] <= BLAS_SERIAL_MAX  # columns of [1, F, Q]
    return threadpool_limits(limits=1 if serial else None, user_api="blas")


def _check_args(goal, policy, criterion, batch, max_k, n_worlds, proxy_ms, threshold):
    if policy not in POLICIES:
        raise ConfigError(f"unknown selection policy {policy!r}; expected one of {POLICIES}")
    if criterion not in ACTIVE_CRITERIA:
        raise ConfigError(f"unknown active criterion {criterion!r}; expected one of {ACTIVE_CRITERIA}")
    if batch < 1 or max_k < 1:
        raise ConfigError(f"batch and max must be >= 1, got batch={batch}, max={max_k}")
    if n_worlds < 2:
        raise ConfigError(f"n_worlds must be >= 2, got {n_worlds}")
    if goal.kind == "decide" and proxy_ms is None:
        raise ConfigError(f"the goal {goal} needs a proxy device: give its latencies (CLI: --proxy DEVICE)")
    if not -1.0 < threshold < 1.0:
        raise ConfigError(f"the SRCC threshold must be in (-1, 1), got {threshold:g}")


def preposterior(model, archs=(), latency_ms=(), *, goal="srcc>=0.95", proxy_ms=None, threshold: float = 0.9,
                 confidence: float = 0.9, batch: int = 5, max_k: int = 50, policy: str = "active",
                 criterion: str = "rank", n_worlds: int = DEFAULT_WORLDS, n_eval: int = 2000, n_draws: int = 100,
                 candidates=None, device: str = "target", rng=None, progress: bool = False,
                 trim: float | None = None, allow_implausible: bool = False) -> PlanResult:
    """Predict what ``k = 0, batch, ..., max_k`` further target measurements will buy, and recommend k.

    Parameters
    ----------
    model : LatencyModel
        A fitted model.
    archs, latency_ms : array-like
        Target measurements so far (architecture indices, latency in ms); may be empty.
    goal : str or Goal
        See :data:`GOAL_GRAMMAR`.
    proxy_ms : numpy.ndarray or pandas.Series, optional
        The proxy device's latency (ms) over ``model.basis.archs`` (NaN = not measured), or an
        ``arch_index -> ms`` Series; needed for ``decide`` goals (and adds the decision metrics otherwise).
    threshold : float
        SRCC that counts as strong monotonicity (``decide``).
    confidence : float
        Share of simulated worlds in which the goal must hold (and the decision level of ``decide``).
    batch, max_k : int
        Measurements per round and the largest number of further measurements simulated.
    policy : {"active", "random"}
        How the simulated user chooses what to measure (and how ``next_archs`` is chosen).
    criterion : {"ivar", "rank", "maxvar"}
        Active criterion (see :func:`select_batch`).
    n_worlds : int, optional
        Simulated true devices (posterior predictive draws); default :data:`DEFAULT_WORLDS`.
    n_eval : int
        Unmeasured architectures (random subset) on which the realised SRCC is computed; 0 = all.  The
        draw-based metrics use :data:`METRIC_ARCHS` of them and :data:`METRIC_DRAWS` draws.
    n_draws : int
        Coefficient draws per simulated adaptation (the shape Gaussian of active selection).
    candidates : array of int, optional
        Architectures that may be measured (default: every architecture seen by a source device, except
        the space's degenerate ones, see :func:`select_batch`).
    device : str
        Target device name (labels only).
    rng : int or numpy.random.Generator, optional
        Seed.
    progress : bool
        Progress bar over measurement counts (tqdm, on stderr).
    trim : float, optional
        Active selection's share of design extremes left out (:func:`select_batch`; default
        :data:`ACTIVE_TRIM`), in the simulated loop and for ``next_archs``.
    allow_implausible : bool
        Accept measurements the plausibility checks flag (see :meth:`LatencyModel.adapt`).

    Returns
    -------
    PlanResult
        The simulated curve, the recommendation and the next batch.

    Raises
    ------
    ConfigError
        Bad goal, policy, batch, max, confidence or trim; a batch larger than the candidates left; a
        ``decide`` goal without a proxy.
    """
    goal = parse_goal(goal)
    trim = _check_trim(trim)
    confidence = check_conf(confidence)
    n_worlds = DEFAULT_WORLDS if n_worlds is None else int(n_worlds)
    batch, max_k = int(batch), int(max_k)
    _check_args(goal, policy, criterion, batch, max_k, n_worlds, proxy_ms, threshold)
    model._require_fit()
    rng = np.random.default_rng(rng)
    archs = np.atleast_1d(np.asarray(archs, np.int64))
    y0 = np.atleast_1d(np.asarray(latency_ms, float))
    cand = _candidates(model, None, archs, candidates)
    if batch > len(cand):
        raise ConfigError(f"batch of {batch} architectures but only {len(cand)} unmeasured candidate(s) "
                          f"left; use a batch <= {len(cand)}")
    max_k = min(max_k, len(cand))
    ks = _k_grid(batch, max_k)
    post0 = _adapt(model, archs, y0, device, rng, allow_implausible=allow_implausible).posterior
    proxy = None
    if proxy_ms is not None:
        proxy = align_proxy(proxy_ms, post0)
        if np.isfinite(proxy).sum() < 3:
            raise InsufficientDataError("the proxy has fewer than 3 architectures with a latency")
        if np.nanmax(proxy) == np.nanmin(proxy):
            raise UndefinedCorrelationError("the proxy latencies are constant: SRCC is undefined")
    unmeasured0 = np.where(~post0.measured)[0]
    E0 = (np.sort(rng.choice(unmeasured0, n_eval, replace=False)) if n_eval and len(unmeasured0) > n_eval
          else unmeasured0)
    current = _score(post0, None, E0, None, threshold)
    # one worker thread computes what needs no random numbers and feeds nothing back into the simulated loop
    # (the "now" SRCC posterior, every step's scores) while the main thread simulates: numpy releases the GIL
    # in its sorts and array operations, so on two cores they overlap; the numbers are the same as in series.
    with blas_threads(model), ThreadPoolExecutor(max_workers=1, thread_name_prefix="latxfer-plan") as pool:
        # what `latxfer assess` reports on the same data: LatencyModel.posterior_srcc and SRCCPosterior.decision
        sp = pool.submit(model.posterior_srcc, proxy, post0, threshold=threshold) if proxy is not None else None
        worlds = rng.choice(post0.n_samples, n_worlds, replace=n_worlds > post0.n_samples)
        first = active = None
        if policy == "active":  # every world's first batch is the user's next one (the same posterior)
            active = _ActiveSelection(model, post0, cand, criterion, trim)
            first = active.pick(int(ks[1] - ks[0]))
        M = _simulate(model, post0, archs, y0, post0.draws_ms[worlds], E0, proxy, threshold, ks, policy, criterion,
                      cand, trim, n_draws, rng, progress, first, pool)
        if sp is not None:
            sp = sp.result()
            lo, hi = sp.interval
            current.update(p_above=sp.p_above, width=hi - lo, decision=sp.decision(goal.decision_level(confidence)))
    for name in ("p_above", "width", "expected_srcc"):  # k = 0: the real posterior's own values
        if name in M:
            M[name][:, 0] = current[name]
    res = PlanResult(goal=goal, confidence=confidence, policy=policy, criterion=criterion, batch=batch,
                     max_k=max_k, ks=ks, n_measured=int(post0.n_measured), metrics=M, threshold=threshold,
                     device=device, current=current,
                     info={"n_worlds": n_worlds, "n_eval": int(len(E0)), "n_draws": int(n_draws),
                           "n_archs": len(post0.archs), "n_candidates": int(len(cand)),
                           "engine": "batched (latxfer.plan.worlds)"})
    res.recommended_k = recommend(res)
    horizon = max(res.recommended_k or max_k, batch)
    res.plan_archs = (active.pick(horizon) if active is not None else  # = select_batch(model, post0, horizon, ...)
                      select_batch(model, post0, horizon, policy=policy, criterion=criterion, candidates=cand,
                                   rng=rng, trim=trim))
    res.next_archs = res.plan_archs[:batch]
    if res.recommended_k == 0:
        res.plan_archs = res.plan_archs[:0]
    return res


def _simulate(model, post0, archs0, y0, truths, E0, proxy, threshold, ks, policy, criterion, cand, trim,
              n_draws, rng, progress, first, pool) -> dict:
    """The user's loop in every simulated world at once; returns the metrics ``(W, len(ks))``.

    Each step's scores are computed by ``pool`` (an executor) while the loop goes on; all are in when it returns.

    One function on purpose (~100 lines): the loop's state (sufficient statistics, measured masks, posterior)
    is shared by selection, measurement and scoring of every step.
    """
    prior, wd = _world_model(model)
    W, A = truths.shape
    Z, w = wd.Z, wd.w
    pos0 = model.basis.positions(archs0)
    Zw0, yw0 = model._weighted(pos0, y0)
    G = np.broadcast_to(Zw0.T @ Zw0, (W,) + (Z.shape[1],) * 2).copy()
    b = np.broadcast_to(Zw0.T @ yw0, (W, Z.shape[1])).copy()
    yy = np.full(W, float(yw0 @ yw0))
    measured = np.zeros((W, A), bool)
    measured[:, pos0] = True
    cpos = model.basis.positions(cand)
    Zc = wd.d.Z[cpos]
    ZZt = pair_products(Zc) if policy == "active" else None
    Ep = E0 if proxy is None else E0[np.isfinite(proxy[E0])]  # draw metrics: where the proxy has a latency
    Ed = np.sort(rng.permutation(Ep)[:min(METRIC_ARCHS, len(Ep))])
    floor = float(model.config["adapt"]["floor_ms"])
    names = ["srcc", "expected_srcc"] + (["p_above", "width"] if proxy is not None else [])
    out = {k: np.full((W, len(ks)), np.nan) for k in names}
    rows = np.arange(W)
    if proxy is not None:
        ok = np.isfinite(proxy[E0])
        out["true_proxy_srcc"] = np.array([srcc(proxy[E0][ok], t[E0][ok]) for t in truths])
        n_proxy = int(np.isfinite(proxy).sum())
    it = range(len(ks))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"simulating {W} target devices", unit="step")
    post, jobs = None, []
    for i in it:
        if i:
            n_new = int(ks[i] - ks[i - 1])
            avail = ~measured[:, cpos]
            if policy == "random":
                new = np.stack([rng.choice(np.flatnonzero(avail[j]), n_new, replace=False) for j in range(W)])
            elif i == 1 and first is not None:
                new = np.broadcast_to(np.searchsorted(cand, first), (W, n_new))
            else:
                new = _select_active(wd, post, prior, Zc, cpos, avail, n_new, criterion, trim, ZZt)
            pos = cpos[new]  # (W, n_new)
            zw = Z[pos] / w[pos][..., None]
            yw = truths[rows[:, None], pos] / w[pos]
            G += np.einsum("wnm,wnk->wmk", zw, zw)
            b += np.einsum("wnm,wn->wm", zw, yw)
            yy += (yw**2).sum(axis=1)
            measured[rows[:, None], pos] = True
        post = prior.posterior(G, b, yy, len(y0) + int(ks[i]), rng, n_draws)
        post["mu"] = post["mean_stheta"] @ Z.T  # (W, A) ms: the posterior-mean latency function
        if i == 0:  # nothing simulated yet: the user's ranking now is the real posterior's
            post["mu"][:] = post0.mean(noise_free=True)
        eps = rng.standard_normal((W, min(METRIC_DRAWS, post["theta"].shape[1]), len(Ed)))
        jobs.append(pool.submit(_score_step, out, i, post, Z[Ed], w[Ed], eps, floor, truths, measured.copy(), E0,
                                Ed, proxy, threshold, n_proxy if proxy is not None else 0))
    for job in jobs:
        job.result()
    return out


def _score_step(out, i, post, Z_d, w_d, eps, floor, truths, measured, E0, Ed, proxy, threshold, n_proxy) -> None:
    """Step ``i``'s scores (:func:`_score_worlds`) from the worlds' posterior: the draws on ``Ed`` are the first
    :data:`METRIC_DRAWS` coefficient draws' functions plus noise (``eps``: standard normals, drawn by the loop)."""
    fn = post["scale"][:, :METRIC_DRAWS, None] * (post["theta"][:, :METRIC_DRAWS] @ Z_d.T)
    noise = (post["scale"] * post["sigma"])[:, :METRIC_DRAWS, None] * w_d
    draws = np.maximum(fn + noise * eps, floor)
    _score_worlds(out, i, post["mu"], truths, draws, measured, E0, Ed, proxy, threshold, n_proxy)


def _pearson_masked(Ra: np.ndarray, Rb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pearson correlation over the ``valid`` entries of the last axis (ranks in, so an SRCC out)."""
    n = valid.sum(axis=-1, keepdims=True)
    Ra = np.where(valid, Ra - np.where(valid, Ra, 0).sum(-1, keepdims=True) / n, 0.0)
    Rb = np.where(valid, Rb - np.where(valid, Rb, 0).sum(-1, keepdims=True) / n, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (Ra * Rb).sum(-1) / np.sqrt((Ra**2).sum(-1) * (Rb**2).sum(-1))


def _last(X: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``X`` with its invalid entries replaced by distinct values above every valid one, in position order.

    Their :func:`~latxfer.ranks.ranks` are those of ``ranks(np.where(valid, X, np.nan))`` (NaN sorts last, in
    position order), without the NaN rows that make ``ranks`` fall back to the stable sort."""
    out = np.array(X, dtype=float)  # a copy (np.where with broadcast masks is 50x slower than copyto)
    np.copyto(out, float(np.max(out, initial=0.0)) + 1.0 + np.arange(X.shape[-1], dtype=float),
              where=~np.asarray(valid))
    return out


def _avg_ranks(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row of ``valid`` ``(W, n)``: ``scipy.stats.rankdata(v[valid]) - 1`` (average ranks of ties) at the
    valid entries of the fixed vector ``v``, 0 elsewhere; one sort of ``v`` for all rows."""
    order = np.argsort(v, kind="stable")
    sv = v[order]
    grp = np.concatenate([[0], np.cumsum(sv[1:] != sv[:-1])])  # tie group of each sorted position
    W, n_grp = len(valid), int(grp[-1]) + 1 if len(v) else 0
    vs = valid[:, order]
    cnt = np.zeros((W, n_grp))
    np.add.at(cnt, (np.broadcast_to(np.arange(W)[:, None], vs.shape)[vs], np.broadcast_to(grp, vs.shape)[vs]), 1)
    below = np.cumsum(cnt, axis=1) - cnt
    out = np.zeros(valid.shape)
    out[:, order] = below[:, grp] + (cnt[:, grp] - 1) / 2
    return np.where(valid, out, 0.0)


def _score_worlds(out, i, mu, truths, draws, measured, E0, Ed, proxy, threshold, n_proxy) -> None:
    """Step ``i``'s metrics of every world, on its unmeasured evaluation architectures.

    The realised SRCC (posterior-mean ranking vs the world's truth, on ``E0``) and the draw-based metrics on
    ``Ed`` (draws ``(W, S, |Ed|)``): ranks by :func:`latxfer.ranks.ranks` with the measured columns masked
    (ranked last, so the unmeasured ones get ranks ``0..n-1``), the fixed proxy vector by average ranks, as
    :func:`latxfer.ranks.srcc_rows`; ``p_above`` / ``width`` from :func:`widen_srcc` with the discrepancy times
    the share of unmeasured proxy architectures (as :func:`proxy_srcc_draws` / ``posterior_srcc``).
    """
    un_E, un_d = ~measured[:, E0], ~measured[:, Ed]
    out["srcc"][:, i] = _pearson_masked(ranks(_last(mu[:, E0], un_E)), ranks(_last(truths[:, E0], un_E)), un_E)
    R = ranks(_last(draws, un_d[:, None, :]))  # (W, S, |Ed|)
    Rm = ranks(_last(mu[:, Ed], un_d))
    out["expected_srcc"][:, i] = np.nanmean(_pearson_masked(R, Rm[:, None, :], un_d[:, None, :]), axis=1)
    if proxy is None:
        return
    share = 1.0 - np.isfinite(np.where(measured, proxy, np.nan)).sum(axis=1) / n_proxy
    raw = _pearson_masked(R, _avg_ranks(proxy[Ed], un_d)[:, None, :], un_d[:, None, :])  # (W, S)
    r = np.stack([widen_srcc(raw[j], PSRCC_DISCREPANCY * share[j]) for j in range(len(mu))])
    out["p_above"][:, i] = np.mean(r >= threshold, axis=1)
    lo, hi = np.quantile(r, [0.05, 0.95], axis=1)
    out["width"][:, i] = hi - lo


def _select_active(wd, post, prior, Zc, cpos, avail, n, criterion, trim, ZZt) -> np.ndarray:
    """:func:`select_batch`'s active selection in every world: indices into the candidates ``(W, n)``."""
    mu = post["mu"]
    if trim > 0:
        extreme = extreme_masks(wd.d.leverage[cpos], avail, 0.0, trim) | extreme_masks(mu[:, cpos], avail, trim / 2, trim / 2)
        keep = avail & ~extreme
        enough = keep.sum(axis=1) >= n
        avail = np.where(enough[:, None], keep, avail)
    V, s2 = wd.shape(post["theta"], post["scale"], post["sigma"])
    G = wd.tie_gram(mu, V) if criterion == "rank" else wd.d.G
    return select_worlds(Zc, avail, V, s2, G, n, criterion, ZZt)
