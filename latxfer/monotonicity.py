"""Monotonicity between devices: rank correlations with intervals, proxy reuse and proxy selection.

Two devices are *monotone* when they rank architectures alike; then a cheap proxy device can stand in for
the target in latency-constrained NAS.  This module measures it (all latencies in **milliseconds**; ranks
do not depend on the unit or on a log transform):

:func:`monotonicity_matrix`
    Spearman (SRCC) and Kendall (tau-b) between every pair of devices of a latency Dataset over the
    architectures both devices measured, ties handled with average ranks, with a bootstrap interval over
    architectures for SRCC and a Fisher-z interval for Kendall.  FLOPs and parameter counts can join as
    pseudo-devices.
:func:`estimate_from_samples`
    SRCC between a proxy and a target from the n architectures measured on the target, with an interval
    (n = 10 cannot tell 0.85 from 0.95, and the interval says so).
:func:`reuse_decision`
    ``"reuse"`` the proxy, ``"adapt"`` it, or ``"measure more"``, with the evidence.
:func:`rank_proxies`
    Rank candidate proxies (full tables) by their SRCC on a few target measurements, with intervals and the
    bootstrap probability that each is the best.

Intervals
---------
SRCC, bootstrap (percentile): resample architectures with replacement and recompute the *average ranks of
the resampled data* (a duplicated architecture ties with itself) -- done exactly and vectorised through
multiplicity weights: an architecture drawn ``w`` times gets rank ``#(drawn values below) + (w_tie + 1) / 2``
where ``w_tie`` counts every drawn copy of its tie group.  Resamples with a constant device (possible for
tiny n) give no SRCC; their share is reported (``degenerate_share``).

SRCC, ``"fisher"``: ``atanh(r) +- z * sqrt((1 + r^2 / 2) / (n - 3))`` (Bonett & Wright, 2000).  The bootstrap is
the default for few samples too: drawing 300 random sets of n architectures from ``nb201-hwnasbench``, the
nominal 90% bootstrap interval covered the all-architecture SRCC 93% / 92% / 91% of the time at
n = 10 / 20 / 50 for Pixel3-Raspi4 (SRCC 0.92), the Fisher interval only 81% / 88% / 89%; both were near 90%
for Pixel3-EdgeGPU (SRCC 0.50).

Kendall: Fisher-z with variance ``0.437 / (n - 4)`` (Fieller, Hartley & Pearson, 1957); a bootstrap of
Kendall's tau is O(n^2) per resample and is not offered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from latxfer import dims as D
from latxfer.errors import (
    ConfigError,
    InsufficientDataError,
    InvalidLatencyError,
    UndefinedCorrelationError,
)

__all__ = [
    "OTHER",
    "PSEUDO_DEVICES",
    "CorrelationEstimate",
    "ReuseDecision",
    "srcc",
    "kendall",
    "bootstrap_srcc",
    "monotonicity_matrix",
    "estimate_from_samples",
    "reuse_decision",
    "rank_proxies",
    "pseudo_device_table",
]

#: Second dimension of a device-by-device matrix (the first is ``device``).
OTHER = "other_device"
#: Pseudo-devices computed from the search space (analytic cost in millions, not milliseconds).
PSEUDO_DEVICES = ("flops", "params")
#: Default reuse threshold (the OneProxy paper calls SRCC >= 0.9 strong monotonicity).
DEFAULT_THRESHOLD = 0.9

_MIN_COMMON = 3


# ---------------------------------------------------------------------------------------- checks
def _as_vector(x, name: str) -> np.ndarray:
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidLatencyError(f"{name} must be numeric latencies (ms), got {type(x).__name__}") from None
    if v.ndim != 1:
        raise ConfigError(f"{name} must be one-dimensional, got shape {v.shape}")
    return v


def _check_pair(x, y, names=("proxy_ms", "target_ms")) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_vector(x, names[0]), _as_vector(y, names[1])
    if x.shape != y.shape:
        raise ConfigError(
            f"{names[0]} and {names[1]} must have the same length (one value per architecture), "
            f"got {x.size} and {y.size}"
        )
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        raise InvalidLatencyError(
            f"{int(bad.sum())} non-finite latency value(s) at position(s) {np.flatnonzero(bad)[:5].tolist()}; "
            "pass only measured architectures"
        )
    if x.size < _MIN_COMMON:
        raise InsufficientDataError(
            f"a rank correlation needs at least {_MIN_COMMON} architectures measured on both devices, "
            f"got {x.size}"
        )
    for v, nm in ((x, names[0]), (y, names[1])):
        if np.all(v == v[0]):
            raise UndefinedCorrelationError(
                f"{nm} is constant ({v[0]:g} ms on all {v.size} architectures): its ranks are all tied "
                "and a rank correlation is undefined"
            )
    return x, y


# ---------------------------------------------------------------------------------- point values
def srcc(x, y) -> float:
    """Spearman rank correlation of two latency vectors (average ranks for ties).

    Raises
    ------
    InsufficientDataError
        Fewer than 3 values.
    UndefinedCorrelationError
        One vector is constant.
    """
    x, y = _check_pair(x, y, ("x", "y"))
    return float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])


def kendall(x, y) -> float:
    """Kendall's tau-b of two latency vectors (tie-corrected); errors as :func:`srcc`."""
    x, y = _check_pair(x, y, ("x", "y"))
    return float(stats.kendalltau(x, y).statistic)


