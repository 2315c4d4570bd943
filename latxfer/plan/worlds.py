"""The batched preposterior engine: many simulated devices adapted, selected for and scored at once.

Every simulated device ("world") follows the user's loop -- select a batch, "measure" it in the world's table,
re-adapt, score -- and the worlds differ only in their data.  What a world's adaptation needs is small: the
posterior of the ``M = 1 + K + P`` device coefficients under each prior component of the fitted model, which is
closed-form given the sufficient statistics of its measurements (``Z'Z``, ``Z'y``, ``y'y`` of the noise-weighted
design rows), and the ranking it implies.  This module computes them for all worlds in batched numpy:

* **The prior** (:class:`WorldPrior`): each mixture component of :meth:`LatencyModel.adapt`'s fast path (the
  population with each novelty sd, near each source, near each source's op-linear part) becomes one Gaussian
  over the coefficients, moment-matched over the population's posterior draws (mean, and covariance = mean of
  the per-draw covariances + covariance of the per-draw means); the log scale and log noise sd get normal
  priors matched the same way.  *This is the approximation that differs from the fast path*, which keeps each
  population draw's own Gaussian (a scale mixture) and averages the component evidence over 60 of them: per
  world and step the fast path needs ``22 components x 60 draws`` eigendecompositions, this engine one per
  covariance class (5), shared by all components of the class.
* **The posterior** (:meth:`WorldPrior.posterior`): the same computation as the fast path's coefficient-space
  update (``latxfer.models.conjugate``, low-rank form): per class one eigendecomposition of ``L' Z'Z L``
  makes every Gauss-Hermite noise node diagonal; log scale is integrated on successively refined grids; the
  components are weighted by prior weight x evidence; coefficient draws by Matheron's rule in the eigenbasis.
  The posterior mean of the latency function (the ranking) is computed exactly over the grid (not as a mean
  of draws).
* **Selection** (:func:`select_worlds`): :func:`~latxfer.plan.select_batch`'s criteria, batched: the shape
  Gaussian in closed form from the coefficient draws (the standardised function of a draw is linear in its
  coefficients), the tie-weighted Gram with one matrix product for all worlds, and the greedy rank-one
  updates with per-candidate quadratic forms updated in ``O(candidates x m)`` per pick.
"""

from __future__ import annotations

import numpy as np

from latxfer.models import mixture

__all__ = ["WorldDesign", "WorldPrior", "extreme_masks", "pair_products", "select_worlds"]


def _psd_factor(V: np.ndarray) -> np.ndarray:
    """A square factor ``L`` with ``L L' = V`` for a symmetric PSD ``V`` (eigen square root; singular ok)."""
    e, Q = np.linalg.eigh((V + V.T) / 2)
    return Q * np.sqrt(np.maximum(e, 0.0))


def _sum_outer(L: np.ndarray) -> np.ndarray:
    """``sum_s L_s L_s'`` of ``(S, M, R)`` factors.  Small ``M`` (NB201: 28) by ``np.einsum``, whose rounding the
    plans made so far carry (a different rounding flips some simulated draws: the same plan statistically, not
    the same numbers); large ``M`` by one matrix product (FBNet, ``M = 180``: 16 s -> 0.3 s)."""
    if L.shape[1] <= 64:
        return np.einsum("smr,skr->mk", L, L)
    Lt = np.moveaxis(L, 1, 0).reshape(L.shape[1], -1)
    return Lt @ Lt.T


