"""The shared architecture structure: factor scores learned from the source devices, plus the encoding.

Every device's latency (ms, divided by that device's scale) is modelled on the design
``Z(a) = [1, F(a), Q(a)]`` where

``F`` (arch x K)
    architecture factors: the leading principal components of the source devices' scaled latency
    tables (EM-PCA when sources miss architectures).  They capture what all devices agree on about an
    architecture, including what its op encoding misses (ties to dead cells, interactions).  Where no
    source device measured an architecture, ``F`` falls back to its regression on the op encoding
    (``F(a) = x_a B``).  Identifiability: columns are centred, orthogonal, unit variance, ordered by
    variance, with the sign that makes the mean source loading positive.
``Q`` (arch x P)
    the identifiable op encoding (reference coding) made orthogonal to ``[1, F]`` and orthonormalised
    (QR), scaled to unit variance: the device-specific operator costs that the factors miss (the Bayesian
    counterpart of AdaProxy's ``b`` term).

The basis is a deterministic function of the source tables (an empirical-Bayes plug-in for the factor
scores: with every architecture measured on several devices their posterior uncertainty is small next
to the device-level uncertainty that adaptation from a few measurements faces).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from latxfer.errors import InsufficientDataError, LatxferWarning

__all__ = ["FactorBasis", "build_basis", "noise_scale", "novelty_directions", "scale_sources"]


@dataclass
class FactorBasis:
    """Design matrices over all architectures.

    Attributes
    ----------
    archs : numpy.ndarray
        Architecture indices (int64) the rows refer to.
    F : numpy.ndarray
        ``(A, K)`` factor scores.
    Q : numpy.ndarray
        ``(A, P)`` orthogonalised encoding features.
    observed : numpy.ndarray
        ``(A,)`` number of source devices that measured each architecture.
    explained : numpy.ndarray
        Share of the scaled source variance explained by each factor.
    generic : numpy.ndarray or None
        ``(1 + K + P, G)`` novelty directions in coefficient space (see :func:`novelty_directions`):
        the standardised op-type counts expressed on ``[1, F, Q]``.  None when the space has no op types.
    noise : numpy.ndarray or None
        ``(A,)`` relative noise sd of each architecture (geometric mean 1; see :func:`noise_scale`).
        None: the same noise sd for every architecture.
    """

    archs: np.ndarray
    F: np.ndarray
    Q: np.ndarray
    observed: np.ndarray
    explained: np.ndarray
    generic: np.ndarray | None = None
    noise: np.ndarray | None = None

    @property
    def K(self) -> int:  # noqa: N802 - conventional symbol
        """Number of factors."""
        return self.F.shape[1]

    @property
    def P(self) -> int:  # noqa: N802
        """Number of encoding features."""
        return self.Q.shape[1]

    def design(self, positions: np.ndarray | slice | None = None) -> np.ndarray:
        """``[1, F, Q]`` rows at ``positions`` (default all): ``(n, 1 + K + P)``."""
        sl = slice(None) if positions is None else positions
        F, Q = self.F[sl], self.Q[sl]
        return np.concatenate([np.ones((F.shape[0], 1)), F, Q], axis=1)

    def noise_at(self, positions: np.ndarray | slice | None = None) -> np.ndarray:
        """Relative noise sd ``(n,)`` at ``positions`` (default all; ones without a noise model)."""
        sl = slice(None) if positions is None else positions
        if self.noise is None:
            return np.ones(len(self.archs[sl]))
        return self.noise[sl]

    def positions(self, archs) -> np.ndarray:
        """Row positions of architecture indices (they must be in ``archs``)."""
        archs = np.asarray(archs, dtype=np.int64)
        pos = np.searchsorted(self.archs, archs)
        pos = np.minimum(pos, len(self.archs) - 1)
        if np.any(self.archs[pos] != archs):
            from latxfer.errors import UnknownArchitectureError

            bad = archs[self.archs[pos] != archs]
            raise UnknownArchitectureError(
                f"architecture(s) {bad[:8].tolist()} are not in the model's space "
                f"({len(self.archs)} architectures, {self.archs.min()}..{self.archs.max()})"
            )
        return pos


def scale_sources(Y: np.ndarray) -> np.ndarray:
    """Per-device scale (sd over measured architectures, ms) of a ``(D, A)`` table with NaNs."""
    sd = np.nanstd(Y, axis=1)
    if np.any(~np.isfinite(sd)) or np.any(sd <= 0):
        bad = np.where(~np.isfinite(sd) | (sd <= 0))[0].tolist()
        raise InsufficientDataError(
            f"source device row(s) {bad} have fewer than 2 measurements or constant latency; a source "
            "device needs varying latencies over architectures"
        )
    return sd


def build_basis(Ys: np.ndarray, X: np.ndarray, archs: np.ndarray, n_factors: int,
                n_iter: int = 30) -> FactorBasis:
    """Build the factor basis from scaled source tables.

    Parameters
    ----------
    Ys : numpy.ndarray
        ``(D, A)`` source latency divided by each device's scale (NaN = not measured).
    X : numpy.ndarray
        ``(A, P0)`` identifiable op encoding of the same architectures (no intercept).
    archs : numpy.ndarray
        ``(A,)`` architecture indices.
    n_factors : int
        K, the number of factors (at most the number of source devices).
    n_iter : int
        EM-PCA iterations when some cells are missing.

    Returns
    -------
    FactorBasis
    """
    D, A = Ys.shape
    K = int(n_factors)
    if K < 0 or K > D:
        raise InsufficientDataError(f"n_factors={K} needs at least {K} source devices, got {D}")
    obs = np.isfinite(Ys)
    n_obs = obs.sum(axis=0)
    Xc = X - X.mean(axis=0)
    X1 = np.c_[np.ones(A), Xc]
    # centre each device by its mean, impute missing cells by an encoding regression, refine by EM-PCA
    mu = np.array([Ys[d, obs[d]].mean() for d in range(D)])
    Zc = np.where(obs, Ys - mu[:, None], np.nan)
    filled = np.empty_like(Zc)
    for d in range(D):
        o = obs[d]
        coef, *_ = np.linalg.lstsq(X1[o], Zc[d, o], rcond=None)
        filled[d] = np.where(o, Zc[d], X1 @ coef)
    if K > 0 and not obs.all():
        for _ in range(n_iter):
            U, sv, Vt = np.linalg.svd(filled - filled.mean(axis=1, keepdims=True), full_matrices=False)
            rec = filled.mean(axis=1, keepdims=True) + (U[:, :K] * sv[:K]) @ Vt[:K]
            filled = np.where(obs, Zc, rec)
    Zc = filled - filled.mean(axis=1, keepdims=True)
    if K > 0:
        U, sv, Vt = np.linalg.svd(Zc, full_matrices=False)
        F = Vt[:K].T * np.sqrt(A)
        load = U[:, :K] * sv[:K] / np.sqrt(A)
        sign = np.where(load.mean(axis=0) < 0, -1.0, 1.0)
        F = F * sign
        explained = sv[:K] ** 2 / np.sum(sv**2)
        unseen = n_obs == 0
        if unseen.any() and (~unseen).sum() > X1.shape[1]:
            B, *_ = np.linalg.lstsq(X1[~unseen], F[~unseen], rcond=None)
            F[unseen] = X1[unseen] @ B
    else:
        F = np.zeros((A, 0))
        explained = np.zeros(0)
    # encoding orthogonal to [1, F], orthonormalised, unit variance columns
    base = np.c_[np.ones(A), F]
    coef, *_ = np.linalg.lstsq(base, Xc, rcond=None)
    R = Xc - base @ coef
    q, r = np.linalg.qr(R)
    keep = np.abs(np.diag(r)) > 1e-8 * max(1.0, np.abs(np.diag(r)).max())
    Q = q[:, keep] * np.sqrt(A)
    return FactorBasis(np.asarray(archs, np.int64), F, Q, n_obs, explained)


def novelty_directions(basis: FactorBasis, counts: np.ndarray) -> np.ndarray | None:
    """Coefficient-space directions of a new device's per-op-type costs.

    The source population describes devices like the sources.  A new device of another kind (a GPU
    when every source is a phone) departs from it mostly through what one op *type* costs wherever it
    occurs (a skip is free on a batch-1 GPU, a 5x5 conv is not).  Those departures are few (one per op
    type), so a handful of measurements pins them down when the population cannot.  This function
    expresses the op-type counts (centred, unit variance; constant columns dropped) exactly on the
    design ``[1, F, Q]`` (the encoding lies in its span), so a prior term ``W gamma``,
    ``gamma ~ N(0, op_count_sd^2 I)``, adds ``op_count_sd^2 W W'`` to a new device's prior covariance.

    Parameters
    ----------
    basis : FactorBasis
    counts : numpy.ndarray
        ``(A, n_ops)`` op counts of ``basis.archs``.

    Returns
    -------
    numpy.ndarray or None
        ``W`` of shape ``(1 + K + P, G)``, or None when no count varies.
    """
    C = np.asarray(counts, dtype=float)
    C = C - C.mean(axis=0)
    sd = C.std(axis=0)
    keep = sd > 1e-12
    if not keep.any():
        return None
    C = C[:, keep] / sd[keep]
    W, *_ = np.linalg.lstsq(basis.design(), C, rcond=None)
    return W


def noise_scale(Ys: np.ndarray, basis: FactorBasis, power: float | str, n_bins: int = 10,
                clip: float = 0.01) -> tuple[np.ndarray | None, float, dict]:
    """Relative noise sd of every architecture: ``(level(a) / geometric mean level) ** power``.

    On real devices the residual of a device's latency around its fit on ``[1, F, Q]`` grows with the
    latency: a slow architecture runs longer, and its run-to-run and unmodelled variation is larger in
    ms (docs/validation/fewshot.md; before this, 90% intervals covered 0.99 of the fastest fifth and 0.69-0.84 of the
    slowest).  ``level(a)`` is the mean scaled source latency of ``a`` (its least-squares fit on
    ``[1, F, Q]``, so architectures no source measured get a level too), clipped below at its ``clip``
    quantile.  Like the factors, this is an empirical-Bayes plug-in: one curve for every device, which keeps
    the fast path conjugate.

    Parameters
    ----------
    Ys : numpy.ndarray
        ``(D, A)`` scaled source tables (NaN = not measured).
    basis : FactorBasis
    power : float or "auto"
        The exponent; ``0`` = homoscedastic (returns None).  ``"auto"``: per source device, the slope of
        log residual sd (in ``n_bins`` level bins) on log level, and the median over sources (with a
        warning and power 0 when no source has enough measured architectures for a slope).
    n_bins : int
    clip : float

    Returns
    -------
    noise : numpy.ndarray or None
        ``(A,)`` relative noise sd, geometric mean 1.
    power : float
        The exponent used.
    per_device : dict
        ``"auto"`` only: each source's own slope (``{}`` otherwise).
    """
    if power != "auto" and float(power) == 0:  # homoscedastic needs no level (the error below advises it)
        return None, 0.0, {}
    Z = basis.design()
    obs = np.isfinite(Ys)
    seen = obs.any(axis=0)
    level_obs = np.where(obs, Ys, 0.0).sum(axis=0) / np.maximum(obs.sum(axis=0), 1)
    coef, *_ = np.linalg.lstsq(Z[seen], level_obs[seen], rcond=None)
    level = Z @ coef
    lo = np.quantile(level, clip)
    if not lo > 0:
        raise InsufficientDataError(
            "the sources' mean scaled latency is not positive over the space (latencies must be > 0 ms); "
            "cannot build a latency-dependent noise model (set model.noise_power = 0)")
    log_level = np.log(np.maximum(level, lo))
    per_device: dict = {}
    if power == "auto":
        for d in range(Ys.shape[0]):
            o = obs[d]
            if o.sum() < 5 * n_bins + Z.shape[1]:
                continue
            c, *_ = np.linalg.lstsq(Z[o], Ys[d, o], rcond=None)
            r = Ys[d, o] - Z[o] @ c
            ll = log_level[o]
            edges = np.quantile(ll, np.linspace(0, 1, n_bins + 1)[1:-1])
            b = np.digitize(ll, edges)
            sd = np.array([r[b == k].std() for k in range(n_bins)])
            mid = np.array([ll[b == k].mean() for k in range(n_bins)])
            if np.all(sd > 0):
                per_device[d] = float(np.polyfit(mid, np.log(sd), 1)[0])
        if not per_device:
            warnings.warn(LatxferWarning(
                "model.noise_power = 'auto': no source device has the "
                f"{5 * n_bins + Z.shape[1]} measured architectures (and a non-zero residual) needed to estimate how "
                "its noise grows with latency; using one noise sd per device (set model.noise_power to a number "
                "to choose)"), stacklevel=3)
            return None, 0.0, per_device
        power = float(np.median(list(per_device.values())))
    power = float(power)
    if power == 0:
        return None, 0.0, per_device
    log_w = power * (log_level - log_level.mean())
    return np.exp(log_w), power, per_device