# ----------------------------------------------------------------------------- bootstrap machinery
class _TieRanker:
    """Average ranks of resampled data, given as multiplicity weights ``W`` of shape ``(B, n)``."""

    def __init__(self, x: np.ndarray):
        self.order = np.argsort(x, kind="stable")
        xs = x[self.order]
        new = np.r_[True, xs[1:] != xs[:-1]]
        self.starts = np.flatnonzero(new)
        self.gid = np.cumsum(new) - 1

    def ranks(self, W: np.ndarray) -> np.ndarray:
        ws = W[:, self.order]
        gw = np.add.reduceat(ws, self.starts, axis=1)
        rank_g = np.cumsum(gw, axis=1) - gw + (gw + 1.0) / 2.0
        out = np.empty_like(W, dtype=np.float64)
        out[:, self.order] = rank_g[:, self.gid]
        return out


def _standardised(R: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted-centred, unit-norm rank vectors: ``srcc = sum_i Z_x Z_y`` per resample (NaN if constant)."""
    n = W.sum(axis=1, keepdims=True)
    m = (W * R).sum(axis=1, keepdims=True) / n
    c = (R - m) * np.sqrt(W)
    norm = np.sqrt((c * c).sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = c / norm
    z[(norm[:, 0] <= 1e-12 * n[:, 0])] = np.nan
    return z


def _weights(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _boot_group(X: np.ndarray, n_boot: int, rng: np.random.Generator, batch: int | None = None) -> np.ndarray:
    """Bootstrap SRCC among the rows of ``X`` (devices x archs, all finite): ``(n_boot, D, D)``."""
    d, n = X.shape
    rankers = [_TieRanker(x) for x in X]
    if batch is None:
        batch = max(1, min(n_boot, int(4e7 // max(1, d * n))))
    out = np.empty((n_boot, d, d))
    for b0 in range(0, n_boot, batch):
        W = _weights(rng, min(batch, n_boot - b0), n)
        Z = np.stack([_standardised(r.ranks(W), W) for r in rankers], axis=1)  # (b, D, n)
        out[b0:b0 + len(W)] = np.clip(Z @ np.swapaxes(Z, 1, 2), -1.0, 1.0)
    return out


def bootstrap_srcc(x, y, *, n_boot: int = 2000, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Bootstrap replicates of SRCC(x, y) over architectures (ties recomputed per resample).

    Returns
    -------
    numpy.ndarray
        ``(n_boot,)``; NaN for resamples in which one device is constant.
    """
    x, y = _check_pair(x, y, ("x", "y"))
    return _boot_group(np.vstack([x, y]), n_boot, np.random.default_rng(rng))[:, 0, 1]


def _z(interval: float) -> float:
    if not 0.0 < interval < 1.0:
        raise ConfigError(f"interval must be a probability in (0, 1), got {interval}")
    return float(stats.norm.ppf(0.5 + interval / 2.0))


def _fisher(r: float, n: int, interval: float, kind: str = "spearman") -> tuple[float, float]:
    var_num, dof = ((1.0 + r * r / 2.0), n - 3) if kind == "spearman" else (0.437, n - 4)
    if dof <= 0:
        return -1.0, 1.0
    zr = math.atanh(min(max(r, -0.999999), 0.999999))
    h = _z(interval) * math.sqrt(var_num / dof)
    return math.tanh(zr - h), math.tanh(zr + h)


def _percentile(reps: np.ndarray, interval: float) -> tuple[float, float]:
    q = np.nanquantile(reps, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    return q[0], q[1]


# ------------------------------------------------------------------------------ pseudo-devices
def pseudo_device_table(space, archs: np.ndarray, which: Iterable[str] = PSEUDO_DEVICES) -> dict[str, np.ndarray]:
    """FLOPs / parameter counts (millions) of ``archs`` as pseudo-device rows, ``{name: values}``."""
    out = {}
    for p in which:
        if p not in PSEUDO_DEVICES:
            raise ConfigError(f"unknown pseudo-device {p!r}; expected any of {list(PSEUDO_DEVICES)}")
        out[p] = np.asarray(getattr(space, p)(archs), dtype=np.float64)
    return out


def _resolve_space(ds: xr.Dataset, space):
    if space is not None:
        return space
    from latxfer.data.datasets import load_space

    return load_space(ds.latx.space)


# ---------------------------------------------------------------------------------------- matrix
def monotonicity_matrix(
    ds: xr.Dataset,
    devices: Sequence[str] | None = None,
    *,
    pseudo: Iterable[str] = (),
    space=None,
    interval: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> xr.Dataset:
    """SRCC and Kendall matrices between devices, with intervals.

    Parameters
    ----------
    ds : xarray.Dataset
        A latency Dataset (ms); layer-wise datasets are summed to end-to-end latency.
    devices : sequence of str, optional
        Devices (default: all).  Unknown names raise :class:`~latxfer.errors.UnknownDeviceError` listing
        the known ones.
    pseudo : iterable of {"flops", "params"}
        Pseudo-devices appended after the devices (analytic cost of every architecture of ``ds``).
    space : SearchSpace, optional
        For the pseudo-devices; default ``latxfer.load_space(ds.attrs["space"])``.
    interval : float
        Probability of the intervals.
    n_boot : int
        Bootstrap resamples for the SRCC interval (0: Fisher-z intervals instead).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    xarray.Dataset
        Over ``(device, other_device)``: ``srcc``, ``srcc_lower``, ``srcc_upper``, ``kendall``,
        ``kendall_lower``, ``kendall_upper``, ``n_common`` (architectures both measured).  The diagonal is
        1.  Attributes give ``interval``, ``n_boot``, ``seed`` and the interval methods.

    Raises
    ------
    InsufficientDataError
        A pair shares fewer than 3 measured architectures (the pair is named).
    UndefinedCorrelationError
        A device is constant over the architectures it shares with another.
    """
    _z(interval)
    pseudo = list(pseudo)
    devices = ds.latx.devices if devices is None else [devices] if isinstance(devices, str) else list(devices)
    M = ds.latx.latency_matrix(devices)  # checks the names
    names = list(devices)
    if pseudo:
        extra = pseudo_device_table(_resolve_space(ds, space), ds.latx.archs, pseudo)
        M = np.vstack([M] + [extra[p][None, :] for p in pseudo])
        names += pseudo
    if len(set(names)) != len(names):
        raise ConfigError(f"device names must be unique, got {names}")
    d = len(names)
    fin = np.isfinite(M)
    n_common = fin.astype(np.int64) @ fin.astype(np.int64).T
    for i in range(d):
        for j in range(i + 1, d):
            if n_common[i, j] < _MIN_COMMON:
                raise InsufficientDataError(
                    f"devices {names[i]!r} and {names[j]!r} share {int(n_common[i, j])} measured "
                    f"architecture(s); a rank correlation needs at least {_MIN_COMMON}"
                )
    out = {k: np.eye(d) for k in ("srcc", "srcc_lower", "srcc_upper", "kendall", "kendall_lower", "kendall_upper")}
    for i in range(d):
        for j in range(i + 1, d):
            ok = fin[i] & fin[j]
            x, y = _check_pair(M[i, ok], M[j, ok], (names[i], names[j]))
            r = float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])
            t = float(stats.kendalltau(x, y).statistic)
            n = int(ok.sum())
            rl, rh = _fisher(r, n, interval)
            tl, th = _fisher(t, n, interval, "kendall")
            for k, v in (("srcc", r), ("srcc_lower", rl), ("srcc_upper", rh), ("kendall", t),
                         ("kendall_lower", tl), ("kendall_upper", th)):
                out[k][i, j] = out[k][j, i] = v
    degenerate = []
    if n_boot:
        # devices with the same measured set form a cluster; each pair of clusters shares one
        # vectorised bootstrap over the architectures both clusters measured
        rng = np.random.default_rng(seed)
        _, cluster = np.unique(fin, axis=0, return_inverse=True)
        cluster = np.asarray(cluster).ravel()
        ids = list(dict.fromkeys(cluster.tolist()))
        for a_i, ca in enumerate(ids):
            for cb in ids[a_i:]:
                members = np.flatnonzero((cluster == ca) | (cluster == cb))
                if members.size < 2:
                    continue
                common = fin[members].all(axis=0)
                reps = _boot_group(M[np.ix_(members, common)], n_boot, rng)
                lo, hi = _percentile(reps, interval)
                for u, i in enumerate(members):
                    for v, j in enumerate(members):
                        if i < j and ({cluster[i], cluster[j]} == {ca, cb}):
                            out["srcc_lower"][i, j] = out["srcc_lower"][j, i] = lo[u, v]
                            out["srcc_upper"][i, j] = out["srcc_upper"][j, i] = hi[u, v]
                            degenerate.append(float(np.isnan(reps[:, u, v]).mean()))
    coords = {D.DEVICE: names, OTHER: names}
    dv = {k: ((D.DEVICE, OTHER), v) for k, v in out.items()}
    dv["n_common"] = ((D.DEVICE, OTHER), n_common)
    return xr.Dataset(
        dv,
        coords=coords,
        attrs={
            "interval": interval, "n_boot": n_boot, "seed": seed,
            "srcc_interval_method": "percentile bootstrap over architectures (ties re-ranked)" if n_boot
            else "Fisher z, Bonett-Wright variance",
            "kendall_interval_method": "Fisher z, Fieller variance 0.437/(n-4)",
            "pseudo_devices": ",".join(pseudo), "dataset": str(ds.attrs.get("name", "")),
            "degenerate_share": max(degenerate, default=0.0),
        },
    )


# -------------------------------------------------------------------------- few-sample estimate
@dataclass(frozen=True)
class CorrelationEstimate:
    """SRCC (and Kendall) estimated from n paired measurements, with an interval.

    Attributes
    ----------
    srcc, lower, upper : float
        Point estimate and central interval of probability ``interval``.
    kendall, kendall_lower, kendall_upper : float
        Kendall's tau-b and its Fisher-z interval.
    n : int
        Number of architectures measured on both devices.
    interval : float
    method : str
        ``"fisher"`` or ``"bootstrap"``.
    """

    srcc: float
    lower: float
    upper: float
    kendall: float
    kendall_lower: float
    kendall_upper: float
    n: int
    interval: float
    method: str

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        return (f"SRCC {self.srcc:.3f} [{self.lower:.3f}, {self.upper:.3f}] "
                f"({self.interval:.0%} {self.method} interval, n = {self.n})")


def estimate_from_samples(
    proxy_ms,
    target_ms,
    *,
    interval: float = 0.9,
    method: str = "bootstrap",
    n_boot: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> CorrelationEstimate:
    """Estimate the proxy-target SRCC from n architectures measured on both, with an interval.

    Parameters
    ----------
    proxy_ms, target_ms : array-like
        Latency (ms) of the same n architectures on the proxy and on the target.
    interval : float
        Probability of the interval.
    method : {"bootstrap", "fisher"}
        ``"bootstrap"`` (default): percentile bootstrap over the n architectures, ties re-ranked per
        resample; ``"fisher"``: Fisher z with the Bonett-Wright variance (under-covered at n = 10 when the
        SRCC is high, see the module docstring).
    n_boot : int
        Resamples of the bootstrap.
    rng : Generator or int or None
        Seed of the bootstrap.

    Raises
    ------
    InsufficientDataError
        n < 3.
    UndefinedCorrelationError
        Constant latencies on one device.
    """
    x, y = _check_pair(proxy_ms, target_ms)
    n = x.size
    r = float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])
    t = float(stats.kendalltau(x, y).statistic)
    if method == "fisher":
        lo, hi = _fisher(r, n, interval)
    elif method == "bootstrap":
        reps = _boot_group(np.vstack([x, y]), n_boot, np.random.default_rng(rng))[:, 0, 1]
        lo, hi = _percentile(reps, interval)
    else:
        raise ConfigError(f"unknown interval method {method!r}; expected 'fisher' or 'bootstrap'")
    tl, th = _fisher(t, n, interval, "kendall")
    return CorrelationEstimate(r, float(lo), float(hi), t, tl, th, n, interval, method)


