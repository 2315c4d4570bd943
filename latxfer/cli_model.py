"""``latxfer fit``, ``latxfer predict`` and ``latxfer assess``: the Bayesian core on the command line.

The options are a stable contract (scripts outside the project call them)::

    latxfer fit --dataset NAME --sources SPLIT_OR_LIST [--model CONFIG] [--seed S] --out MODEL
    latxfer predict --model MODEL --target-csv FILE --out PRED.csv [--interval 0.9] [--seed S] [--plot F.png]
    latxfer assess --model MODEL --proxy DEVICE --target-csv FILE [--threshold 0.9] [--json] [--plot F.png]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

__all__ = ["fit_cmd", "predict_cmd", "assess_cmd"]


def _say(msg: str) -> None:
    print(f"[latxfer] {msg}", file=sys.stderr, flush=True)


def _target(model, csv: str, allow_source: bool, intercept_ms: float | None = None):
    """Read the target CSV and check it against the model; returns (Dataset, device, known?)."""
    import math

    import xarray as xr

    from latxfer.data.csvio import read_csv
    from latxfer.errors import ConfigError, LeakageError

    ds = read_csv(csv, space=model.space_name if model.space_name != "unknown" else None)
    devs = ds.latx.devices
    if len(devs) != 1:
        raise ConfigError(f"{csv}: holds {len(devs)} devices {devs}; a target CSV holds one new device")
    dev = devs[0]
    if intercept_ms is not None:
        if not ds.latx.has_layers:
            raise ConfigError(f"--intercept-ms applies to layer-wise CSVs (with a 'layer' column); {csv} holds "
                              "end-to-end latencies")
        if not math.isfinite(intercept_ms):
            raise ConfigError(f"--intercept-ms must be a finite number of ms, got {intercept_ms}")
        ds = ds.assign(intercept_ms=xr.DataArray([float(intercept_ms)], dims=["device"],
                                                 coords={"device": [dev]}))
    if dev in model.source_devices and not allow_source:
        raise LeakageError(
            f"{csv}: device {dev!r} is a source device of this model (its full table was used to fit it), "
            "so adapting to it would not be a prediction. Rename the device if it is another one, or "
            "pass --treat-as-known to predict it from its fitted source parameters"
        )
    return ds, dev, dev in model.source_devices


def _posterior(model, args):
    """AdaptedLatency for the command's target (or the labelled prior without --target-csv)."""
    if args.target_csv is None:
        _say("no --target-csv: this is the population PRIOR prediction for an unseen device (n = 0)")
        if model.source_latency is not None:
            import numpy as np

            med = np.nanmedian(model.source_latency, axis=1)
            lo, hi = float(med.min()), float(med.max())
            _say(f"its latency level comes from the source devices (median latencies {lo:.3g}-{hi:.3g} ms): "
                 "for a device much faster or slower than all of them the intervals are off (the ranking "
                 "is what the prior informs); one measured architecture fixes the level")
        return model.adapt([], [], device="new-device", rng=args.seed), "new-device"
    ds, dev, known = _target(model, args.target_csv, getattr(args, "treat_as_known", False),
                             getattr(args, "intercept_ms", None))
    if known:
        _say(f"{dev!r} is a source device: predicting from its fitted parameters (--treat-as-known)")
        return model.known_device(dev, rng=args.seed), dev
    long = ds.latx.to_long()
    n = int(long.shape[0])
    what = (f"{n} layer-wise measurement(s) of {long['arch_index'].nunique()} architecture(s)"
            if ds.latx.has_layers else f"{n} measurement(s)")
    t = time.perf_counter()
    ad = model.adapt_dataset(ds, dev, rng=args.seed)
    _say(f"adapted to {dev!r} from {what} in {time.perf_counter() - t:.2f} s")
    return ad, dev


