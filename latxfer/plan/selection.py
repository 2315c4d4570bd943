"""Active selection of the next target measurements (:func:`select_batch`) and the candidates it chooses from.

Ranking depends only on the *shape* of the latency function, not its intercept or scale.  Each posterior draw of
the noise-free latency function is standardised over architectures (mean 0, sd 1) and projected on the model's
design rows ``[F, Q]``; the draws give a Gaussian over these shape coefficients (:func:`shape_gaussian`).  A batch
is picked greedily with rank-one "as if measured" updates under a criterion (``rank``, ``ivar``, ``maxvar``; see
:mod:`latxfer.plan`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from latxfer.errors import ConfigError
from latxfer.models.posterior import DevicePosterior
from latxfer.plan.goals import check_trim

__all__ = ["ACTIVE_CRITERIA", "ACTIVE_TRIM", "CRITERIA", "POLICIES", "default_candidates", "extreme_candidates",
           "select_batch", "shape_gaussian"]

POLICIES = ("active", "random")
ACTIVE_CRITERIA = ("ivar", "rank", "maxvar")
CRITERIA = (*ACTIVE_CRITERIA, "random")


class _Design:
    """Shape design of a model: ``[F, Q]`` rows, their Gram matrix and a projector (cached per model)."""

    def __init__(self, model):
        Z = model.basis.design()[:, 1:]  # drop the intercept: ranking ignores it
        self.archs = model.basis.archs
        self.Z = Z
        self.G = Z.T @ Z / len(Z)  # average outer product over the space (I-optimal weights)
        self.pinv = np.linalg.pinv(Z)  # (m, A): least-squares projection of a function on the design
        # leverage of every architecture: Mahalanobis distance z' G^-1 z from the space's centre
        self.leverage = np.einsum("am,mk,ak->a", Z, np.linalg.pinv(self.G), Z)
        self.observed = model.basis.observed


_DESIGNS: dict[int, _Design] = {}


def _design(model) -> _Design:
    key = id(model.basis)
    d = _DESIGNS.get(key)
    if d is None or d.Z.shape[0] != len(model.basis.archs):
        if len(_DESIGNS) > 8:
            _DESIGNS.clear()
        d = _DESIGNS[key] = _Design(model)
    return d


def shape_gaussian(post: DevicePosterior, design: np.ndarray, pinv: np.ndarray | None = None):
    """Gaussian over the standardised shape coefficients of a posterior's latency function.

    Parameters
    ----------
    post : DevicePosterior
        Needs ``mean_fn_ms`` (noise-free function draws, ms) over the same architectures as ``design``.
    design : numpy.ndarray
        ``(A, m)`` shape design rows (``[F, Q]``, no intercept).
    pinv : numpy.ndarray, optional
        Pseudo-inverse of ``design`` (computed when absent).

    Returns
    -------
    V : numpy.ndarray
        ``(m, m)`` covariance of the shape coefficients (standardised units: sd over architectures 1).
    s2 : float
        Mean measurement-noise variance in the same units.
    """
    fn = post.mean_fn_ms if post.mean_fn_ms is not None else post.draws_ms
    if fn.shape[1] != design.shape[0]:
        raise ConfigError(f"the posterior covers {fn.shape[1]} architectures but the design {design.shape[0]}")
    mu = fn.mean(axis=1, keepdims=True)
    sd = fn.std(axis=1, keepdims=True)
    sd = np.where(sd > 0, sd, 1.0)
    std = (fn - mu) / sd
    P = np.linalg.pinv(design) if pinv is None else pinv
    phi = std @ P.T  # (S, m)
    V = np.cov(phi, rowvar=False) if len(phi) > 1 else np.zeros((phi.shape[1],) * 2)
    V = np.atleast_2d(V)
    noise = post.draws_ms - fn
    s2 = float(np.mean(noise.var(axis=1, keepdims=True) / sd**2)) if post.mean_fn_ms is not None else 1e-4
    return V, max(s2, 1e-8)


def _step_scores(Zc: np.ndarray, V: np.ndarray, s2: float, criterion: str, G: np.ndarray) -> np.ndarray:
    """Score of each candidate row ``Zc`` as the next single measurement under ``criterion``."""
    U = Zc @ V  # (C, m)
    var = np.einsum("cm,cm->c", U, Zc)
    if criterion == "maxvar":
        return var
    # ivar / rank: reduction of the (weighted) average variance over the space
    return np.einsum("cm,mk,ck->c", U, G, U, optimize=True) / (var + s2)


def _greedy(Zc: np.ndarray, V: np.ndarray, s2: float, n: int, criterion: str, G: np.ndarray) -> np.ndarray:
    """Greedy batch on candidate rows ``Zc`` with rank-one 'as if measured' updates; returns row indices."""
    V = V.copy()
    picked: list[int] = []
    avail = np.ones(len(Zc), bool)
    for _ in range(n):
        score = np.where(avail, _step_scores(Zc, V, s2, criterion, G), -np.inf)
        c = int(np.argmax(score))
        picked.append(c)
        avail[c] = False
        u = V @ Zc[c]
        V -= np.outer(u, u) / (Zc[c] @ u + s2)
    return np.asarray(picked, np.int64)


def _degenerate(model, archs: np.ndarray) -> np.ndarray:
    """Which ``archs`` the model's search space calls degenerate (:meth:`SearchSpace.degenerate`).

    No architecture is when the space cannot be loaded (an unknown space, no data directory).
    """
    from latxfer.data.datasets import load_space
    from latxfer.errors import LatxferError

    try:
        space = load_space(model.space_name)
    except LatxferError:
        return np.zeros(len(archs), dtype=bool)
    return np.asarray(space.degenerate(archs), dtype=bool)


def default_candidates(model) -> np.ndarray:
    """The architectures planning proposes by default: every one seen by a source device, except the space's
    degenerate ones (:meth:`~latxfer.spaces.SearchSpace.degenerate`; NB201's 341 disconnected cells, whose
    output ignores the input: no search deploys them, and some devices run them ~200x faster, a regime the
    model does not describe)."""
    archs = model.basis.archs
    cand = archs[model.basis.observed > 0] if np.any(model.basis.observed > 0) else archs
    return cand[~_degenerate(model, cand)]


def _candidates(model, post: DevicePosterior | None, measured_archs, candidates) -> np.ndarray:
    """Candidate architectures (indices): given ones, else :func:`default_candidates`."""
    if candidates is None:
        cand = default_candidates(model)
    else:
        cand = np.unique(np.asarray(candidates, np.int64))
        model.basis.positions(cand)  # UnknownArchitectureError for foreign indices
    meas = np.asarray(measured_archs if measured_archs is not None else [], np.int64)
    if post is not None:
        meas = np.union1d(meas, post.archs[post.measured])
    return np.setdiff1d(cand, meas)


#: Share of the candidates that active selection leaves out at the extremes of the design (see
#: :func:`extreme_candidates`); ``0`` keeps every candidate.  Chosen on devices that are not HELP targets
#: (validation devices and sources left out, NB201 and FBNet, 8 seeds; ``benchmarks/planning.py
#: --tune-trim``) among 0, 0.05, 0.1 and 0.2: 0.05 ranked best (realised SRCC averaged over 5..30
#: measurements +0.0045 over 0, NB201 +0.000, FBNet +0.009).
ACTIVE_TRIM = 0.05


def extreme_candidates(model, post: DevicePosterior, cand: np.ndarray, trim: float) -> np.ndarray:
    """Which of ``cand`` lie at the extremes of the design: a boolean mask.

    An optimal design measures the points of highest leverage, where one measurement pins the most
    coefficients.  Those are also where the model's basis is least trustworthy: a device whose latency
    function the basis cannot follow at its edges shows it there first, and the posterior then reads the
    misfit as noise.  Extreme means, among ``cand``, either in the top ``trim`` share of leverage in the
    shape design ``[F, Q]`` (Mahalanobis distance ``z' G^-1 z`` from the space's centre) or in the outer
    ``trim / 2`` share at either end of the posterior-mean latency (the fastest and the slowest).
    """
    if trim <= 0 or len(cand) == 0:
        return np.zeros(len(cand), bool)
    pos = model.basis.positions(cand)
    fn = post.mean_fn_ms if post.mean_fn_ms is not None else post.draws_ms
    mu = fn.mean(axis=0)[pos]
    r_lev = stats.rankdata(_design(model).leverage[pos]) / len(cand)
    r_mu = stats.rankdata(mu) / len(cand)
    return (r_lev > 1 - trim) | (r_mu <= trim / 2) | (r_mu > 1 - trim / 2)


def select_batch(model, post: DevicePosterior, n: int, *, policy: str = "active", criterion: str = "rank",
                 candidates=None, rng=None, trim: float | None = None) -> np.ndarray:
    """Architectures to measure next on the target device.

    Parameters
    ----------
    model : LatencyModel
        The fitted model (its factor basis gives the design).
    post : DevicePosterior
        The target's current posterior (``model.adapt(...).posterior``); its measured architectures are
        not proposed again.
    n : int
        Batch size.
    policy : {"active", "random"}
    criterion : {"ivar", "rank", "maxvar"}
        Active criterion (module docstring).
    candidates : array of int, optional
        Restrict to these architectures (e.g. a NAS shortlist); default every architecture of the space
        that a source device measured, except degenerate ones (:meth:`SearchSpace.degenerate`: NB201's
        341 disconnected cells, whose output ignores the input).
    rng : int or numpy.random.Generator, optional
        For ``random``.
    trim : float, optional
        Active selection only: leave out the candidates at the extremes of the design (share, see
        :func:`extreme_candidates`; default :data:`ACTIVE_TRIM`).  When fewer than ``n`` candidates would
        be left, none is left out.

    Returns
    -------
    numpy.ndarray
        ``n`` architecture indices, in selection order.

    Raises
    ------
    ConfigError
        Unknown policy / criterion, ``n < 1``, or more than the candidates left.
    """
    if policy not in POLICIES:
        raise ConfigError(f"unknown selection policy {policy!r}; expected one of {POLICIES}")
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown active criterion {criterion!r}; expected one of {CRITERIA}")
    n = int(n)
    if n < 1:
        raise ConfigError(f"the batch size must be >= 1, got {n}")
    cand = _candidates(model, post, None, candidates)
    if n > len(cand):
        raise ConfigError(f"batch of {n} architectures but only {len(cand)} unmeasured candidate(s) left; "
                          f"use a batch <= {len(cand)}")
    trim = _check_trim(trim)
    rng = np.random.default_rng(rng)
    if policy == "random" or criterion == "random":
        return rng.choice(cand, n, replace=False)
    return _ActiveSelection(model, post, cand, criterion, trim).pick(n)


class _ActiveSelection:
    """:func:`select_batch`'s active selection from one posterior, set up once for batches of any size (the
    greedy is sequential, so the first ``n`` of a larger batch are the batch of ``n``)."""

    def __init__(self, model, post: DevicePosterior, cand: np.ndarray, criterion: str, trim: float):
        d = _design(model)
        if not np.array_equal(post.archs, d.archs):
            raise ConfigError("the posterior's architectures differ from the model's: adapt with this model")
        self.cand, self.criterion = cand, criterion
        self.keep = ~extreme_candidates(model, post, cand, trim)
        self.V, self.s2 = shape_gaussian(post, d.Z, d.pinv)
        self.G = d.G if criterion != "rank" else _tie_weighted_gram(post, d.Z, self.V, d.G)
        self.Z = d.Z[model.basis.positions(cand)]

    def pick(self, n: int) -> np.ndarray:
        """``n`` architecture indices, in selection order."""
        keep = self.keep if self.keep.sum() >= n else np.ones(len(self.cand), bool)
        return self.cand[keep][_greedy(self.Z[keep], self.V, self.s2, n, self.criterion, self.G)]


def _tie_weighted_gram(post: DevicePosterior, Z: np.ndarray, V: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``Z' W Z / sum(W)`` with W the density of architectures near each one's predicted latency.

    The expected number of mis-ordered pairs (what SRCC counts) is, for small errors, proportional to
    ``sum_a sd_a * density(mu_a)``: an error at an architecture costs in proportion to how many others
    have nearly the same predicted latency.  Weighting the I-optimal criterion by that density spends
    the measurements where the ranking is crowded instead of on the sparse (usually slow) tail.  The
    density is a histogram of the standardised posterior-mean function with the bin width of its typical
    posterior sd (floor 0.02 sd), smoothed over neighbouring bins.  ``G = Z'Z / A`` (the unweighted Gram):
    the mean predictive variance over the space is ``trace(V G)``.
    """
    fn = post.mean_fn_ms if post.mean_fn_ms is not None else post.draws_ms
    mu = fn.mean(axis=0)
    mu = (mu - mu.mean()) / (mu.std() or 1.0)
    h = max(float(np.sqrt(np.sum(V * G))), 0.02)
    edges = np.arange(mu.min() - h, mu.max() + 2 * h, h)
    counts = np.histogram(mu, edges)[0].astype(float)
    counts = np.convolve(counts, [0.25, 0.5, 0.25], mode="same")
    w = counts[np.clip(np.digitize(mu, edges) - 1, 0, len(counts) - 1)]
    return (Z * w[:, None]).T @ Z / w.sum()



def _check_trim(trim) -> float:
    """``trim`` of :func:`select_batch` / :func:`preposterior`: ``None`` -> :data:`ACTIVE_TRIM`, else in [0, 1)."""
    return check_trim(trim, ACTIVE_TRIM)
