"""``latxfer plan``: how many more architectures to measure on a new device, and which ones.

::

    latxfer plan --model MODEL [--target-csv FILE] [--proxy DEVICE] --goal "srcc>=0.95"
                 [--confidence 0.9] [--batch B] [--max K] [--json] [--plot FILE.png] [--out NEXT.csv]

Prints the recommended number of further measurements and the next batch of architectures as a CSV
(``device,arch_index,latency_ms`` with ``latency_ms`` empty) for the user to fill in, append to the target
CSV and run ``latxfer plan`` again (the loop of ``docs/guide/new-device.md``).  With ``--target-csv`` it first
prints the model's track record on the device: the CSV's rows replayed in their order, in rounds, each
predicted from the rounds before it (``plan.track_record``), with a warning when too few fell inside their
90% interval (``plan.track_verdict``).  ``--batch``, ``--max``, ``--worlds`` and ``--trim`` default to
:func:`latxfer.plan.preposterior`'s own defaults (shown by ``latxfer plan --help``).
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "plan"
HELP = "how many target measurements, and which"

#: The planning options whose defaults come from latxfer.plan.preposterior: flag dest -> its parameter.
LIBRARY_DEFAULTS = {"batch": "batch", "max_k": "max_k", "worlds": "n_worlds", "trim": "trim"}


def _epilog() -> str:
    import inspect

    from latxfer.plan import ACTIVE_TRIM, GOAL_GRAMMAR, preposterior

    sig = inspect.signature(preposterior).parameters
    d = {k: sig[v].default for k, v in LIBRARY_DEFAULTS.items()}
    trim = ACTIVE_TRIM if d["trim"] is None else d["trim"]
    return (f"{GOAL_GRAMMAR}\n\ndefaults (from latxfer.plan.preposterior): --batch {d['batch']}, --max "
            f"{d['max_k']}, --worlds {d['worlds']}, --trim {trim:g}")


def add_arguments(p) -> None:
    """Options of ``latxfer plan``."""
    import argparse

    C.add_flag(p, "--model")
    C.add_flag(p, "--target-csv", "omit it when nothing is measured yet")
    C.add_flag(p, "--allow-implausible")
    p.add_argument("--goal", required=True, metavar="GOAL",
                   help="'srcc>=0.95', 'decide' or 'decide>=0.95' (see the goal grammar below)")
    C.add_flag(p, "--proxy", "needed by 'decide'", default=None)
    p.add_argument("--proxy-csv", default=None, metavar="FILE",
                   help="the proxy's latencies as a tidy CSV (default: the model's stored source table, "
                        "else --dataset)")
    C.add_flag(p, "--dataset", "holding the proxy's latencies (default: the model's own dataset)", required=False,
               default=None)
    C.add_flag(p, "--threshold")
    C.add_flag(p, "--confidence", "also the share of simulated futures in which the goal must hold")
    p.add_argument("--batch", type=C.int_at_least(1), default=None, metavar="N",
                   help="architectures measured per session, an integer >= 1 (default below)")
    p.add_argument("--max", type=C.int_at_least(1), default=None, dest="max_k", metavar="K",
                   help="largest number of further measurements, an integer >= 1 (default below)")
    p.add_argument("--policy", choices=["active", "random"], default="active",
                   help="how the next architectures are chosen (default: active)")
    p.add_argument("--trim", type=C.number_in(0.0, 1.0, lo_open=False), default=None, metavar="F",
                   help="active selection: share of candidates at the extremes of the design left out, in "
                        "[0, 1) (default below; 0 keeps all)")
    p.add_argument("--worlds", type=C.int_at_least(2), default=None, metavar="N",
                   help="simulated target devices, an integer >= 2 (cost ~ worlds x max/batch; default below)")
    C.add_flag(p, "--seed")
    p.add_argument("--out", default=None, metavar="NEXT.csv", help="write the next batch as a CSV template here")
    C.add_flag(p, "--overwrite")
    C.add_flag(p, "--plot", "the expected curve")
    C.add_flag(p, "--json")
    p.epilog_factory = _epilog
    p.formatter_class = argparse.RawDescriptionHelpFormatter


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
            raise UnknownDeviceError(f"--proxy-csv {args.proxy_csv}: no device {dev!r}; it holds {devs}")
    elif args.dataset is None and args.proxy in model.source_devices and np.isfinite(
            model.source_latency_ms(args.proxy)).sum() >= 3:
        return model.source_latency_ms(args.proxy)
    else:
        from latxfer.data.datasets import load_any

        name = args.dataset or model.fit_info.get("dataset")
        if not name:
            raise UnknownDeviceError(f"no latencies for proxy {args.proxy!r}: pass --proxy-csv or --dataset")
        ds = load_any(name, space=None if model.space_name == "unknown" else model.space_name,
                      data_dir=args.data_dir)
        if args.proxy not in ds.latx.devices:
            raise UnknownDeviceError(f"--proxy {args.proxy!r} is not in dataset {name!r}; its devices are "
                                     f"{', '.join(ds.latx.devices)}")
        dev = args.proxy
    long = ds.latx.select([dev]).latx.to_long()
    out = np.full(len(model.basis.archs), np.nan)
    idx = long["arch_index"].to_numpy()
    keep = np.isin(idx, model.basis.archs)
    out[model.basis.positions(idx[keep])] = long["latency_ms"].to_numpy()[keep]
    return out


def _settings(args) -> dict:
    """The planning options, the library's defaults where the flag was not given."""
    import inspect

    from latxfer.plan import preposterior

    sig = inspect.signature(preposterior).parameters
    return {param: sig[param].default if getattr(args, dest) is None else getattr(args, dest)
            for dest, param in LIBRARY_DEFAULTS.items()}


