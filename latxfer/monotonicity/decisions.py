"""Few-sample SRCC estimates, the reuse decision and proxy ranking."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from latxfer.errors import ConfigError, InsufficientDataError
from latxfer.monotonicity._core import (
    _MIN_COMMON,
    _as_vector,
    _boot_group,
    _check_pair,
    _fisher,
    _percentile,
    _z,
    kendall,
    srcc,
)
from latxfer.monotonicity.matrix import _resolve_space, pseudo_device_table

__all__ = ["DEFAULT_THRESHOLD", "CorrelationEstimate", "ReuseDecision", "estimate_from_samples", "reuse_decision",
           "rank_proxies"]

#: Default reuse threshold (the OneProxy paper calls SRCC >= 0.9 strong monotonicity).
DEFAULT_THRESHOLD = 0.9


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
    r, t = srcc(x, y), kendall(x, y)
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
    absent = ~np.isin(archs, proxies.latx.archs)
    if absent.any():
        raise InsufficientDataError(
            f"target architectures {archs[absent][:5].tolist()} are not in the proxy table"
        )
    pos = proxies.latx.positions(archs)
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
