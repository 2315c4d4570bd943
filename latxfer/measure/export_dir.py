"""``latxfer export``: one ONNX file per architecture, ``DIR/<space>_<arch_index>.onnx``, and a manifest."""

from __future__ import annotations

import sys
from pathlib import Path

from latxfer.errors import ConfigError
from latxfer.outputs import write_store

__all__ = ["export_archs"]


def export_archs(space, archs, out_dir, *, fmt: str = "onnx", batch_size: int = 1, overwrite: bool = False,
                 seed: int = 0, progress: bool = True) -> Path:
    """Export architectures to ``out_dir`` with ``manifest.csv`` (``arch_index,file,params,flops``).

    ``params`` and ``flops`` are in millions, the units of the space's ``params()`` / ``flops()``, counted
    on the built network (parameters of its weights, multiply-accumulates per sample).  The directory is a
    latxfer store, written whole and moved into place at the end (an interrupted export leaves nothing).

    Parameters
    ----------
    space : SearchSpace
        The space with its table.
    archs : array-like of int
        Architecture indices.
    out_dir : path-like
        The directory to create.
    fmt : {"onnx"}
        File format.
    batch_size : int
        Leading dimension of the exported input.
    overwrite : bool
        Replace an existing export latxfer wrote.
    seed : int
        Seed of the random weights.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    OutputPathError, ConfigError, MissingBackendError, UnknownArchitectureError
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from latxfer.measure.backends import _require
    from latxfer.measure.builders import build_network
    from latxfer.measure.export import save_onnx

    if fmt != "onnx":
        raise ConfigError(f"--format {fmt!r}: only onnx is supported")
    archs = space.validate_indices(archs)
    for mod in ("jax2onnx", "onnx"):
        _require(mod)
    from latxfer.outputs import check_output

    check_output(out_dir, overwrite=overwrite, store=True)

    def write(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        rows = []
        for a in tqdm(archs.tolist(), unit="arch", desc="export", file=sys.stderr, disable=not progress):
            net = build_network(space, a, batch_size=batch_size, seed=seed)
            name = f"{space.name}_{a}.onnx"
            save_onnx(net, tmp / name)
            rows.append({"arch_index": a, "file": name, "params": net.n_params / 1e6, "flops": net.macs / 1e6})
        pd.DataFrame(rows, columns=["arch_index", "file", "params", "flops"]).to_csv(
            tmp / "manifest.csv", index=False, float_format="%.6f")

    return write_store(out_dir, write, kind="onnx-export", overwrite=overwrite)
