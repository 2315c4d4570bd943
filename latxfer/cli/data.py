"""``latxfer data list | info | validate | fetch``: the registered datasets, a summary, a CSV check, a download.

::

    latxfer data list [--json]
    latxfer data info NAME|FILE [--space SPACE] [--json]
    latxfer data validate FILE [--space SPACE] [--missing-values V ...] [--json]
    latxfer data fetch NAME ... [--cache-dir DIR] [--mirror URL] [--json]

``validate`` exits 1 when the file has problems (each named with its line), 0 when it is clean.
"""

from __future__ import annotations

from latxfer.cli import _common as C
from latxfer.cli import fetch as _fetch

NAME = "data"
HELP = "list, inspect, validate and fetch latency datasets"


def add_arguments(p) -> None:
    """Options of ``latxfer data`` and its subcommands."""
    sub = p.add_subparsers(dest="data_command", metavar="{list,info,validate,fetch}", parser_class=C.Parser)
    sub.required = True
    q = sub.add_parser("list", help="registered datasets")
    C.add_flag(q, "--json")
    q.set_defaults(run=run_list)
    q = sub.add_parser("info", help="devices, architectures, missing share, per-device latency range")
    q.add_argument("name", metavar="NAME|FILE", help="dataset name (see `latxfer data list`), 'splits', or a CSV file")
    C.add_flag(q, "--space", "of a CSV file (default: its space column)")
    C.add_flag(q, "--json")
    q.set_defaults(run=run_info)
    q = sub.add_parser("validate", help="report every problem in a tidy latency CSV")
    q.add_argument("file", metavar="FILE", help="the tidy CSV device,arch_index,latency_ms[,layer,op,space]")
    C.add_flag(q, "--space", "check arch_index against it (default: the file's space column)")
    q.add_argument("--missing-values", type=C.finite_float, nargs="*", default=None, metavar="V",
                   help="latency values meaning 'not measured' (HW-NAS-Bench: -1)")
    C.add_flag(q, "--allow-implausible")
    C.add_flag(q, "--json")
    q.set_defaults(run=run_validate)
    q = sub.add_parser(_fetch.NAME, help=_fetch.HELP)
    _fetch.add_arguments(q)
    q.set_defaults(run=_fetch.run)


def run(args) -> int:  # pragma: no cover - argparse dispatches to the subcommand's own run
    """Run the chosen ``data`` subcommand."""
    return args.run(args)


def run_list(args) -> int:
    """``latxfer data list``."""
    from latxfer.data.datasets import DATASETS

    if args.json:
        C.print_json([{"name": s.name, "space": s.space, "kind": s.kind, "shape": s.shape,
                       "description": s.description, "files": list(s.files), "citation": s.citation}
                      for s in DATASETS.values()])
        return C.EXIT_OK
    w = max(len(n) for n in DATASETS)
    for s in DATASETS.values():
        print(f"{s.name:<{w}}  {s.shape:>15}  {s.description}")
    return C.EXIT_OK


def _fmin(a):
    return float(a.min()) if a.size else None


def dataset_summary(ds) -> dict:
    """The summary ``latxfer data info`` prints: sizes, missing shares, per-device latency ranges."""
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
            "missing_share": float(1 - fin.size / row.size), "min_ms": _fmin(fin),
            "median_ms": float(np.median(fin)) if fin.size else None,
            "max_ms": float(fin.max()) if fin.size else None, "n_distinct": int(np.unique(fin).size),
        })
    return {
        "name": ds.attrs.get("name"), "space": ds.attrs.get("space"), "provenance": ds.attrs.get("provenance"),
        "dims": {k: int(v) for k, v in ds["latency"].sizes.items()},
        "n_devices": len(devices), "n_archs": int(ds.sizes["arch"]),
        "missing_share": float(np.mean(~np.isfinite(lat))),
        "n_repeated_cells": int(ds.attrs.get("n_repeated_cells", 0)), "devices": devices,
    }


def _print_splits(sj) -> None:
    for space, entries in sj.items():
        if space.startswith("_"):
            continue
        for name, e in entries.items():
            if not name.startswith("_"):
                print(f"{space}/{name}: " + ", ".join(f"{k}={v}" for k, v in e.items()
                                                  if k in ("source", "target", "proxy")))


def _print_info(info) -> None:
    print(f"{info['name']}  (space {info['space']})")
    if "devices" not in info:
        print(f"  {info['n_archs']} architectures")
        for v, s in info["variables"].items():
            print(f"  {v:<26} min {s['min']:8.3f}  max {s['max']:8.3f}  missing {s['missing_share']:.1%}")
        return
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


def run_info(args) -> int:
    """``latxfer data info``."""
    from latxfer.data.datasets import load_any, load_splits

    if args.name == "splits":
        sj = load_splits(args.data_dir)
        if args.json:
            C.print_json(sj)
        else:
            _print_splits(sj)
        return C.EXIT_OK
    info = dataset_summary(load_any(args.name, space=args.space, data_dir=args.data_dir))
    if args.json:
        C.print_json(info)
    else:
        _print_info(info)
    return C.EXIT_OK


def run_validate(args) -> int:
    """``latxfer data validate``: exit 1 when the file has problems."""
    from latxfer.data.csvio import validate_csv

    problems = validate_csv(args.file, space=args.space, missing_values=args.missing_values,
                            allow_implausible=args.allow_implausible)
    if args.json:
        C.print_json({"file": args.file, "valid": not problems, "problems": [p.to_dict() for p in problems]})
    elif problems:
        print(f"{args.file}: {len(problems)} problem(s)")
        for i, p in enumerate(problems, 1):
            print(f"  {i}. [{p.error.__name__}] {p.message}")
    else:
        print(f"{args.file}: OK")
    return C.EXIT_PROBLEMS if problems else C.EXIT_OK