# ---------------------------------------------------------------------------------------------- fit
def fit_args(p) -> None:
    p.add_argument("--dataset", required=True,
                   help="the source devices' latencies: a dataset name (see `latxfer data list`), a tidy CSV "
                        "device,arch_index,latency_ms of your own, or a saved .zarr / .nc dataset")
    p.add_argument("--space", default=None,
                   help="search space of a CSV dataset (nb201, fbnet, ofa); default: its space column")
    p.add_argument("--sources", required=True,
                   help="a split name from splits.json (e.g. 'help') or a comma list of devices")
    p.add_argument("--model", default="hier", help="model configuration name in models/ or a TOML file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="where to save the fitted model (zarr directory)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--json", action="store_true", help="print the fit summary as JSON")


def fit_cmd(args) -> int:
    """Fit the model on the source devices and save it."""
    from latxfer.data.datasets import load_any, split_devices
    from latxfer.errors import ConfigError, ConvergenceWarning
    from latxfer.models import LatencyModel

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ConfigError(f"{out} already exists; refusing to overwrite it (pass --overwrite)")
    ds = load_any(args.dataset, space=args.space, data_dir=args.data_dir)
    if ds.attrs.get("space", "unknown") == "unknown":
        raise ConfigError(f"{args.dataset}: no search space given; the model encodes architectures of a space: "
                          "pass --space (nb201, fbnet, ofa) or add a 'space' column to the CSV")
    sources = split_devices(args.sources, ds.attrs["space"], args.data_dir)
    src = ds.latx.select(sources)
    model = LatencyModel(args.model)
    cfg = model.config
    _say(f"fitting {model.name!r} ({cfg['model']['variant']}, K={cfg['model']['n_factors']}) on "
         f"{len(sources)} source devices of {args.dataset}: {', '.join(sources)}")
    sc = cfg["sampler"]
    if sc["name"] in ("map", "advi"):
        _say(f"sampler {sc['name']}: an approximation (no r_hat / ESS), {sc['draws']} draws")
    else:
        _say(f"sampler {sc['name']}: {sc['chains']} chains x ({sc['tune']} tune + {sc['draws']} draws); "
             "about a minute on 2 cores")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(src, seed=args.seed, progress=sys.stderr.isatty())
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            _say(f"WARNING: {w.message}")
    model.save(out, overwrite=args.overwrite)
    d = model.diagnostics
    summary = {"model": str(out), "config": model.name, "sources": sources, "dataset": args.dataset,
               "fit_seconds": round(model.fit_info["fit_seconds"], 2), "max_rhat": d.get("max_rhat"),
               "min_ess": d.get("min_ess"), "divergences": d.get("divergences"),
               "converged": d.get("converged"), "noise_power": model.fit_info.get("noise_power", 0.0)}
    if args.json:
        print(json.dumps(summary, indent=2, default=float))
    else:
        print(f"saved {out}: fitted in {summary['fit_seconds']} s, max r_hat {d.get('max_rhat', float('nan')):.3f}, "
              f"min ESS {d.get('min_ess', float('nan')):.0f}, divergences {d.get('divergences')}, "
              f"noise sd ~ latency^{summary['noise_power']:.2f}"
              + ("" if d.get("converged", True) else "  (NOT converged: see warning above)"))
    return 0


fit_cmd.add_arguments = fit_args


# ------------------------------------------------------------------------------------------ predict
def predict_args(p) -> None:
    p.add_argument("--model", required=True, help="a model saved by `latxfer fit`")
    p.add_argument("--target-csv", default=None,
                   help="tidy CSV device,arch_index,latency_ms of ONE new device (omit for the prior, n = 0); "
                        "layer-wise files add layer,op (latency relative to the layer's reference op)")
    p.add_argument("--out", required=True, help="PRED.csv: one row per architecture of the space")
    p.add_argument("--intercept-ms", type=float, default=None, metavar="MS",
                   help="layer-wise CSVs only: the device's end-to-end latency minus the sum of its layers "
                        "(without it the absolute latency level comes from the population prior)")
    p.add_argument("--interval", type=float, default=0.9, help="central predictive interval probability")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--treat-as-known", action="store_true",
                   help="if the CSV's device is a source of the model, predict it from its fitted parameters")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out / --plot")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="figure: every architecture's predicted latency (sorted) with its interval and the "
                        "measurements")


def _check_plot(path, overwrite: bool):
    from latxfer.errors import ConfigError

    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--plot {path}: expected a .png, .pdf or .svg file name")
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; refusing to overwrite it (pass --overwrite)")
    return path


def predict_cmd(args) -> int:
    """Adapt to the target device and write per-architecture predictions."""
    import pandas as pd

    from latxfer.errors import ConfigError
    from latxfer.models import load_model

    if not 0 < args.interval < 1:
        raise ConfigError(f"--interval must be in (0, 1), got {args.interval}")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ConfigError(f"{out} already exists; refusing to overwrite it (pass --overwrite)")
    plot = _check_plot(getattr(args, "plot", None), args.overwrite)
    model = load_model(args.model)
    ad, dev = _posterior(model, args)
    s = ad.posterior.summary(args.interval)
    df = pd.DataFrame({
        "arch_index": s["arch"].values, "mean_ms": s["mean_ms"].values, "sd_ms": s["sd_ms"].values,
        "lower_ms": s["lower_ms"].values, "upper_ms": s["upper_ms"].values,
        "measured": s["measured"].values.astype(bool),
    })
    tmp = out.with_name(out.name + ".tmp")
    df.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(out)
    print(f"wrote {out}: {len(df)} architectures, {int(df['measured'].sum())} measured on {dev!r}; "
          f"{ad.posterior.label}; {args.interval:.0%} predictive intervals")
    if plot is not None:
        from latxfer.plots import plot_prediction

        plot_prediction(ad.posterior, plot, interval=args.interval)
        print(f"wrote {plot}")
    return 0


