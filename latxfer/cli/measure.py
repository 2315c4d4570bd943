"""``latxfer measure``: build and time the architectures a plan asks for, on this machine.

::

    latxfer measure --space SPACE --archs FILE_OR_LIST --out FILE.csv [--device-name NAME]
                    [--backend jax|onnxruntime] [--batch-size 1] [--repeats 20] [--warmup 5] [--threads N]
                    [--append] [--overwrite] [--keep-repeats]

A thin layer over :func:`latxfer.measure.measure`: rows are written as they are measured (Ctrl-C keeps
them; ``--append`` goes on where a run stopped), with ``FILE.csv.json`` beside the CSV.
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "measure"
HELP = "build and time architectures on this machine (jax or onnxruntime)"


def add_arguments(p) -> None:
    """Options of ``latxfer measure``."""
    C.add_build_flags(p)
    p.add_argument("--out", required=True, metavar="FILE.csv",
                   help="tidy CSV device,arch_index,latency_ms that --target-csv reads (+ FILE.csv.json)")
    p.add_argument("--device-name", default=None, metavar="NAME",
                   help="the device column (default: <backend>-<platform>)")
    p.add_argument("--backend", choices=["jax", "onnxruntime"], default="jax",
                   help="jax (XLA) or onnxruntime (needs `pip install \"latxfer[onnx]\"`) (default jax)")
    p.add_argument("--platform", choices=["auto", "cpu", "gpu"], default="auto",
                   help="device to time on (auto: a GPU when JAX sees one, else the CPU)")
    p.add_argument("--repeats", type=C.int_at_least(1), default=20, metavar="N",
                   help="timed calls per architecture, an integer >= 1; the median is reported (default 20)")
    p.add_argument("--warmup", type=C.int_at_least(0), default=5, metavar="N",
                   help="untimed calls after compiling, an integer >= 0 (default 5)")
    p.add_argument("--threads", type=C.int_at_least(1), default=None, metavar="N",
                   help="CPU threads of the runtime, an integer >= 1 (default: the runtime's own)")
    p.add_argument("--append", action="store_true",
                   help="add to --out, skipping architectures already in it")
    p.add_argument("--keep-repeats", action="store_true",
                   help="one row per timed call instead of their median")


def run(args) -> int:
    """Run ``latxfer measure``."""
    import shlex
    import sys

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
                  progress=C.progress(args), seed=args.seed,
                  command=shlex.join(["latxfer", *sys.argv[1:]]))
    msg = f"measured {len(res.measured)} architecture(s) into {res.out}"
    if res.skipped:
        msg += f" ({len(res.skipped)} already there, skipped)"
    if res.interrupted:
        print(f"latxfer: interrupted; {msg}; rerun with --append to measure the rest", file=sys.stderr)
        return 130
    print(msg, file=sys.stderr)
    return 0