def _gh(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and normalised log-weights (as the fast path's noise nodes)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, np.log(w / w.sum())


class WorldPrior:
    """Moment-matched Gaussian prior per mixture component of a fitted model (see the module docstring).

    Parameters
    ----------
    model : LatencyModel
        A fitted model.
    max_draws : int
        Population draws the moments are taken over (a fixed random subset when there are more).
    """

    def __init__(self, model, max_draws: int = 800):
        pop = model.population
        S_all = len(pop["intercept_mu"])
        sel = np.arange(S_all)
        if S_all > max_draws:
            sel = np.sort(np.random.default_rng(0).choice(S_all, max_draws, replace=False))
        comps = mixture.components(model)
        means, cls, logw = [], [], []
        cov_sum: dict[tuple, np.ndarray] = {}
        mean_cov: dict[tuple, list] = {}
        keys: list[tuple] = []
        for kind, par, w in comps:
            if kind == "population":
                m, L = mixture.prior_blocks(model, sel, par)
                key = ("population", mixture.level(par))
            else:
                m, L = mixture.source_prior(model, sel, par, kind == "source-linear")
                key = ("source",)
            if key not in cov_sum:
                keys.append(key)
                cov_sum[key] = _sum_outer(L) / len(sel)
                mean_cov[key] = []
            mean_cov[key].append(np.cov(m, rowvar=False, bias=True) if len(sel) > 1 else 0 * cov_sum[key])
            means.append(m.mean(axis=0))
            cls.append(keys.index(key))
            logw.append(np.log(w))
        # a class's covariance: mean per-draw covariance + the (average over its components) covariance of the
        # per-draw means, so all components of a class share one factor (and one eigendecomposition per world)
        self.L = np.stack([_psd_factor(cov_sum[k] + np.mean(mean_cov[k], axis=0)) for k in keys])  # (Kc, M, M)
        self.means = np.stack(means)  # (C, M)
        self.cls = np.asarray(cls, np.int64)  # (C,)
        self.logw = np.asarray(logw)  # (C,)
        self.components = comps

        def normal(mu, sd):
            mu, sd = np.asarray(mu, float)[sel], np.asarray(sd, float)[sel]
            return float(mu.mean()), float(np.sqrt(np.mean(sd**2) + mu.var()))

        self.log_scale = normal(pop["log_scale_mu"], pop["log_scale_sd"])
        self.log_sigma = normal(pop["log_sigma_mu"], pop["log_sigma_sd"])
        self.sigma_floor = float(model.config["priors"]["sigma_floor"])
        self.grid_scale = int(model.config["adapt"]["grid_scale"])
        self.grid_noise = int(model.config["adapt"]["grid_noise"])

    # --------------------------------------------------------------------------------------- posterior
    def posterior(self, G: np.ndarray, b: np.ndarray, yy: np.ndarray, n: int, rng: np.random.Generator,
                  n_draws: int) -> dict:
        """Posterior of every world's coefficients from its sufficient statistics.

        Parameters
        ----------
        G, b, yy : numpy.ndarray
            ``(W, M, M)`` ``Z'Z``, ``(W, M)`` ``Z'y`` and ``(W,)`` ``y'y`` of the noise-weighted design rows and
            latencies (ms) of each world's measurements (:meth:`LatencyModel._weighted`).
        n : int
            Measurements per world (the same in every world).
        rng : numpy.random.Generator
        n_draws : int
            Coefficient draws per world.

        Returns
        -------
        dict
            ``mean_stheta`` ``(W, M)`` the posterior mean of ``scale x theta`` (the latency function is
            ``Z @ mean_stheta``, ms), ``theta`` ``(W, S, M)``, ``scale`` ``(W, S)`` (ms), ``sigma`` ``(W, S)``
            (scaled units), ``comp_weights`` ``(W, C)``.
        """
        W, M = b.shape
        L, cls = self.L, self.cls
        A = np.einsum("kmr,wmj,kjs->wkrs", L, G, L, optimize=True)  # (W, Kc, M, M): L' Z'Z L per class
        lam, U = np.linalg.eigh(A)
        lam = np.maximum(lam, 0.0)
        Ltb = np.einsum("kmr,wm->wkr", L, b)  # L' Z'y
        ty = np.einsum("wkrs,wkr->wks", U, Ltb)[:, cls]  # (W, C, M)
        Gm = np.einsum("wmj,cj->wcm", G, self.means)  # Z'Z m_c
        tb = np.einsum("wcrs,cmr,wcm->wcs", U[:, cls], L[cls], Gm, optimize=True)  # U' L' Z'Z m_c
        yb = b @ self.means.T  # (W, C)
        bb = np.einsum("wcm,cm->wc", Gm, self.means)
        z, lw_n = _gh(self.grid_noise)
        mu_n, sd_n = self.log_sigma
        sig2 = np.exp(2 * (mu_n + sd_n * z)) + self.sigma_floor**2  # (Gn,)
        floor = 1e-8 * lam.sum(axis=-1) / max(n, 1) + 1e-12  # (W, Kc): as the fast path's singular floor
        s2 = np.maximum(sig2[None, None, :], floor[..., None])[:, cls]  # (W, C, Gn)
        den = s2[..., None] + lam[:, cls][:, :, None, :]  # (W, C, Gn, M)
        uu = (yy[:, None, None] - (ty[:, :, None, :] ** 2 / den).sum(-1)) / s2
        vv = (yb[:, :, None] - (ty[:, :, None, :] * tb[:, :, None, :] / den).sum(-1)) / s2
        ww = (bb[:, :, None] - (tb[:, :, None, :] ** 2 / den).sum(-1)) / s2
        logdet = (n - M) * np.log(s2) + np.log(den).sum(-1)  # (W, C, Gn)
        log_s, step, logpost, log_ev = self._scale_grid(uu, vv, ww, logdet, n, lw_n)
        # joint posterior over (component, noise node, scale node)
        lc = self.logw[None, :] + log_ev  # (W, C)
        cw = np.exp(lc - lc.max(axis=1, keepdims=True))
        cw /= cw.sum(axis=1, keepdims=True)
        within = np.exp(logpost - logpost.max(axis=(2, 3), keepdims=True))
        within /= within.sum(axis=(2, 3), keepdims=True)
        P = cw[:, :, None, None] * within  # (W, C, Gn, Gs)
        s_node = np.exp(log_s)  # (W, C, Gs)
        # exact posterior mean of s theta: sum over the grid of s m_c + L U (t_y - s t_b) / den
        Pg = P.sum(-1)  # (W, C, Gn)
        Ag = (P * s_node[:, :, None, :]).sum(-1)
        coef = ((Pg[..., None] * ty[:, :, None, :] - Ag[..., None] * tb[:, :, None, :]) / den).sum(2)  # (W, C, M)
        mean_st = (np.einsum("wc,cm->wm", Ag.sum(-1), self.means)
                   + np.einsum("cmr,wcrs,wcs->wm", L[cls], U[:, cls], coef, optimize=True))
        out = {"mean_stheta": mean_st, "comp_weights": cw}
        if n_draws:
            out.update(self._draws(P, log_s, step, s2, den, ty, tb, U, rng, n_draws))
        return out

    def _scale_grid(self, uu, vv, ww, logdet, n, lw_n):
        """Integrate log scale on successively refined grids per world and component (as the fast path's
        ``_scale_posterior``): returns the final nodes ``(W, C, Gs)``, their step ``(W, C)``, the log
        posterior over (noise node, scale node) ``(W, C, Gn, Gs)`` and the log evidence ``(W, C)``."""
        mu_s, sd_s = self.log_scale
        W, C, _ = uu.shape
        Gs = self.grid_scale
        u = (np.arange(Gs) + 0.5) / Gs

        def log_post(log_s):
            lp_s = -0.5 * ((log_s - mu_s) / sd_s) ** 2  # (W, C, Gs)
            inv = np.exp(-log_s)[:, :, None, :]
            # -0.5 (uu inv^2 - 2 vv inv + ww) - 0.5 logdet - n log_s + lw_n + lp_s, in place (same operations)
            ll = uu[..., None] * inv**2
            ll -= 2 * vv[..., None] * inv
            ll += ww[..., None]
            ll *= -0.5
            ll -= 0.5 * logdet[..., None]
            ll -= n * log_s[:, :, None, :]
            ll += lw_n[None, None, :, None]
            ll += lp_s[:, :, None, :]
            return ll, lp_s

        lo = np.full((W, C), mu_s - 4.5 * sd_s)
        hi = np.full((W, C), mu_s + 4.5 * sd_s)
        log_s = lo[..., None] + (hi - lo)[..., None] * u
        step = (hi - lo) / Gs
        for _ in range(3):
            lp, _ = log_post(log_s)
            w = np.exp(lp - lp.max(axis=(2, 3), keepdims=True)).sum(axis=2)
            w /= w.sum(axis=-1, keepdims=True)
            m1 = (w * log_s).sum(-1)
            sd1 = np.sqrt(np.maximum((w * (log_s - m1[..., None]) ** 2).sum(-1), 0.0))
            half = np.maximum(5 * sd1, 1.5 * step)
            lo, hi = m1 - half, m1 + half
            log_s = lo[..., None] + (hi - lo)[..., None] * u
            step = (hi - lo) / Gs
        logpost, lp_s = log_post(log_s)
        mx = logpost.max(axis=(2, 3))
        tot = np.exp(logpost - mx[..., None, None]).sum(axis=(2, 3))
        pm = lp_s.max(-1)
        prior_mass = np.exp(lp_s - pm[..., None]).sum(-1)
        return log_s, step, logpost, np.log(tot) + mx - np.log(prior_mass) - pm

    def _draws(self, P, log_s, step, s2, den, ty, tb, U, rng, S):
        """``S`` draws per world of (component, noise node, scale) from ``P`` and of the coefficients given
        them (Matheron's rule in the class's eigenbasis, as the fast path's low-rank update)."""
        W, C, Gn, Gs = P.shape
        M = ty.shape[-1]
        flat = P.reshape(W, -1)
        cdf = np.cumsum(flat, axis=1)
        cdf /= cdf[:, -1:]
        u = rng.random((W, S))
        pick = np.minimum((np.searchsorted((cdf + np.arange(W)[:, None]).ravel(),
                                           (u + np.arange(W)[:, None]).ravel()) % flat.shape[1]),
                          flat.shape[1] - 1).reshape(W, S)
        c, rest = np.divmod(pick, Gn * Gs)
        g, j = np.divmod(rest, Gs)
        w = np.broadcast_to(np.arange(W)[:, None], (W, S))
        scale = np.exp(log_s[w, c, j] + (rng.random((W, S)) - 0.5) * step[w, c])
        var = s2[w, c, g]
        d = den[w, c, g]  # (W, S, M)
        mu_u = (ty[w, c] / scale[..., None] - tb[w, c]) / d
        zeta = mu_u + np.sqrt(var[..., None] / d) * rng.standard_normal((W, S, M))
        # L_k U_wk zeta for every class k (cheaper than gathering a matrix per draw), then each draw's own class
        v = self.L[None] @ (U @ np.swapaxes(zeta, 1, 2)[:, None])  # (W, Kc, M, S)
        k = self.cls[c]  # (W, S)
        v = np.take_along_axis(v, k[:, None, None, :], axis=1)[:, 0]  # (W, M, S)
        theta = self.means[c] + np.swapaxes(v, 1, 2)
        return {"theta": theta, "scale": scale, "sigma": np.sqrt(var)}


class WorldDesign:
    """What batched selection and scoring need of a model's design, computed once per model.

    Parameters
    ----------
    model : LatencyModel
        A fitted model.
    design : latxfer.plan.selection._Design
        Its shape design (``[F, Q]`` rows, Gram, projector, leverage).
    """

    def __init__(self, model, design):
        self.Z = model.basis.design()  # (A, M) [1, F, Q]
        self.w = model.basis.noise_at()  # (A,) relative noise sd
        self.d = design
        Zc = self.Z - self.Z.mean(axis=0)
        self.CZ = Zc.T @ Zc / len(Zc)  # covariance of the design rows over the space: sd of Z theta
        self.T = design.pinv @ Zc  # (m, M): standardised function of theta, projected on the shape design
        self.w2 = float(np.mean(self.w**2))
        m = design.Z.shape[1]
        self.iu = np.triu_indices(m)
        self.ZZ = (design.Z[:, :, None] * design.Z[:, None, :])[:, self.iu[0], self.iu[1]]  # (A, m(m+1)/2)

    def shape(self, theta, scale, sigma):
        """:func:`~latxfer.plan.shape_gaussian` per world from coefficient draws: ``V`` ``(W, m, m)``, ``s2``
        ``(W,)``.  The standardised function of a draw is ``(Z - mean Z) theta / sd``, ``sd**2 = theta' CZ
        theta``; the noise variance in the same units is its expectation ``sigma**2 mean(w**2) / sd**2``
        (``shape_gaussian`` takes one realised noise draw's variance over the space instead)."""
        sd2 = np.einsum("wsm,mk,wsk->ws", theta, self.CZ, theta)
        sd2 = np.where(sd2 > 0, sd2, 1.0)
        phi = np.einsum("km,wsm->wsk", self.T, theta) / np.sqrt(sd2)[..., None]
        phi = phi - phi.mean(axis=1, keepdims=True)
        S = phi.shape[1]
        V = np.einsum("wsk,wsj->wkj", phi, phi) / max(S - 1, 1)
        s2 = np.mean(sigma**2 * self.w2 / sd2, axis=1)
        return V, np.maximum(s2, 1e-8)

    def tie_gram(self, mu: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``_tie_weighted_gram`` per world: ``mu`` ``(W, A)`` posterior-mean functions, ``V`` shape covariances."""
        W, A = mu.shape
        G = self.d.G
        mu = (mu - mu.mean(axis=1, keepdims=True)) / np.where(mu.std(axis=1) > 0, mu.std(axis=1), 1.0)[:, None]
        h = np.maximum(np.sqrt(np.einsum("wij,ij->w", V, G)), 0.02)
        lo = mu.min(axis=1) - h
        nb = np.ceil((mu.max(axis=1) + 2 * h - lo) / h).astype(np.int64)  # edges per world (np.arange's count)
        idx = np.clip(np.floor((mu - lo[:, None]) / h[:, None]).astype(np.int64), 0, (nb - 2)[:, None])
        off = np.concatenate([[0], np.cumsum(nb - 1)])
        counts = np.bincount((idx + off[:-1, None]).ravel(), minlength=off[-1]).astype(float)
        # smooth over neighbouring bins (zero beyond each world's ends), as np.convolve(mode="same")
        sm = 0.5 * counts
        left = 0.25 * counts[:-1]
        left[off[1:-1] - 1] = 0.0  # no bin of the previous world on the left of a world's first bin
        sm[1:] += left
        right = 0.25 * counts[1:]
        right[off[1:-1] - 1] = 0.0
        sm[:-1] += right
        wts = sm[idx + off[:-1, None]]
        up = (wts @ self.ZZ) / wts.sum(axis=1, keepdims=True)  # (W, m(m+1)/2)
        m = G.shape[0]
        out = np.empty((W, m, m))
        out[:, self.iu[0], self.iu[1]] = up
        out[:, self.iu[1], self.iu[0]] = up
        return out


def pair_products(Zc: np.ndarray) -> np.ndarray:
    """``(m(m+1)/2, C)`` products ``z_i z_j`` (``i <= j``) of the rows of ``Zc``: ``z'Vz`` is their weighted sum with
    the upper triangle of ``V`` (x 1 on, x 2 off the diagonal)."""
    iu = np.triu_indices(Zc.shape[1])
    return np.ascontiguousarray((Zc[:, iu[0]] * Zc[:, iu[1]]).T)


def select_worlds(Zc: np.ndarray, avail: np.ndarray, V: np.ndarray, s2: np.ndarray, G: np.ndarray, n: int,
                  criterion: str, ZZt: np.ndarray | None = None) -> np.ndarray:
    """``_greedy`` for every world at once: ``n`` picks (row indices of ``Zc``) per world.

    ``Zc`` ``(C, m)`` candidate rows shared by the worlds, ``avail`` ``(W, C)`` which a world may pick, ``V``
    ``(W, m, m)``, ``s2`` ``(W,)``, ``G`` ``(W, m, m)`` or ``(m, m)``.  The scores are those of ``_step_scores``
    (``maxvar``: ``z'Vz``; else ``z'VGVz / (z'Vz + s2)``), with ``z'Vz`` and ``z'VGVz`` updated after each
    pick's rank-one update ``V -= u u' / (z*'u + s2)`` in ``O(C m)`` per world.  ``ZZt``: :func:`pair_products`
    of ``Zc`` (computed when absent; the engine passes it once for all steps).
    """
    W = V.shape[0]
    G = np.broadcast_to(G, V.shape)
    V = V.copy()
    H = V @ G @ V
    m = Zc.shape[1]
    iu = np.triu_indices(m)
    if ZZt is None:
        ZZt = pair_products(Zc)
    mult = np.where(iu[0] == iu[1], 1.0, 2.0)
    # z'Vz and z'Hz of every candidate in one product (a contiguous (m(m+1)/2, C) right factor: 2x faster)
    var, q = np.split(np.concatenate([V[:, iu[0], iu[1]], H[:, iu[0], iu[1]]]) * mult @ ZZt, 2)
    ZcT = np.ascontiguousarray(Zc.T)
    avail = avail.copy()
    picks = np.empty((W, n), np.int64)
    rows = np.arange(W)
    score, e2 = np.empty_like(var), np.empty_like(var)
    for t in range(n):  # the (W, C) arrays are updated in place: the same operations in the same order
        if criterion == "maxvar":
            score[:] = var
        else:
            np.add(var, s2[:, None], out=score)
            np.divide(q, score, out=score)
        np.putmask(score, ~avail, -np.inf)
        c = np.argmax(score, axis=1)
        picks[:, t] = c
        avail[rows, c] = False
        if t == n - 1:
            break
        zc = Zc[c]  # (W, m)
        u = np.einsum("wmk,wk->wm", V, zc)
        dd = np.einsum("wm,wm->w", zc, u) + s2
        Gu = np.einsum("wmk,wk->wm", G, u)
        VGu = np.einsum("wmk,wk->wm", V, Gu)
        uGu = np.einsum("wm,wm->w", u, Gu)
        e, f = np.split(np.concatenate([u, VGu]) @ ZcT, 2)  # (W, C) z'u and z' V G u
        np.multiply(e, e, out=e2)  # e**2
        var -= np.divide(e2, dd[:, None], out=score)
        e *= -2
        e *= f
        e /= dd[:, None]  # -2 e f / dd
        e += np.multiply((uGu / dd**2)[:, None], e2, out=score)
        q += e
        V -= u[:, :, None] * u[:, None, :] / dd[:, None, None]
    return picks


def extreme_masks(values: np.ndarray, avail: np.ndarray, low: float, high: float) -> np.ndarray:
    """Per world, which available entries of ``values`` have a rank share ``r = rank / n_available``
    (``scipy.stats.rankdata`` of the available ones, continuous values) ``<= low`` or ``> 1 - high``.

    The cut values are order statistics of the available entries (one ``np.partition`` of all the worlds with
    the same number available, the others set to +inf)."""
    out = np.zeros(avail.shape, bool)
    counts = avail.sum(axis=1)
    if values.ndim == 1:  # shared by the worlds (leverage): one sort, the cuts by counting available entries
        order = np.argsort(values, kind="stable")
        sv, cs = values[order], np.cumsum(avail[:, order], axis=1)
        for k, side in ((np.floor(low * counts + 1e-9), -1), (np.floor((1 - high) * counts + 1e-9) + 1, 1)):
            k = k.astype(np.int64)
            has = (k > 0) & (k <= counts)
            cut = sv[np.argmax(cs >= k[:, None], axis=1)]  # the k-th smallest available value
            out |= has[:, None] & (values * side >= (cut * side)[:, None])
        return out & avail
    values = np.broadcast_to(values, avail.shape)
    for n in np.unique(counts):
        if n == 0:
            continue
        rows = np.flatnonzero(counts == n)
        v, ok = values[rows], avail[rows]
        k_lo, k_hi = int(np.floor(low * n + 1e-9)), int(np.floor((1 - high) * n + 1e-9))
        cut = np.partition(np.where(ok, v, np.inf), [max(k_lo - 1, 0), min(k_hi, n - 1)], axis=1)
        ext = np.zeros(v.shape, bool)
        if k_lo > 0:
            ext |= v <= cut[:, k_lo - 1, None]
        if k_hi < n:
            ext |= v >= cut[:, k_hi, None]
        out[rows] = ext & ok
    return out