# ------------------------------------------------------------------------------- reuse decision
@dataclass(frozen=True)
class ReuseDecision:
    """Whether to reuse a proxy's latencies on the target as they are.

    Attributes
    ----------
    decision : {"reuse", "adapt", "measure more"}
        ``"reuse"``: the whole interval is at or above the threshold; ``"adapt"``: the whole interval is
        below it (adapt the proxy, e.g. with AdaProxy, or pick another); ``"measure more"``: the interval
        straddles the threshold.
    estimate : CorrelationEstimate
    threshold : float
    evidence : str
        One human-readable sentence.
    n_needed : int or None
        Rough number of target measurements for the interval to clear the threshold if the point
        estimate held (``"measure more"`` only; Fisher-z approximation; None if the estimate equals the
        threshold).
    """

    decision: str
    estimate: CorrelationEstimate
    threshold: float
    evidence: str
    n_needed: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        d = asdict(self)
        d["estimate"] = self.estimate.to_dict()
        return d


def _n_needed(r: float, threshold: float, interval: float) -> int | None:
    if abs(r - threshold) < 1e-9 or abs(r) >= 1:
        return None
    gap = abs(math.atanh(max(min(r, 0.999999), -0.999999)) - math.atanh(threshold))
    return int(math.ceil(3 + (1 + r * r / 2) * (_z(interval) / gap) ** 2))


