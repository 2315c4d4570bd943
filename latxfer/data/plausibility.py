"""Plausibility checks on latency measurements: values no architecture of a search space could produce.

A CSV can be perfectly well-formed and still hold numbers no network could take: one ``1e12`` among
values near 1 ms, two repeats of one architecture at 0.54 and 999 ms, a file whose latencies are all
the same number, or a whole file in seconds or of another search space.  Such a file silently ruins an
adaptation (every prediction becomes ~1e11 ms).  :func:`find_implausible` lists these findings;
:func:`check_plausible` raises :class:`~latxfer.errors.ImplausibleLatencyError` on them unless
``allow_implausible=True``, which accepts them with an
:class:`~latxfer.errors.ImplausibleLatencyWarning`.

Rules (thresholds chosen on the shared tables: every device of nb201-help, nb201-hwnasbench,
fbnet-help, fbnet-layers and ofa-help passes clean, with the margins given below)

- **Orders of magnitude off** the device's other values: more than :data:`HIGH_DECADES` decades above
  the device's median latency (the shared data reach 0.94 decades, samsung_a50 on NB201), or more than
  :data:`LOW_DECADES` below it (disconnected NB201 cells reach 3.51 decades below the median on pixel3 /
  raspi4, and 4.05 decades below the device's slowest architecture, so no sample of real values of one
  device, whatever its median, is flagged on the low side);
  or outside the absolute range [:data:`MIN_MS`, :data:`MAX_MS`] ms (the shared data span
  0.0033-244 ms).  Layer-wise tables: the per-architecture sum of layers, high side only (layer costs
  are relative to a reference op and may be 0).
- **Repeats that disagree**: repeated measurements of one (device, architecture) whose largest is more
  than :data:`REPEAT_RATIO` times their smallest (measurement noise is a few percent; the shared
  tables hold one value each).  Layer-wise: repeats of one layer that differ by more than the device's
  median per-architecture sum.
- **No variation**: :data:`CONSTANT_MIN_ARCHS` or more architectures of one device, all with exactly
  the same latency.  Even the coarsest shared device (hwnb_eyeriss, 30 distinct values) gives five
  random architectures one value with probability 1.6e-4.
- **Against a reference** (e.g. the source devices of a model), when one is given:

  - *scale*: the device's median more than :data:`SCALE_FACTOR` times above the largest or below the
    smallest median of the reference devices (a file in seconds or microseconds);
  - *pattern*: the device ranks the architectures it shares with the reference like none of the
    reference devices: the best Spearman correlation with any of them has a one-sided 99% upper bound
    (Fisher z) below :data:`PATTERN_MAX_SRCC`, with at least :data:`PATTERN_MIN_ARCHS` shared
    architectures.  Every shared device reaches 0.50 or more with some other device of its space
    (hwnb_edgegpu against hwnb_pixel3 alone: 0.50), while FBNet or OFA latencies read as NB201
    indices reach at most 0.04.  The test needs many rows: about 100 shared architectures catch most
    files of another space; 10-30 catch only some (documented, not hidden).

  Scale alone cannot tell an FBNet file from an NB201 one (their latencies overlap on most devices);
  the pattern rule does.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from latxfer import dims as D
from latxfer.data.problems import Problem, lines_text
from latxfer.data.tensor import positions
from latxfer.errors import ImplausibleLatencyError, ImplausibleLatencyWarning

__all__ = [
    "find_implausible", "check_plausible", "HIGH_DECADES", "LOW_DECADES", "MIN_MS", "MAX_MS",
    "REPEAT_RATIO", "CONSTANT_MIN_ARCHS", "SCALE_FACTOR", "PATTERN_MIN_ARCHS", "PATTERN_MAX_SRCC",
]

#: A value more than this many decades above its device's median latency is implausible.
HIGH_DECADES = 2.0
#: A value more than this many decades below its device's median latency is implausible.
LOW_DECADES = 4.5
#: Smallest plausible end-to-end latency (ms): 0.1 microsecond.
MIN_MS = 1e-4
#: Largest plausible latency (ms) of one inference: 1,000 s.
MAX_MS = 1e6
#: Repeats of one (device, architecture) whose max / min exceeds this disagree implausibly.
REPEAT_RATIO = 10.0
#: This many architectures or more, all with one latency, have implausibly no variation.
CONSTANT_MIN_ARCHS = 5
#: A device median this many times outside the reference devices' medians is implausible.
SCALE_FACTOR = 100.0
#: The pattern rule needs at least this many architectures shared with the reference.
PATTERN_MIN_ARCHS = 10
#: The pattern rule fires when the 99% upper bound of the best SRCC with the reference is below this.
PATTERN_MAX_SRCC = 0.3
_Z99 = 2.3263478740408408  # scipy.stats.norm.ppf(0.99)

_ACCEPT = "accept with allow_implausible=True / --allow-implausible if it is right"


def _table(data) -> tuple[pd.DataFrame, bool]:
    """A tidy table ``device, arch_index, latency_ms[, layer][, line]`` and whether it is layer-wise."""
    if isinstance(data, xr.Dataset):
        if data.latx.has_layers:  # the end-to-end latency (with the intercept) is what a device shows
            e2e = data.latx.end_to_end().transpose(D.DEVICE, D.ARCH)
            df = e2e.to_dataframe(name="latency_ms").reset_index().rename(columns={D.ARCH: "arch_index"})
            df = df[["device", "arch_index", "latency_ms"]]
            return df[np.isfinite(df["latency_ms"].to_numpy())].reset_index(drop=True), False
        return data.latx.to_long(), False
    df = pd.DataFrame(data)
    has_layer = D.LAYER in df.columns and df[D.LAYER].notna().any()
    return df, has_layer


def _rows(df: pd.DataFrame) -> tuple[str, list[int]]:
    """How the rows of ``df`` are named in a message: file lines when known, else architecture indices."""
    if "line" in df.columns:
        lines = sorted(int(x) for x in df["line"])
        return lines_text(lines), lines
    archs = sorted(set(int(x) for x in df["arch_index"]))
    return lines_text(archs, word="arch_index"), []


def _select(df: pd.DataFrame, device: str, archs) -> pd.DataFrame:
    sub = df[df["device"] == device]
    return sub[sub["arch_index"].isin(np.asarray(archs))]


def _per_arch(df: pd.DataFrame, has_layer: bool) -> pd.DataFrame:
    """One value per (device, arch): the median of repeats; layer-wise: the sum over every layer."""
    if not has_layer:
        return df.groupby(["device", "arch_index"], sort=False)["latency_ms"].median().reset_index()
    per_layer = df.groupby(["device", "arch_index", D.LAYER], sort=False)["latency_ms"].median().reset_index()
    g = per_layer.groupby(["device", "arch_index"], sort=False)["latency_ms"]
    out = g.agg(["sum", "count"]).reset_index()
    full = out.groupby("device")["count"].transform("max")
    out = out[out["count"] == full]
    return out.rename(columns={"sum": "latency_ms"})[["device", "arch_index", "latency_ms"]]


def _magnitude(df, vals, has_layer, pre) -> list[Problem]:
    """Values orders of magnitude off their device's median (each row; layer-wise: each architecture's sum)."""
    out = []
    rows_of = vals if has_layer else df
    meds = {}
    for dev, v in vals.groupby("device", sort=False):
        x = v["latency_ms"].to_numpy(dtype=float)
        x = x[x > 0]
        meds[dev] = float(np.median(np.log10(x))) if x.size >= 2 else math.nan
    for dev, v in rows_of.groupby("device", sort=False):
        x = v["latency_ms"].to_numpy(dtype=float)
        pos = x > 0
        lx = np.full(len(x), np.nan)
        lx[pos] = np.log10(x[pos])
        med = meds.get(dev, math.nan)
        absolute = (x > MAX_MS) | (pos & (x < MIN_MS) & (not has_layer))
        with np.errstate(invalid="ignore"):
            high = (lx - med > HIGH_DECADES) | (x > MAX_MS)
            low = np.zeros(len(x), bool) if has_layer else (med - lx > LOW_DECADES) | (pos & (x < MIN_MS))
        for mask, word, limit in ((high, "above", HIGH_DECADES), (low, "below", LOW_DECADES)):
            if not mask.any():
                continue
            sub = v[mask] if not has_layer else _select(df, dev, v["arch_index"].to_numpy()[mask])
            rows, lines = _rows(sub)
            if math.isfinite(med):
                k = float(np.nanmax(np.abs(lx[mask] - med)))
                why = (f"up to {k:.1f} orders of magnitude {word} the device's median {10 ** med:.3g} ms "
                       f"(plausible: within {limit:g})")
                if (mask & absolute).any():
                    why += f", and outside the plausible {MIN_MS:g}-{MAX_MS:g} ms of one inference"
            else:
                why = f"outside the plausible {MIN_MS:g}-{MAX_MS:g} ms of one inference"
            shown = ", ".join(f"{u:.6g}" for u in np.unique(x[mask])[:8])
            what = "latency" if not has_layer else "sum of layer latencies"
            out.append(Problem(ImplausibleLatencyError,
                               f"{pre}device {dev!r}: {what} {shown} ms at {rows} is {why}; a typo or a unit "
                               f"mistake? ({_ACCEPT})", lines))
    return out


def _repeats(df, vals, has_layer, pre) -> list[Problem]:
    keys = ["device", "arch_index"] + ([D.LAYER] if has_layer else [])
    st = df.groupby(keys, sort=False)["latency_ms"].agg(["count", "min", "max"]).reset_index()
    st = st[st["count"] >= 2]
    if has_layer:
        scale = vals.groupby("device")["latency_ms"].median()
        bad = st[(st["max"] - st["min"]) > st["device"].map(scale).fillna(np.inf).to_numpy()]
        rule = "differ by more than the device's median architecture latency"
    else:
        bad = st[~(st["max"] <= REPEAT_RATIO * st["min"])]
        rule = f"disagree by more than {REPEAT_RATIO:g}x (measurement noise is a few percent)"
    out = []
    for dev, b in bad.groupby("device", sort=False):
        sub = df[df["device"] == dev].merge(b[keys], on=keys)
        rows, lines = _rows(sub)
        first = b.iloc[0]
        what = (f"arch_index {int(first['arch_index'])}" + (f" layer {int(first[D.LAYER])}" if has_layer else "")
                + f" ranges {first['min']:.3g}-{first['max']:.3g} ms")
        more = f" ({len(b)} such architectures)" if len(b) > 1 else ""
        out.append(Problem(ImplausibleLatencyError,
                           f"{pre}device {dev!r}: repeated measurements of one architecture {rule}: {what}{more}, "
                           f"at {rows}; one of them is wrong ({_ACCEPT})", lines))
    return out


def _constant(df, vals, pre) -> list[Problem]:
    out = []
    for dev, v in vals.groupby("device", sort=False):
        x = v["latency_ms"].to_numpy(dtype=float)
        if len(x) >= CONSTANT_MIN_ARCHS and np.all(x == x[0]):
            rows, lines = _rows(df[df["device"] == dev])
            out.append(Problem(ImplausibleLatencyError,
                               f"{pre}device {dev!r}: all {len(x)} architectures have the same latency {x[0]:.6g} ms "
                               f"(at {rows}); different architectures never take exactly the same time: a "
                               f"placeholder or a copied value? ({_ACCEPT})", lines))
    return out


def _upper(r: float, n: int) -> float:
    """One-sided 99% upper confidence bound of a rank correlation ``r`` on ``n`` pairs (Fisher z)."""
    return math.tanh(math.atanh(min(r, 0.999999)) + _Z99 / math.sqrt(n - 3))


def _reference(reference):
    """``(lo, hi, matrix, archs, names)`` of a reference: device-median range and the end-to-end matrix."""
    if isinstance(reference, xr.Dataset):
        M = reference.latx.latency_matrix()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            meds = np.nanmedian(np.where(M > 0, M, np.nan), axis=1)
        meds = meds[np.isfinite(meds)]
        if not len(meds):
            return None
        return float(meds.min()), float(meds.max()), M, reference.latx.archs, reference.latx.devices
    lo, hi = (float(x) for x in reference)
    return lo, hi, None, None, None


def _against_reference(df, vals, reference, pre) -> list[Problem]:
    ref = _reference(reference)
    if ref is None:
        return []
    lo, hi, M, archs, names = ref
    from latxfer.ranks import srcc

    out = []
    for dev, v in vals.groupby("device", sort=False):
        x = v["latency_ms"].to_numpy(dtype=float)
        pos = x > 0
        if not pos.any():
            continue
        med = float(np.median(x[pos]))
        if med > hi * SCALE_FACTOR or med < lo / SCALE_FACTOR:
            rows, lines = _rows(df[df["device"] == dev])
            out.append(Problem(ImplausibleLatencyError,
                               f"{pre}device {dev!r}: median latency {med:.4g} ms, while the reference devices' "
                               f"medians span {lo:.3g}-{hi:.3g} ms (plausible: within {SCALE_FACTOR:g}x of them); "
                               f"is the file in seconds or microseconds instead of milliseconds? (at {rows}; "
                               f"{_ACCEPT})", lines))
            continue
        if M is None:
            continue
        y = pd.Series(x, index=v["arch_index"].to_numpy()).groupby(level=0).first()
        common = np.intersect1d(y.index.to_numpy(), archs)
        if len(common) < PATTERN_MIN_ARCHS:
            continue
        cols = M[:, positions(archs, common)]
        yc = y.loc[common].to_numpy()
        best, best_n, best_name, upper = -np.inf, 0, None, -1.0
        for name, row in zip(names, cols, strict=True):  # stop at the first reference that ranks alike
            ok = np.isfinite(row)
            if ok.sum() < PATTERN_MIN_ARCHS:
                continue
            r = srcc(yc[ok], row[ok])
            if np.isfinite(r) and r > best:
                best, best_n, best_name = r, int(ok.sum()), name
                upper = _upper(best, best_n)
                if upper >= PATTERN_MAX_SRCC:
                    break
        if best_name is None:
            continue
        if upper < PATTERN_MAX_SRCC:
            rows, lines = _rows(df[df["device"] == dev])
            out.append(Problem(ImplausibleLatencyError,
                               f"{pre}device {dev!r}: its latencies rank the {best_n} architectures it shares with "
                               f"the reference like no reference device does (best Spearman {best:.3f}, with "
                               f"{best_name!r}; 99% upper bound {upper:.2f} < {PATTERN_MAX_SRCC:g}, while every real "
                               f"device reaches 0.5 or more): is the file of another search space (e.g. FBNet "
                               f"indices read as NB201), or are its arch_index values shifted? (at {rows}; "
                               f"{_ACCEPT})", lines))
    return out


def find_implausible(data, *, reference=None, path: str | os.PathLike | None = None) -> list[Problem]:
    """List the measurements no architecture of a search space could produce (empty list: plausible).

    Parameters
    ----------
    data : xarray.Dataset or pandas.DataFrame
        A latency Dataset, or a tidy table with columns ``device, arch_index, latency_ms`` (optionally
        ``layer``, and ``line``: the row's 1-based line in the file it came from, named in messages).
        Values must already be valid numbers (see :func:`latxfer.read_csv`).
    reference : xarray.Dataset or (float, float), optional
        Latencies the data should resemble, e.g. the source devices of a model (same search space), or
        just a ``(low, high)`` range of device median latencies in ms.  Without it only the rules
        within each device apply.
    path : path-like, optional
        The file the table came from, named at the start of each message.

    Returns
    -------
    list of Problem
        One per finding (``error`` is :class:`~latxfer.errors.ImplausibleLatencyError`), each naming
        the device, the rows and the rule; see the module docstring for the rules and thresholds.
    """
    df, has_layer = _table(data)
    if len(df) == 0:
        return []
    df = df.assign(device=df["device"].astype(str))
    pre = f"{path}: " if path is not None else ""
    vals = _per_arch(df, has_layer)
    problems = _magnitude(df, vals, has_layer, pre) + _repeats(df, vals, has_layer, pre)
    problems += _constant(df, vals, pre)
    if reference is not None:
        problems += _against_reference(df, vals, reference, pre)
    return problems


def check_plausible(data, *, reference=None, allow_implausible: bool = False,
                    path: str | os.PathLike | None = None) -> list[Problem]:
    """Refuse implausible measurements (see :func:`find_implausible`), or accept them with a warning.

    Call it on a target's measurements before adapting a model to them::

        check_plausible(target_ds, reference=model_sources_ds, allow_implausible=args.allow_implausible)

    Parameters
    ----------
    data : xarray.Dataset or pandas.DataFrame
        As in :func:`find_implausible`.
    reference : xarray.Dataset or (float, float), optional
        As in :func:`find_implausible`.
    allow_implausible : bool
        Accept the findings: warn with :class:`~latxfer.errors.ImplausibleLatencyWarning` instead of
        raising.
    path : path-like, optional
        The file the data came from (named in messages).

    Returns
    -------
    list of Problem
        The findings (empty when the data are plausible).

    Raises
    ------
    ImplausibleLatencyError
        When there are findings and ``allow_implausible`` is False; the message lists every finding.
    """
    problems = find_implausible(data, reference=reference, path=path)
    if problems:
        text = "\n".join(p.message for p in problems)
        if not allow_implausible:
            raise ImplausibleLatencyError(text)
        warnings.warn(ImplausibleLatencyWarning(f"accepted (allow_implausible=True):\n{text}"), stacklevel=2)
    return problems
