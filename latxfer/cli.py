"""The ``latxfer`` command line: one subcommand per capability, a thin layer over the public API.

Every command exits 0 on success, 1 when it ran but found problems (e.g. ``data validate``), and 2 with a
one-paragraph message (no traceback) on bad input.  ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_INPUT = 0, 1, 2

# Later capabilities register here: (name, add_arguments(parser), run(args) -> int, help)
_COMMANDS: list[tuple[str, Callable, Callable, str]] = []


def command(name: str, help: str):
    """Register a top-level subcommand: decorate ``run(args) -> int``; ``run.add_arguments`` adds options."""

    def deco(run):
        _COMMANDS.append((name, getattr(run, "add_arguments", lambda p: None), run, help))
        return run

    return deco


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=_json_default))


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ---------------------------------------------------------------------------------------------- data
def _data_list(args) -> int:
    from latxfer.data.datasets import DATASETS

    if args.json:
        _print_json([{"name": s.name, "space": s.space, "kind": s.kind, "shape": s.shape,
                      "description": s.description, "files": list(s.files), "citation": s.citation}
                     for s in DATASETS.values()])
        return EXIT_OK
    w = max(len(n) for n in DATASETS)
    for s in DATASETS.values():
        print(f"{s.name:<{w}}  {s.shape:>15}  {s.description}")
    return EXIT_OK


def _dataset_summary(ds) -> dict:
    import numpy as np

    if "latency" not in ds:
        return {
            "name": ds.attrs.get("name"), "space": ds.attrs.get("space"), "n_archs": int(ds.sizes["arch"]),
            "variables": {v: {"min": float(ds[v].min()), "max": float(ds[v].max()),
                              "missing_share": float(ds[v].isnull().mean())} for v in ds.data_vars},
        }
    lat = ds.latx.latency_matrix()
    devices = []
    for i, d in enumerate(ds.latx.devices):
        row = lat[i]
        fin = row[np.isfinite(row)]
        devices.append({
            "device": d, "kind": str(ds["device_kind"].values[i]), "batch_size": int(ds["batch_size"].values[i]),
            "simulated": bool(ds["simulated"].values[i]), "n_measured": int(fin.size),
            "missing_share": float(1 - fin.size / row.size),
            "min_ms": float(fin.min()) if fin.size else None,
            "median_ms": float(np.median(fin)) if fin.size else None,
            "max_ms": float(fin.max()) if fin.size else None,
            "n_distinct": int(np.unique(fin).size),
        })
    return {
        "name": ds.attrs.get("name"), "space": ds.attrs.get("space"), "provenance": ds.attrs.get("provenance"),
        "dims": {k: int(v) for k, v in ds["latency"].sizes.items()},
        "n_devices": len(devices), "n_archs": int(ds.sizes["arch"]),
        "missing_share": float(np.mean(~np.isfinite(lat))),
        "n_repeated_cells": int(ds.attrs.get("n_repeated_cells", 0)), "devices": devices,
    }


def _data_info(args) -> int:
    from latxfer.data.datasets import load_any, load_splits

    if args.name == "splits":
        sj = load_splits(args.data_dir)
        if args.json:
            _print_json(sj)
        else:
            for space, entries in sj.items():
                if space.startswith("_"):
                    continue
                for name, e in entries.items():
                    if name.startswith("_"):
                        continue
                    print(f"{space}/{name}: " + ", ".join(f"{k}={v}" for k, v in e.items()
                                                      if k in ("source", "target", "proxy")))
        return EXIT_OK
    ds = load_any(args.name, space=args.space, data_dir=args.data_dir)
    info = _dataset_summary(ds)
    if args.json:
        _print_json(info)
        return EXIT_OK
    print(f"{info['name']}  (space {info['space']})")
    if "devices" not in info:
        print(f"  {info['n_archs']} architectures")
        for v, s in info["variables"].items():
            print(f"  {v:<26} min {s['min']:8.3f}  max {s['max']:8.3f}  missing {s['missing_share']:.1%}")
        return EXIT_OK
    print(f"  {info['n_devices']} devices x {info['n_archs']} architectures"
          + (f" x {info['dims']['layer']} layers" if "layer" in info["dims"] else "")
          + f"; missing {info['missing_share']:.1%}")
    print(f"  {'device':<16}{'kind':<10}{'batch':>6}{'measured':>10}{'missing':>9}"
          f"{'min ms':>10}{'median ms':>11}{'max ms':>10}{'distinct':>10}")
    def fmt(x):
        return f"{x:10.3f}" if x is not None else f"{'-':>10}"

    for d in info["devices"]:
        print(f"  {d['device']:<16}{d['kind']:<10}{d['batch_size']:>6}{d['n_measured']:>10}"
              f"{d['missing_share']:>9.1%}{fmt(d['min_ms'])}{fmt(d['median_ms']):>11}{fmt(d['max_ms'])}"
              f"{d['n_distinct']:>10}")
    return EXIT_OK


def _data_validate(args) -> int:
    from latxfer.data.csvio import validate_csv

    problems = validate_csv(args.file, space=args.space, missing_values=args.missing_values)
    if args.json:
        _print_json({"file": args.file, "valid": not problems, "problems": [p.to_dict() for p in problems]})
    elif problems:
        print(f"{args.file}: {len(problems)} problem(s)")
        for i, p in enumerate(problems, 1):
            print(f"  {i}. [{p.error.__name__}] {p.message}")
    else:
        print(f"{args.file}: OK")
    return EXIT_PROBLEMS if problems else EXIT_OK


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="list, inspect, validate and fetch latency datasets")
    dsub = p.add_subparsers(dest="data_command", metavar="{list,info,validate,fetch}")
    dsub.required = True
    q = dsub.add_parser("list", help="registered datasets")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_data_list)
    q = dsub.add_parser("info", help="devices, architectures, missing share, per-device latency range")
    q.add_argument("name", help="dataset name (see `latxfer data list`) or a CSV file")
    q.add_argument("--space", default=None, help="search space of a CSV file")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_data_info)
    q = dsub.add_parser("validate", help="report every problem in a tidy latency CSV")
    q.add_argument("file")
    q.add_argument("--space", default=None, choices=["nb201", "fbnet", "ofa"],
                   help="check arch_index against this search space")
    q.add_argument("--missing-values", type=float, nargs="*", default=None, metavar="V",
                   help="latency values meaning 'not measured' (HW-NAS-Bench: -1)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_data_validate)
    from latxfer.data.fetch import add_fetch_subcommand

    add_fetch_subcommand(dsub)


from latxfer import cli_monotonicity as _cm  # noqa: E402

command("monotonicity", "rank correlation between devices, with intervals and a heatmap")(_cm.run)

from latxfer import cli_search as _cs  # noqa: E402

command("search", "multi-objective NAS (accuracy vs target latency) with Optuna")(_cs.run)


from latxfer import cli_model as _cmod  # noqa: E402

command("fit", "fit the Bayesian latency model on source devices")(_cmod.fit_cmd)
command("predict", "adapt to a new device and predict every architecture's latency")(_cmod.predict_cmd)
command("assess", "posterior SRCC between a proxy and a new device: reuse, adapt or measure more")(
    _cmod.assess_cmd)

from latxfer import cli_plan as _cp  # noqa: E402

command("plan", "how many target measurements, and which")(_cp.run)

from latxfer import cli_measure as _cmeas  # noqa: E402

command("measure", "build and time architectures on this machine (jax or onnxruntime)")(_cmeas.measure_cmd)
command("export", "export architectures to ONNX files with a manifest")(_cmeas.export_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``latxfer`` command (all subcommands)."""
    from latxfer import __version__

    parser = argparse.ArgumentParser(
        prog="latxfer",
        description="Cross-device latency transfer for hardware-aware NAS.",
    )
    parser.add_argument("--version", action="version", version=f"latxfer {__version__}")
    parser.add_argument("--data-dir", default=None,
                        help="data directory (default: $LATXFER_DATA, else the fetch cache)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_data(sub)
    for name, add_args, run, help_ in _COMMANDS:
        p = sub.add_parser(name, help=help_)
        add_args(p)
        p.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from latxfer.errors import LatxferError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LatxferError as exc:
        print(f"latxfer: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` etc.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover
        print("latxfer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
