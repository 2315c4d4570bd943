"""ONNX export: the exported file computes what the JAX network computes, with the same weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latxfer.cli import main
from latxfer.measure import build_network
from latxfer.measure.backends import get_backend
from latxfer.measure.export import onnx_params, to_onnx


def _compare(net):
    import jax

    model = to_onnx(net)
    assert onnx_params(model) == net.n_params
    sess = get_backend("onnxruntime", "cpu", threads=1).session(model.SerializeToString())
    x = net.example_input(seed=3)
    y_ort = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    y_jax = np.asarray(jax.jit(net.apply)(net.params, x))
    assert y_ort.shape == y_jax.shape == net.output_shape
    # NB201's parameter-free paths (skip, pool) add up over 15 cells: compare relative to the output scale
    np.testing.assert_allclose(y_ort, y_jax, rtol=1e-4, atol=1e-5 * np.abs(y_jax).max())


def test_nb201_onnx_matches_jax(nb201):
    idx = nb201.index_of("|avg_pool_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|")
    _compare(build_network(nb201, idx))


def test_fbnet_group_block_onnx_matches_jax(fbnet):
    """An FBNet architecture with a group-2 block (channel shuffle) and a strided skip."""
    ops = fbnet.arch_table
    idx = int(np.flatnonzero((ops == 1).any(axis=1) | (ops == 5).any(axis=1))[0])
    _compare(build_network(fbnet, idx))


def test_ofa_onnx_matches_jax(ofa):
    """The smallest-resolution OFA subnet (SE blocks, h_swish)."""
    idx = int(np.argmin(ofa.arch_table["r"]))
    _compare(build_network(ofa, idx))


def test_export_cli_writes_files_and_manifest(tmp_path, nb201):
    out = tmp_path / "onnx"
    assert main(["export", "--space", "nb201", "--archs", "7581,649", "--format", "onnx", "--out", str(out),
                 "--no-progress"]) == 0
    man = pd.read_csv(out / "manifest.csv")
    assert list(man.columns) == ["arch_index", "file", "params", "flops"]
    assert man["file"].tolist() == ["nb201_7581.onnx", "nb201_649.onnx"]
    np.testing.assert_allclose(man["params"], nb201.params([7581, 649]), atol=1e-6)
    np.testing.assert_allclose(man["flops"], nb201.flops([7581, 649]), atol=1e-6)
    import onnx

    m = onnx.load(str(out / "nb201_649.onnx"))
    assert onnx_params(m) == pytest.approx(nb201.params(649)[0] * 1e6, abs=0.5)
    before = sorted(p.name for p in out.iterdir())
    # an existing export is refused without --overwrite, untouched
    assert main(["export", "--space", "nb201", "--archs", "1", "--out", str(out), "--no-progress"]) == 2
    assert sorted(p.name for p in out.iterdir()) == before
    # a directory latxfer did not write is refused even with --overwrite
    (tmp_path / "mine").mkdir()
    assert main(["export", "--space", "nb201", "--archs", "1", "--out", str(tmp_path / "mine"),
                 "--overwrite", "--no-progress"]) == 2