def reuse_decision(
    proxy_ms=None,
    target_ms=None,
    *,
    estimate: CorrelationEstimate | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    interval: float = 0.9,
    method: str = "bootstrap",
    rng=0,
) -> ReuseDecision:
    """Decide between reusing a proxy as it is, adapting it, or measuring more target architectures.

    Parameters
    ----------
    proxy_ms, target_ms : array-like, optional
        Latency (ms) of the same n architectures on proxy and target (or give ``estimate``).
    estimate : CorrelationEstimate, optional
        An estimate already computed (e.g. by :func:`estimate_from_samples`).
    threshold : float
        SRCC above which monotonicity is strong enough to reuse the proxy (paper: 0.9).
    interval, method, rng
        As :func:`estimate_from_samples`.

    Returns
    -------
    ReuseDecision
    """
    if not -1.0 < threshold < 1.0:
        raise ConfigError(f"threshold must be in (-1, 1), got {threshold}")
    if estimate is None:
        if proxy_ms is None or target_ms is None:
            raise ConfigError("give proxy_ms and target_ms, or an estimate")
        estimate = estimate_from_samples(proxy_ms, target_ms, interval=interval, method=method, rng=rng)
    e = estimate
    need = None
    if e.lower >= threshold:
        decision = "reuse"
        why = f"the whole interval is at or above the threshold {threshold:g}"
    elif e.upper < threshold:
        decision = "adapt"
        why = f"the whole interval is below the threshold {threshold:g}: adapt the proxy or choose another"
    else:
        decision = "measure more"
        need = _n_needed(e.srcc, threshold, e.interval)
        why = (f"the interval contains the threshold {threshold:g}, so {e.n} measurements cannot tell"
               + (f"; about {need} would separate it from the threshold if the SRCC stayed at {e.srcc:.3f}"
                  if need else ""))
    evidence = f"{e}: {why}"
    return ReuseDecision(decision, e, threshold, evidence, need)