def _track_record(model, archs, y, batch, dev, seed, allow_implausible=False):
    from latxfer.plan import TRACK_MAX_ROUNDS, track_record

    per_round = max(batch, -(-len(archs) // TRACK_MAX_ROUNDS))
    return track_record(model, archs, y, batch=per_round, device=dev, rng=seed, allow_implausible=allow_implausible)


def _track(track, res):
    # the last round ends where the plan starts: show the plan's own "now" there (the same quantity, the
    # plan's posterior draws instead of a second set), so the table, the line and "now" agree
    track.loc[track.index[-1], "expected_srcc_after"] = res.current["expected_srcc"]
    res.history = list(zip(track["n_before"] + track["n"], track["expected_srcc_after"], strict=True))
    return track


def run(args) -> int:
    """Plan the next target measurements; exit 1 when the goal is out of reach within ``--max``."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pandas as pd

    from latxfer.cli._target import read_target
    from latxfer.errors import ConfigError
    from latxfer.models import load_model
    from latxfer.plan import blas_threads, parse_goal, preposterior

    goal = parse_goal(args.goal)
    inputs = C.input_paths(args.model, args.target_csv, args.proxy_csv, args.dataset)
    outs = C.Outputs(args, inputs, out=args.out, plot=args.plot)
    if goal.kind == "decide" and not args.proxy and not args.proxy_csv:
        raise ConfigError(f"the goal {goal} needs --proxy DEVICE (the candidate proxy to reuse or not)")
    model = load_model(args.model)
    if args.target_csv:
        t = read_target(model, args.target_csv, model_path=args.model, allow_implausible=args.allow_implausible,
                        no_layers="planning simulates end-to-end measurements")
        dev, (archs, y) = t.device, t.end_to_end()
    else:
        dev, archs, y = "new-device", np.zeros(0, np.int64), np.zeros(0)
        C.say("no --target-csv: planning from the population prior (nothing measured yet)")
    proxy = _proxy(model, args) if (args.proxy or args.proxy_csv) else None
    s = _settings(args)
    n_steps = int(np.ceil(s["max_k"] / s["batch"])) + 1
    C.say(f"simulating {s['n_worlds']} target devices x {n_steps} measurement counts")
    with blas_threads(model), ThreadPoolExecutor(max_workers=1) as pool:
        # the track record needs nothing of the plan (its own seed): computed alongside it, the same numbers
        job = (pool.submit(_track_record, model, archs, y, s["batch"], dev, args.seed, args.allow_implausible)
               if len(archs) else None)
        res = preposterior(model, archs, y, allow_implausible=args.allow_implausible, goal=goal, proxy_ms=proxy,
                           threshold=args.threshold, confidence=args.confidence, policy=args.policy, device=dev,
                           rng=args.seed, progress=sys.stderr.isatty(), **s)
        track = _track(job.result(), res) if job is not None else None
    nxt = pd.DataFrame({"device": dev, "arch_index": res.next_archs.astype(np.int64), "latency_ms": ""})
    if outs.get("out") is not None:
        outs.write_csv("out", nxt)
    if outs.get("plot") is not None:
        from latxfer.plots import plot_plan

        plot_plan(res, outs.get("plot"), overwrite=args.overwrite)
    if args.json:
        _print_json(args, res, track)
    else:
        _print_text(args, res, track, nxt)
    return C.EXIT_OK if res.reachable else C.EXIT_PROBLEMS


def _print_json(args, res, track) -> None:
    from latxfer.plan import track_verdict

    d = res.to_dict()
    d.update({"model": str(args.model), "proxy": args.proxy, "next_csv": args.out, "plot": args.plot})
    if track is not None:
        d["track_record"] = [{k: (v if k in ("srcc_pred", "expected_srcc_after") else int(v)) for k, v in r.items()}
                             for r in track.to_dict("records")]
        d["track_warning"] = track_verdict(track)
    C.print_json(d)


def _print_track(track) -> None:
    from latxfer.plan import track_verdict

    print(f"  track record (your measurements in file order, rounds of {int(track['n'].iloc[0])}, each "
          f"predicted from the rounds before it; inside = within the {track.attrs['prob']:.0%} interval):")
    tab = track.drop(columns=["below", "above"]).to_string(index=False, float_format=lambda v: f"{v:.3f}")
    print("    " + tab.replace("\n", "\n    "))
    later = track[track["n_before"] > 0]
    if len(later):
        print(f"  predicted from earlier measurements: {int(later['inside'].sum())} of {int(later['n'].sum())}"
              f" inside their interval ({int(later['below'].sum())} below, {int(later['above'].sum())} above)")
    warn = track_verdict(track)
    if warn:
        print(f"  WARNING: {warn}")


def _print_text(args, res, track, nxt) -> None:
    cur = res.current
    print(f"target {res.device}: {res.n_measured} measurement(s) so far; goal {res.goal}, confidence "
          f"{res.confidence:.0%}, batches of {res.batch}, policy {res.policy}")
    line = f"  now: expected SRCC of the adapted ranking {cur['expected_srcc']:.3f}"
    if "p_above" in cur:
        line += (f"; P(SRCC({args.proxy or 'proxy'}, target) >= {res.threshold:g}) = {cur['p_above']:.2f}"
                 f" -> {cur['decision']}")
    print(line)
    if track is not None:
        _print_track(track)
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
