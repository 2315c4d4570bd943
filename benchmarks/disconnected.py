"""Exploration: NB201 cells whose output is cut off from their input, and a `disconnected` design column.

341 NB201 architectures (2.2%) have no path of non-``none`` edges from the cell input to its output
(``NB201Space.is_disconnected``).  Some devices (raspi4, pixel3) run them about 150x faster than the rest;
the model's encoding has no column for that.  This script measures (1) how much of each source device's
residual they make, (2) whether appending an ``is_disconnected`` column to the NB201 encoding (the
model refitted with it; NOT the shipped model) changes few-shot adaptation at n = 10, and (3) whether
leaving measurements of disconnected cells out of the update (the shipped model; they are outside the
regime the encoding describes) does:

* random samples of 10 on the HELP validation devices and, leave-one-source-out, pixel3;
* the same for pixel3 with one of the 10 forced to be a disconnected cell (what active selection does).

It also records, per device, the median log-latency of disconnected vs connected cells, and what the
planner's loop (``benchmarks/planning.py``) does on raspi4: how many disconnected cells the first 10
active (``rank``) picks contain and the posterior's noise / signal sd after them, against random picks.
These describe the targets; nothing is chosen on them.

Nothing is chosen on the targets.  Run::

    LATXFER_DATA=/work/shared/data LATXFER_OFFLINE=1 .venv/bin/python benchmarks/disconnected.py --seeds 5

Writes ``docs/results/disconnected.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, cached_hier_fit, md_table, provenance  # noqa: E402


def _with_column(cls):
    """Patch ``cls.encode`` to append the is_disconnected column; returns the undo function."""
    orig = cls.encode

    def encode(self, idx, coding="reference"):
        return np.c_[orig(self, idx, coding), self.is_disconnected(idx).astype(float)]

    cls.encode = encode
    return lambda: setattr(cls, "encode", orig)


def _score(m, ds, dev, archs, seed, disc, drop=False):
    """Adapt ``m`` to ``archs`` of ``dev`` and score the unmeasured architectures.

    ``drop``: the measurements of disconnected cells are left out of the update (they stay unscored).
    """
    from latxfer.evaluate import score

    y = ds.latency.sel(device=dev).values
    pos = np.searchsorted(ds.arch.values, archs)
    use = ~disc[pos] if drop else np.ones(len(archs), bool)
    post = m.adapt(archs[use], y[pos[use]], rng=seed).posterior
    un = ~np.isin(ds.arch.values, archs)
    lo, hi = post.interval(0.9)
    fn, dr = np.log(post.mean_fn_ms), np.log(post.draws_ms)
    mean = post.mean(noise_free=True)
    return {"srcc": score(mean[un], y[un])["srcc"], "srcc_connected": score(mean[un & ~disc], y[un & ~disc])["srcc"],
            "coverage": float(np.mean((y[un] >= lo[un]) & (y[un] <= hi[un]))),
            "noise_over_signal_sd": float(np.median((dr - fn).std(1) / fn.std(1)))}


def _planner_picks(model, ds, dev, disc, seeds):
    """10 measurements chosen as in the planning loop (active ``rank`` vs random), on the real table."""
    from planning import _rounds, _truth

    from latxfer.plan import _light

    light, truth = _light(model, 100), _truth(model, ds, dev)
    rows = []
    for policy in ("active", "random"):
        for seed in range(seeds):
            # degenerate=True: the loop as it was, free to measure disconnected cells (the planner now
            # excludes them by default, docs/planning.md)
            *_, (_, _, archs, post, realised) = _rounds(model, light, truth, policy, np.array([0, 5, 10]), seed,
                                                        degenerate=True)
            fn, dr = np.log(post.mean_fn_ms), np.log(post.draws_ms)
            rows.append({"policy": policy, "seed": seed,
                         "disconnected_picked": int(disc[model.basis.positions(archs)].sum()),
                         "noise_over_signal_sd": float(np.median((dr - fn).std(1) / fn.std(1))),
                         "realised_srcc": realised})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "latxfer-bench"))
    args = ap.parse_args(argv)
    import latxfer
    from latxfer.errors import ConvergenceWarning
    from latxfer.models import LatencyModel
    from latxfer.spaces.nb201 import NB201Space

    warnings.simplefilter("ignore", ConvergenceWarning)
    ds = latxfer.load_dataset("nb201-help")
    sp = latxfer.get_split("nb201", "help")
    disc = latxfer.load_space("nb201").is_disconnected(ds.arch.values)
    cache = Path(args.cache)
    without = [s for s in sp.source if s != "pixel3"]
    shipped = {"all": cached_hier_fit(cache / "planning-nb201-hier-s0.zarr", ds.latx.select(sp.source)),
               "without pixel3": cached_hier_fit(cache / "planning-nb201-hier-s0-without-pixel3.zarr",
                                                 ds.latx.select(without))}
    # (1) residual share of the disconnected cells, per source device (shipped model, all sources)
    m = shipped["all"]
    res_rows = []
    for d in sp.source:
        y = np.log(m.source_latency_ms(d))
        f = np.log(m.known_device(d, rng=0).posterior.mean(noise_free=True))
        r = y - f
        res_rows.append({"device": d, "residual_sd_all": np.nanstd(r), "residual_sd_connected": np.nanstd(r[~disc]),
                         "mean_residual_disconnected": np.nanmean(r[disc]), "signal_sd": np.nanstd(f)})
    lat_rows = []
    for d in list(sp.source) + list(sp.target) + list(sp.validation):
        ly = np.log(ds.latency.sel(device=d).values)
        lat_rows.append({"device": d, "median_log_ms_disconnected": np.nanmedian(ly[disc]),
                         "median_log_ms_connected": np.nanmedian(ly[~disc]),
                         "ratio_connected_over_disconnected": np.exp(np.nanmedian(ly[~disc]) - np.nanmedian(ly[disc]))})
    loop_rows = _planner_picks(m, ds, "raspi4", disc, args.seeds)
    # (2) the column
    undo = _with_column(NB201Space)
    try:
        col = {"all": LatencyModel("hier").fit(ds.latx.select(sp.source), seed=0),
               "without pixel3": LatencyModel("hier").fit(ds.latx.select(without), seed=0)}
    finally:
        undo()
    cases = [("validation, random 10", d, "all", False) for d in sp.validation]
    cases += [("leave pixel3 out, random 10", "pixel3", "without pixel3", False),
              ("leave pixel3 out, 9 random + 1 disconnected", "pixel3", "without pixel3", True)]
    rows = []
    for case, dev, key, force in cases:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            if force:
                a = np.r_[rng.choice(ds.arch.values[~disc], 9, replace=False), rng.choice(ds.arch.values[disc], 1)]
            else:
                a = rng.choice(ds.arch.values, 10, replace=False)
            a = np.sort(a)
            for arm, models, drop in (("shipped", shipped, False), ("+ disconnected column", col, False),
                                      ("shipped, disconnected measurements dropped", shipped, True)):
                rows.append({"case": case, "device": dev, "arm": arm, "seed": seed,
                             **_score(models[key], ds, dev, a, seed, disc, drop)})
        print(f"{case} {dev}: done", flush=True)
    df = pd.DataFrame(rows)
    tab = df.groupby(["case", "device", "arm"])[["srcc", "srcc_connected", "coverage", "noise_over_signal_sd"]].mean()
    text = "\n\n".join([
        "# NB201 disconnected cells and a `disconnected` design column (exploration; not the shipped model)",
        provenance(),
        f"341 of 15,625 NB201 cells ({disc.mean():.1%}) cut the output off from the input. Seeds {args.seeds}; n = 10; "
        "SRCC and 90% coverage on the unmeasured architectures; `srcc_connected` leaves the disconnected "
        "cells out; `noise_over_signal_sd`: posterior median of the device's noise sd over the sd of its "
        "latency function (log scale).",
        "## Source residuals of the shipped model (log scale)",
        md_table(pd.DataFrame(res_rows).set_index("device").round(3)),
        "## Latency of disconnected vs connected cells (median, log ms)",
        md_table(pd.DataFrame(lat_rows).set_index("device").round(3)),
        "## The planner's loop on raspi4 after 10 measurements (batches of 5; mean over seeds)",
        "`disconnected_picked`: disconnected cells among the 10 measured; `noise_over_signal_sd`: posterior "
        "median (the simulated futures of `preposterior` draw their noise from it); `realised_srcc`: adapted "
        "ranking vs the real latency on the unmeasured architectures.",
        md_table(pd.DataFrame(loop_rows).groupby("policy").mean(numeric_only=True).drop(columns="seed").round(3)),
        "## Adaptation with and without the column",
        md_table(tab.round(4)),
    ])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "disconnected.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
