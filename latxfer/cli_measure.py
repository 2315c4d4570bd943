"""``latxfer measure`` and ``latxfer export``: time or export the architectures a plan asks for.

::

    latxfer measure --space SPACE --archs FILE_OR_LIST --out FILE.csv [--device-name NAME]
                    [--backend jax|onnxruntime] [--batch-size 1] [--repeats 20] [--warmup 5] [--threads N]
                    [--append] [--overwrite] [--keep-repeats]
    latxfer export --space SPACE --archs FILE_OR_LIST --format onnx --out DIR

A thin layer over :mod:`latxfer.measure`.
"""

from __future__ import annotations

import shlex
import sys

__all__ = ["measure_cmd", "export_cmd"]


def _common(p) -> None:
    p.add_argument("--space", required=True, choices=["nb201", "fbnet", "ofa", "mbv2", "proxyless"], help="search space")
    p.add_argument("--archs", required=True,
                   help="a plan CSV (`latxfer plan --out`), any CSV with an arch_index column, or a comma "
                        "list of indices")
    p.add_argument("--batch-size", type=int, default=1, help="input batch (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (latency does not depend on them)")


def _add_measure(p) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="tidy CSV device,arch_index,latency_ms (+ FILE.csv.json)")
    p.add_argument("--device-name", default=None, help="the device column (default: <backend>-<platform>)")
    p.add_argument("--backend", choices=["jax", "onnxruntime"], default="jax",
                   help="jax (XLA) or onnxruntime (needs `pip install \"latxfer[onnx]\"`)")
    p.add_argument("--platform", choices=["auto", "cpu", "gpu"], default="auto",
                   help="device to time on (auto: a GPU when JAX sees one, else the CPU)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per architecture (median reported)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls after compiling")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the runtime (default: its own)")
    p.add_argument("--append", action="store_true", help="add to --out, skipping architectures already in it")
    p.add_argument("--keep-repeats", action="store_true", help="one row per timed call instead of the median")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def measure_cmd(args) -> int:
    """Run ``latxfer measure``."""
    from latxfer.errors import ConfigError
    from latxfer.measure import load_measure_space, measure, parse_archs

    if args.append and args.overwrite:
        raise ConfigError("--append and --overwrite exclude each other")
    space = load_measure_space(args.space, args.data_dir)
    archs, path = parse_archs(args.archs, space)
    res = measure(space, archs, args.out, backend=args.backend, platform=args.platform,
                  device_name=args.device_name, batch_size=args.batch_size, repeats=args.repeats,
                  warmup=args.warmup, threads=args.threads, append=args.append, overwrite=args.overwrite,
                  keep_repeats=args.keep_repeats, inputs=[path] if path else [],
                  progress=not args.no_progress, seed=args.seed,
                  command=shlex.join(["latxfer", *sys.argv[1:]]))
    n_old = len(res.skipped)
    msg = f"measured {len(res.measured)} architecture(s) into {res.out}"
    if n_old:
        msg += f" ({n_old} already there, skipped)"
    if res.interrupted:
        print(f"latxfer: interrupted; {msg}; rerun with --append to measure the rest", file=sys.stderr)
        return 130
    print(msg, file=sys.stderr)
    return 0


measure_cmd.add_arguments = _add_measure


def _add_export(p) -> None:
    _common(p)
    p.add_argument("--format", choices=["onnx"], default="onnx", help="file format (onnx)")
    p.add_argument("--out", required=True, help="directory to create: <space>_<arch_index>.onnx + manifest.csv")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def export_cmd(args) -> int:
    """Run ``latxfer export``."""
    from latxfer.measure import export_archs, load_measure_space, parse_archs

    space = load_measure_space(args.space, args.data_dir)
    archs, _ = parse_archs(args.archs, space)
    out = export_archs(space, archs, args.out, fmt=args.format, batch_size=args.batch_size,
                       overwrite=args.overwrite, seed=args.seed, progress=not args.no_progress)
    print(f"exported {len(archs)} architecture(s) to {out} (manifest.csv)", file=sys.stderr)
    return 0


export_cmd.add_arguments = _add_export
