"""``latxfer export``: one ONNX file per architecture, to run on a phone or an edge runtime.

::

    latxfer export --space SPACE --archs FILE_OR_LIST --format onnx --out DIR

Writes ``DIR/<space>_<arch_index>.onnx`` and ``DIR/manifest.csv`` (``arch_index,file,params,flops``)
through :func:`latxfer.measure.export_archs`, as one store written all at once.
"""

from __future__ import annotations

from latxfer.cli import _common as C

NAME = "export"
HELP = "export architectures as ONNX files (one per architecture, with a manifest)"


def add_arguments(p) -> None:
    """Options of ``latxfer export``."""
    C.add_build_flags(p)
    p.add_argument("--format", choices=["onnx"], default="onnx", help="file format (default onnx)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="directory to create: <space>_<arch_index>.onnx + manifest.csv")


def run(args) -> int:
    """Run ``latxfer export``."""
    import sys

    from latxfer.measure import export_archs, load_measure_space, parse_archs

    space = load_measure_space(args.space, args.data_dir)
    archs, _ = parse_archs(args.archs, space)
    out = export_archs(space, archs, args.out, fmt=args.format, batch_size=args.batch_size,
                       overwrite=args.overwrite, seed=args.seed, progress=C.progress(args))
    print(f"exported {len(archs)} architecture(s) to {out} (manifest.csv)", file=sys.stderr)
    return 0
