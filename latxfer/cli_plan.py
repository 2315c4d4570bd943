"""``latxfer plan``: how many more architectures to measure on a new device, and which ones.

::

    latxfer plan --model MODEL [--target-csv FILE] [--proxy DEVICE] --goal "srcc>=0.95"
                 [--confidence 0.9] [--batch 5] [--max 50] [--json] [--plot FILE.png] [--out NEXT.csv]

Prints the recommended number of further measurements and the next batch of architectures as a CSV
(``device,arch_index,latency_ms`` with ``latency_ms`` empty) for the user to fill in, append to the target
CSV and run ``latxfer plan`` again (the loop of ``docs/planning.md``).  Architectures are proposed among
those a source device measured, except the space's degenerate ones (NB201's disconnected cells).  With
``--target-csv`` it first prints the model's track record on the device: the CSV's rows replayed in their
order, in rounds, each predicted from the rounds before it (``plan.track_record``), with a warning when too
few fell inside their 90% interval (``plan.track_verdict``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def _say(msg: str) -> None:
    print(f"[latxfer] {msg}", file=sys.stderr, flush=True)


def add_arguments(p) -> None:
    """Options of ``latxfer plan``."""
    from latxfer.plan import GOAL_GRAMMAR

    p.add_argument("--model", required=True, help="a model saved by `latxfer fit`")
    p.add_argument("--target-csv", default=None,
                   help="tidy CSV device,arch_index,latency_ms of the new device's measurements so far "
                        "(omit when nothing is measured yet)")
    p.add_argument("--goal", required=True, help="'srcc>=0.95', 'decide' or 'decide>=0.95' (see below)")
    p.add_argument("--proxy", default=None,
                   help="candidate proxy device (a source device of the model); needed by 'decide'")
    p.add_argument("--proxy-csv", default=None,
                   help="the proxy's latencies as a tidy CSV (default: the model's stored source table, "
                        "else --dataset)")
    p.add_argument("--dataset", default=None,
                   help="named dataset holding the proxy's latencies (default: the model's own dataset)")
    p.add_argument("--threshold", type=float, default=0.9, help="SRCC that counts as strong monotonicity")
    p.add_argument("--confidence", type=float, default=0.9,
                   help="share of simulated futures in which the goal must hold (and decision level)")
    p.add_argument("--batch", type=int, default=5, help="architectures measured per session")
    p.add_argument("--max", type=int, default=50, dest="max_k", help="largest number of further measurements")
    p.add_argument("--policy", choices=["active", "random"], default="active",
                   help="how the next architectures are chosen (default: active)")
    p.add_argument("--trim", type=float, default=None,
                   help="active selection: share of candidates at the extremes of the design left out "
                        "(default: latxfer.plan.ACTIVE_TRIM, 0.05; 0 keeps all)")
    p.add_argument("--worlds", type=int, default=20, help="simulated target devices (cost ~ worlds x max/batch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the next batch as a CSV template here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out / --plot")
    p.add_argument("--plot", default=None, help="figure of the expected curve (PNG/PDF/SVG)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.epilog = GOAL_GRAMMAR
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter


def _target(model, csv):
    import pandas as pd

    from latxfer.data.csvio import read_csv, read_rows
    from latxfer.errors import ConfigError, LeakageError

    ds = read_csv(csv, space=model.space_name if model.space_name != "unknown" else None)
    space = ds.attrs.get("space", "unknown")
    if model.space_name != "unknown" and space not in ("unknown", model.space_name):
        raise ConfigError(f"{csv}: holds {space!r} architectures but the model was fitted on "
                          f"{model.space_name!r}")
    devs = ds.latx.devices
    if len(devs) != 1:
        raise ConfigError(f"{csv}: holds {len(devs)} devices {devs}; a target CSV holds one new device")
    dev = devs[0]
    if dev in model.source_devices:
        raise LeakageError(f"{csv}: device {dev!r} is a source device of this model; planning measurements "
                           "for it makes no sense. Rename the device if it is another one")
    if ds.latx.has_layers:
        raise ConfigError(f"{csv}: holds layer-wise measurements; planning simulates end-to-end measurements, "
                          "so give end-to-end latencies (device,arch_index,latency_ms) to `latxfer plan`")
    long = ds.latx.select([dev]).latx.to_long()
    # in the order the architectures were first measured (the rows' order), for the track record
    order = pd.unique(read_rows(csv, space=None if space == "unknown" else space)["arch_index"])
    long = long.set_index("arch_index").loc[order].reset_index()
    return dev, long["arch_index"].to_numpy(), long["latency_ms"].to_numpy()


def _proxy(model, args):
    """The proxy's latency (ms) over model.basis.archs, NaN where unknown."""
    import numpy as np

    from latxfer.errors import UnknownDeviceError

    if args.proxy_csv:
        from latxfer.data.csvio import read_csv

        ds = read_csv(args.proxy_csv, space=model.space_name if model.space_name != "unknown" else None)
        devs = ds.latx.devices
        dev = args.proxy or devs[0]
        if dev not in devs:
            raise UnknownDeviceError(f"{args.proxy_csv}: no device {dev!r}; it holds {devs}")
    elif args.dataset is None and args.proxy in model.source_devices and np.isfinite(
            model.source_latency_ms(args.proxy)).sum() >= 3:
        return model.source_latency_ms(args.proxy)
    else:
        from latxfer.data.datasets import load_dataset

        name = args.dataset or model.fit_info.get("dataset")
        if not name:
            raise UnknownDeviceError(f"no latencies for proxy {args.proxy!r}: pass --proxy-csv or --dataset")
        ds = load_dataset(name, args.data_dir)
        if args.proxy not in ds.latx.devices:
            raise UnknownDeviceError(f"proxy {args.proxy!r} is not in dataset {name!r}; its devices are "
                                     f"{', '.join(ds.latx.devices)}")
        dev = args.proxy
    long = ds.latx.select([dev]).latx.to_long()
    out = np.full(len(model.basis.archs), np.nan)
    idx = long["arch_index"].to_numpy()
    keep = np.isin(idx, model.basis.archs)
    out[model.basis.positions(idx[keep])] = long["latency_ms"].to_numpy()[keep]
    return out