predict_cmd.add_arguments = predict_args


# ------------------------------------------------------------------------------------------- assess
#: below this P(SRCC >= threshold) a "reuse" call gets a caution.  Chosen on devices that are not targets
#: (docs/results/experiments/decisions_small_n.py): reuse calls with P in [0.9, 0.98) were right in 20 of 37
#: cases, above it in 33 of 34; on the targets (not used for the choice) 45 of 57 and 65 of 67
REUSE_CAUTION_BELOW = 0.98


def decision_reason(decision: str, p_above: float, threshold: float, confidence: float) -> str:
    """Why ``latxfer assess`` decided as it did; a "reuse" call below :data:`REUSE_CAUTION_BELOW` says how
    often such calls were right in the benchmarks."""
    return {
        "reuse": f"P(SRCC >= {threshold}) = {p_above:.2f} >= {confidence}: the proxy's ranking "
                 "(and its Pareto set) can be reused on the target" + (
                     f"; but reuse calls with P below {REUSE_CAUTION_BELOW:g} were right in only 54-79% of held-out "
                     "cases (docs/bayes.md, "
                     "'Decisions after very few measurements'): confirm with a few more measurements"
                     if p_above < REUSE_CAUTION_BELOW else ""),
        "adapt": f"P(SRCC >= {threshold}) = {p_above:.2f} <= {1 - confidence:.2f}: monotonicity is "
                 "weak; use the adapted posterior (latxfer predict) instead of the proxy",
        "measure more": f"P(SRCC >= {threshold}) = {p_above:.2f} is between {1 - confidence:.2f} and "
                        f"{confidence}: measure more architectures (latxfer plan) before deciding",
    }[decision]


def assess_args(p) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--proxy", required=True, help="a source device of the model, the candidate proxy")
    p.add_argument("--target-csv", required=True)
    p.add_argument("--threshold", type=float, default=0.9, help="SRCC that counts as strong monotonicity")
    p.add_argument("--confidence", type=float, default=0.9,
                   help="posterior probability needed to decide reuse (or adapt)")
    p.add_argument("--intercept-ms", type=float, default=None, metavar="MS",
                   help="layer-wise CSVs only: the device's end-to-end latency minus the sum of its layers "
                        "(without it the absolute latency level comes from the population prior)")
    p.add_argument("--interval", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="figure: posterior density of SRCC(proxy, target) with the threshold")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --plot")


def assess_cmd(args) -> int:
    """Posterior SRCC between the proxy and the target, and the reuse / adapt / measure-more decision."""
    from latxfer.models import load_model

    plot = _check_plot(getattr(args, "plot", None), getattr(args, "overwrite", False))
    model = load_model(args.model)
    proxy = model.source_latency_ms(args.proxy)
    ds, dev, _ = _target(model, args.target_csv, allow_source=False, intercept_ms=args.intercept_ms)
    ad = model.adapt_dataset(ds, dev, rng=args.seed)
    r = model.posterior_srcc(proxy, ad.posterior, threshold=args.threshold, prob=args.interval)
    q = model.expected_rank_quality(ad.posterior, prob=args.interval)
    res = r.to_dict(args.confidence)
    res.update({"proxy": args.proxy, "target": dev, "n_measured": ad.posterior.n_measured,
                "adapted_ranking_srcc_mean": q.mean, "adapted_ranking_srcc_interval": list(q.interval)})
    why = decision_reason(res["decision"], r.p_above, args.threshold, args.confidence)
    res["reason"] = why
    if args.json:
        print(json.dumps(res, indent=2, default=float))
    else:
        lo, hi = r.interval
        print(f"proxy {args.proxy} -> target {dev} ({res['n_measured']} target measurements)")
        print(f"  posterior SRCC {r.mean:.3f}  [{lo:.3f}, {hi:.3f}] ({args.interval:.0%} interval, with a model "
              f"discrepancy of sd {r.info['discrepancy']:.2f} on the Fisher-z scale, calibrated on held-out devices)")
        print(f"  P(SRCC >= {args.threshold}) = {r.p_above:.3f}")
        print(f"  adapted ranking: expected SRCC {q.mean:.3f} [{q.interval[0]:.3f}, {q.interval[1]:.3f}]")
        print(f"  decision: {res['decision'].upper()}: {why}")
    if plot is not None:
        from latxfer.plots import plot_posterior_srcc

        plot_posterior_srcc(r, plot, others={"SRCC(adapted ranking, target)": q},
                            title=f"{args.proxy} -> {dev}: {res['decision']} "
                                  f"({res['n_measured']} target measurements)")
        print(f"wrote {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


assess_cmd.add_arguments = assess_args
