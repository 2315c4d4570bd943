"""The model's track record on the target's own measurements (:func:`track_record`, :func:`track_verdict`)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from latxfer.errors import ConfigError
from latxfer.plan.engine import _adapt, _score
from latxfer.ranks import srcc

__all__ = ["TRACK_MAX_ROUNDS", "track_record", "track_verdict"]


#: ``latxfer plan`` replays at most this many rounds of a target CSV in its track record (longer files get
#: longer rounds), so the check costs a few seconds (one fast adaptation per round).
TRACK_MAX_ROUNDS = 20


def track_record(model, archs, latency_ms, *, batch: int = 5, prob: float = 0.9, n_eval: int = 2000,
                 device: str = "target", rng=None, allow_implausible: bool = False):
    """How the model did on the target's own measurements, round by round, each predicted before it was used.

    The measurements are taken in the order given (the order they were made: ``latxfer plan`` passes the
    target CSV's row order) and cut into rounds of ``batch``.  Each round's latencies are predicted from
    the rounds before it (the first from the population prior), so the check is out of sample: it is the
    realised counterpart of the planner's forecast that a user can compute without knowing the truth.

    Parameters
    ----------
    model : LatencyModel
        A fitted model.
    archs, latency_ms : array-like
        Distinct architecture indices and their latency (ms), in measurement order.
    batch : int
        Measurements per round.
    prob : float
        Probability of the predictive interval checked.
    n_eval : int
        Unmeasured architectures (random subset) the expected SRCC is computed on; 0 = all.
    device : str
        Target device name (labels only).
    rng : int or numpy.random.Generator, optional
    allow_implausible : bool
        Accept measurements the plausibility checks flag (see :meth:`LatencyModel.adapt`).

    Returns
    -------
    pandas.DataFrame
        One row per round: ``round`` (1, 2, ...), ``n_before``, ``n`` (measurements in the round),
        ``inside`` / ``below`` / ``above`` (how many of them fell inside, below or above their ``prob``
        predictive interval), ``srcc_pred`` (SRCC between the predicted mean and the measured latency of the
        round; NaN with fewer than 3 measurements or constant values) and ``expected_srcc_after`` (the
        posterior's expected SRCC of the adapted ranking after the round, as ``preposterior`` reports it
        "now").  ``attrs["prob"]`` holds ``prob``.

    Raises
    ------
    ConfigError
        Lengths differ, repeated architectures, ``batch < 1`` or ``prob`` outside (0, 1).
    """
    import pandas as pd

    archs = np.atleast_1d(np.asarray(archs, np.int64))
    y = np.atleast_1d(np.asarray(latency_ms, float))
    if len(archs) != len(y):
        raise ConfigError(f"{len(archs)} architectures but {len(y)} latencies")
    if len(np.unique(archs)) != len(archs):
        raise ConfigError("repeated architectures: reduce repeats (e.g. to their median) before the track record")
    if int(batch) < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    if not 0 < prob < 1:
        raise ConfigError(f"prob must be in (0, 1), got {prob:g}")
    batch = int(batch)
    model._require_fit()
    rng = np.random.default_rng(rng)
    rows = []
    post = _adapt(model, archs[:0], y[:0], device, rng, allow_implausible=allow_implausible).posterior
    for r, start in enumerate(range(0, len(archs), batch)):
        a, v = archs[start:start + batch], y[start:start + batch]
        pos = post.positions(a)
        lo, hi = post.interval(prob)
        mu = post.mean()[pos]
        below, above = int((v < lo[pos]).sum()), int((v > hi[pos]).sum())
        sr = srcc(mu, v) if len(v) >= 3 and np.ptp(v) > 0 and np.ptp(mu) > 0 else np.nan
        post = _adapt(model, archs[:start + len(a)], y[:start + len(a)], device, rng,
                      allow_implausible=allow_implausible).posterior
        un = np.where(~post.measured)[0]
        E = np.sort(rng.choice(un, n_eval, replace=False)) if n_eval and len(un) > n_eval else un
        rows.append({"round": r + 1, "n_before": start, "n": len(a), "inside": len(a) - below - above,
                     "below": below, "above": above, "srcc_pred": sr,
                     "expected_srcc_after": _score(post, None, E, None, 0.9)["expected_srcc"]})
    df = pd.DataFrame(rows, columns=["round", "n_before", "n", "inside", "below", "above", "srcc_pred",
                                     "expected_srcc_after"])
    df.attrs["prob"] = float(prob)
    return df


def track_verdict(df, min_n: int = 5) -> str | None:
    """One line on the track record's intervals when they clearly disagree with the measurements.

    Pools the rounds predicted from at least one measurement (round 2 on; the first is the population
    prior's).  Returns a warning when fewer measurements fell inside their intervals than ``prob`` allows
    (one-sided binomial p < 0.05), None when the record is consistent or has fewer than ``min_n`` such
    measurements.
    """
    prob = float(df.attrs.get("prob", 0.9))
    later = df[df["n_before"] > 0]
    n, inside = int(later["n"].sum()), int(later["inside"].sum())
    if n < min_n:
        return None
    if stats.binom.cdf(inside, n, prob) < 0.05:
        return (f"only {inside} of {n} of your measurements predicted from earlier ones fell inside their "
                f"{prob:.0%} interval: the model's intervals have been too narrow for this device so far, and the plan's "
                "band may be too; re-plan after every batch rather than trusting a long-range forecast")
    return None