# ------------------------------------------------------------------------------ proxy selection
def rank_proxies(
    proxies: xr.Dataset,
    archs,
    target_ms,
    *,
    devices: Sequence[str] | None = None,
    pseudo: Iterable[str] = (),
    space=None,
    interval: float = 0.9,
    method: str = "bootstrap",
    n_boot: int = 2000,
    rng: np.random.Generator | int | None = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Rank candidate proxy devices by their SRCC with the target on a few target measurements.

    Parameters
    ----------
    proxies : xarray.Dataset
        Latency Dataset (ms) holding the candidates' full tables.
    archs : array-like of int
        The n architectures measured on the target.
    target_ms : array-like
        Their target latency (ms).
    devices : sequence of str, optional
        Candidates (default: every device of ``proxies``).
    pseudo : iterable of {"flops", "params"}
        Also rank FLOPs / parameter count as candidates.
    space : SearchSpace, optional
        For ``pseudo`` (default: loaded from ``proxies.attrs["space"]``).
    interval, method : as :func:`estimate_from_samples`.
    n_boot, rng
        Bootstrap (shared resamples of the n architectures) for ``p_best``, the probability that a
        candidate has the highest SRCC.
    threshold : float
        For the ``decision`` column (:func:`reuse_decision`).

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first: ``proxy, srcc, lower, upper, kendall, n, p_best, decision``.
    """
    archs = np.asarray(archs, dtype=np.int64)
    y = _as_vector(target_ms, "target_ms")
    if archs.shape != y.shape:
        raise ConfigError(f"archs and target_ms must have the same length, got {archs.size} and {y.size}")
    devices = proxies.latx.devices if devices is None else list(devices)
    M = proxies.latx.latency_matrix(devices)
    pos = pd.Index(proxies.latx.archs).get_indexer(archs)
    if np.any(pos < 0):
        raise InsufficientDataError(
            f"target architectures {archs[pos < 0][:5].tolist()} are not in the proxy table"
        )
    cand = {d: M[i, pos] for i, d in enumerate(devices)}
    pseudo = list(pseudo)
    if pseudo:
        cand.update(pseudo_device_table(_resolve_space(proxies, space), archs, pseudo))
    rows = []
    for name, x in cand.items():
        ok = np.isfinite(x)
        if ok.sum() < _MIN_COMMON:
            raise InsufficientDataError(
                f"proxy {name!r} measured only {int(ok.sum())} of the {archs.size} target architectures; "
                f"need at least {_MIN_COMMON}"
            )
        e = estimate_from_samples(x[ok], y[ok], interval=interval, method=method, n_boot=n_boot, rng=rng)
        d = reuse_decision(estimate=e, threshold=threshold)
        rows.append({"proxy": name, "srcc": e.srcc, "lower": e.lower, "upper": e.upper,
                     "kendall": e.kendall, "n": e.n, "decision": d.decision})
    full = [n for n, x in cand.items() if np.isfinite(x).all()]
    p_best = dict.fromkeys(cand, np.nan)
    if n_boot and len(full) > 1:
        reps = _boot_group(np.vstack([y] + [cand[n] for n in full]), n_boot, np.random.default_rng(rng))
        r = reps[:, 0, 1:]
        valid = ~np.isnan(r).all(axis=1)
        best = np.nanargmax(np.where(np.isnan(r[valid]), -np.inf, r[valid]), axis=1)
        counts = np.bincount(best, minlength=len(full)) / max(1, valid.sum())
        p_best.update(dict(zip(full, counts, strict=True)))
    elif len(full) == 1:
        p_best[full[0]] = 1.0
    df = pd.DataFrame(rows)
    df["p_best"] = df["proxy"].map(p_best)
    df = df.sort_values("srcc", ascending=False, kind="stable").reset_index(drop=True)
    return df[["proxy", "srcc", "lower", "upper", "kendall", "n", "p_best", "decision"]]