def run(args) -> int:
    """Plan the next target measurements."""
    import numpy as np
    import pandas as pd

    from latxfer.errors import ConfigError
    from latxfer.models import load_model
    from latxfer.plan import parse_goal, preposterior, track_verdict

    goal = parse_goal(args.goal)
    for opt in ("out", "plot"):
        f = getattr(args, opt)
        if f and Path(f).exists() and not args.overwrite:
            raise ConfigError(f"{f} already exists; refusing to overwrite it (pass --overwrite)")
    if goal.kind == "decide" and not args.proxy and not args.proxy_csv:
        raise ConfigError(f"the goal {goal} needs --proxy DEVICE (the candidate proxy to reuse or not)")
    model = load_model(args.model)
    if args.target_csv:
        dev, archs, y = _target(model, args.target_csv)
    else:
        dev, archs, y = "new-device", np.zeros(0, np.int64), np.zeros(0)
        _say("no --target-csv: planning from the population prior (nothing measured yet)")
    proxy = _proxy(model, args) if (args.proxy or args.proxy_csv) else None
    n_steps = int(np.ceil(args.max_k / max(args.batch, 1))) + 1
    _say(f"simulating {args.worlds} target devices x {n_steps} measurement counts "
         f"(about {0.4 * args.worlds * n_steps:.0f} s)")
    res = preposterior(model, archs, y, goal=goal, proxy_ms=proxy, threshold=args.threshold,
                       confidence=args.confidence, batch=args.batch, max_k=args.max_k, policy=args.policy,
                       n_worlds=args.worlds, device=dev, rng=args.seed, progress=sys.stderr.isatty(),
                       trim=args.trim)
    track = None
    if len(archs):
        from latxfer.plan import TRACK_MAX_ROUNDS, track_record

        per_round = max(args.batch, -(-len(archs) // TRACK_MAX_ROUNDS))
        track = track_record(model, archs, y, batch=per_round, device=dev, rng=args.seed)
        # the last round ends where the plan starts: show the plan's own "now" there (the same quantity, the
        # plan's posterior draws instead of a second set), so the table, the line and "now" agree
        track.loc[track.index[-1], "expected_srcc_after"] = res.current["expected_srcc"]
        res.history = list(zip(track["n_before"] + track["n"], track["expected_srcc_after"], strict=True))
    nxt = pd.DataFrame({"device": dev, "arch_index": res.next_archs.astype(np.int64), "latency_ms": ""})
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        nxt.to_csv(tmp, index=False)
        tmp.replace(out)
    if args.plot:
        from latxfer.plots_plan import plot_plan

        plot_plan(res, args.plot)
    if args.json:
        d = res.to_dict()
        d.update({"model": str(args.model), "proxy": args.proxy, "next_csv": args.out, "plot": args.plot})
        if track is not None:
            d["track_record"] = [{k: (int(v) if k not in ("srcc_pred", "expected_srcc_after") else
                                      float(v) if np.isfinite(v) else None) for k, v in r.items()}
                                 for r in track.to_dict("records")]
            d["track_warning"] = track_verdict(track)
        print(json.dumps(d, indent=2, default=float))
    else:
        cur = res.current
        print(f"target {dev}: {res.n_measured} measurement(s) so far; goal {res.goal}, confidence "
              f"{res.confidence:.0%}, batches of {res.batch}, policy {res.policy}")
        line = f"  now: expected SRCC of the adapted ranking {cur['expected_srcc']:.3f}"
        if "p_above" in cur:
            line += (f"; P(SRCC({args.proxy or 'proxy'}, target) >= {res.threshold:g}) = {cur['p_above']:.2f}"
                     f" -> {cur['decision']}")
        print(line)
        if track is not None:
            print(f"  track record (your measurements in file order, rounds of {int(track['n'].iloc[0])}, each "
                  f"predicted from the rounds before it; inside = within the {track.attrs['prob']:.0%} interval):")
            tab = track.drop(columns=["below", "above"]).to_string(
                index=False, float_format=lambda v: f"{v:.3f}")
            print("    " + tab.replace("\n", "\n    "))
            later = track[track["n_before"] > 0]
            if len(later):
                print(f"  predicted from earlier measurements: {int(later['inside'].sum())} of {int(later['n'].sum())}"
                      f" inside their interval ({int(later['below'].sum())} below, {int(later['above'].sum())} above)")
            warn = track_verdict(track)
            if warn:
                print(f"  WARNING: {warn}")
        df = res.to_frame()
        cols = ["k", "n_total", "srcc_median", "srcc_lo", "srcc_hi"] + (
            ["p_above_median", "decided_share"] if "p_above_median" in df else []) + ["goal_share"]
        print("  expected curve (SRCC of the adapted ranking: median over simulated devices, 90% band for a real one):")
        print("    " + df[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}").replace("\n", "\n    "))
        print(f"  {res.message}")
        print(f"  next batch ({len(nxt)} architectures, fill in latency_ms, append to the target CSV, "
              "run `latxfer plan` again):")
        print(nxt.to_csv(index=False).rstrip())
        if args.out:
            print(f"  wrote the template to {args.out}")
    return 0 if res.reachable else 1


run.add_arguments = add_arguments
