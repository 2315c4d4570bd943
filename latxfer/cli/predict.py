"""``latxfer predict``: adapt a fitted model to a new device and predict every architecture's latency.

::

    latxfer predict --model MODEL --target-csv FILE --out PRED.csv [--interval 0.9] [--seed S]
                    [--plot FILE.png] [--json]

``PRED.csv`` has one row per architecture of the space: ``arch_index, mean_ms, sd_ms, lower_ms,
upper_ms, measured`` (a stable contract).  Without ``--target-csv`` the prediction is the population
prior for an unseen device (n = 0), labelled as such.
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "predict"
HELP = "adapt to a new device and predict every architecture's latency"


def add_arguments(p) -> None:
    """Options of ``latxfer predict``."""
    C.add_flag(p, "--model")
    C.add_flag(p, "--target-csv", "layer-wise files add layer,op (latency relative to the layer's reference "
                                  "op); omit it for the prior prediction (n = 0)")
    C.add_flag(p, "--allow-implausible")
    p.add_argument("--out", required=True, metavar="PRED.csv", help="the predictions: one row per architecture "
                                                                    "of the space")
    C.add_flag(p, "--intercept-ms")
    C.add_flag(p, "--interval", "of the predictive intervals")
    C.add_flag(p, "--seed")
    p.add_argument("--treat-as-known", action="store_true",
                   help="if the CSV's device is a source of the model, predict it from its fitted parameters")
    C.add_flag(p, "--overwrite")
    C.add_flag(p, "--plot", "every architecture's predicted latency (sorted) with its interval and the "
                            "measurements")
    C.add_flag(p, "--json")


def adapted_posterior(model, args, *, allow_source: bool = False):
    """``(AdaptedLatency, device)`` for the command's target, or the labelled prior without ``--target-csv``."""
    import time

    from latxfer.cli._target import read_target

    if args.target_csv is None:
        C.say("no --target-csv: this is the population PRIOR prediction for an unseen device (n = 0)")
        if model.source_latency is not None:
            import numpy as np

            med = np.nanmedian(model.source_latency, axis=1)
            C.say(f"its latency level comes from the source devices (median latencies {float(med.min()):.3g}-"
                  f"{float(med.max()):.3g} ms): for a device much faster or slower than all of them the "
                  "intervals are off (the ranking is what the prior informs); one measured architecture "
                  "fixes the level")
        return model.adapt([], [], device="new-device", rng=args.seed), "new-device"
    t = read_target(model, args.target_csv, model_path=args.model, allow_implausible=args.allow_implausible, allow_source=allow_source,
                    source_hint="pass --treat-as-known to predict it from its fitted source parameters",
                    intercept_ms=args.intercept_ms)
    if t.known:
        C.say(f"{t.device!r} is a source device: predicting from its fitted parameters (--treat-as-known)")
        return model.known_device(t.device, rng=args.seed), t.device
    start = time.perf_counter()
    ad = model.adapt_dataset(t.dataset, t.device, rng=args.seed, allow_implausible=args.allow_implausible)
    C.say(f"adapted to {t.device!r} from {t.describe()} in {time.perf_counter() - start:.2f} s")
    return ad, t.device


def run(args) -> int:
    """Adapt to the target device and write per-architecture predictions."""
    import pandas as pd

    from latxfer.models import load_model

    outs = C.Outputs(args, C.input_paths(args.model, args.target_csv), out=args.out, plot=args.plot)
    model = load_model(args.model)
    ad, dev = adapted_posterior(model, args, allow_source=args.treat_as_known)
    s = ad.posterior.summary(args.interval)
    df = pd.DataFrame({
        "arch_index": s["arch"].values, "mean_ms": s["mean_ms"].values, "sd_ms": s["sd_ms"].values,
        "lower_ms": s["lower_ms"].values, "upper_ms": s["upper_ms"].values,
        "measured": s["measured"].values.astype(bool),
    })
    out = outs.write_csv("out", df, float_format="%.6g")
    plot = outs.get("plot")
    if plot is not None:
        from latxfer.plots import plot_prediction

        plot_prediction(ad.posterior, plot, interval=args.interval, overwrite=args.overwrite)
    n_meas = int(df["measured"].sum())
    if args.json:
        C.print_json({"model": args.model, "target_csv": args.target_csv, "device": dev, "out": str(out),
                      "plot": None if plot is None else str(plot), "label": ad.posterior.label,
                      "n_archs": len(df), "n_measured": n_meas, "interval": args.interval, "seed": args.seed,
                      "mean_ms": {"min": float(df["mean_ms"].min()), "median": float(df["mean_ms"].median()),
                                  "max": float(df["mean_ms"].max())}})
        return C.EXIT_OK
    print(f"wrote {out}: {len(df)} architectures, {n_meas} measured on {dev!r}; {ad.posterior.label}; "
          f"{args.interval:.0%} predictive intervals")
    if plot is not None:
        print(f"wrote {plot}")
    return C.EXIT_OK
