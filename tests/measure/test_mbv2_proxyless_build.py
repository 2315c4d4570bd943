"""Builders of ``mbv2`` / ``proxyless``: built counts equal the analytic ones, ONNX equals JAX, the CLI measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import latxfer
from latxfer.cli import main
from latxfer.errors import UnknownArchitectureError
from latxfer.measure import build_network, load_measure_space
from latxfer.measure.build_mbv2 import build_mbconv


@pytest.fixture(scope="module", params=("mbv2", "proxyless"))
def space(request):
    return load_measure_space(request.param)


def test_counts_equal_analytic(space):
    """A few sampled architectures plus the one with most empty slots (skip / zero paths)."""
    idx = list(space.sample(3, rng=5)) + [int(np.argmax(space.op_counts(space.enumerate())[:, 6]))]
    for i in idx:
        net = build_network(space, int(i))
        assert net.n_params == pytest.approx(space.params(int(i))[0] * 1e6, abs=0.5), (space.name, i)
        assert net.macs == pytest.approx(space.flops(int(i))[0] * 1e6, abs=0.5), (space.name, i)
        assert net.output_shape == (1, 1000) and net.input_shape == (1, 224, 224, 3)
    assert build_network(space, int(idx[0]), batch_size=4).output_shape == (4, 1000)


def test_bad_ops_name_the_block(space):
    ops = list(space.ops(0)[0])
    ops[0] = 6
    with pytest.raises(UnknownArchitectureError, match=r"block 0 \(stage 0, slot 0\)"):
        build_mbconv(space, ops)


def test_onnx_matches_jax(space):
    import jax

    from latxfer.measure.backends import get_backend
    from latxfer.measure.export import onnx_params, to_onnx

    i = int(np.argmax(space.op_counts(space.enumerate())[:, 6]))  # includes skip / zero slots
    net = build_network(space, i)
    model = to_onnx(net)
    assert onnx_params(model) == net.n_params
    sess = get_backend("onnxruntime", "cpu", threads=1).session(model.SerializeToString())
    x = net.example_input(seed=3)
    y_ort = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    y_jax = np.asarray(jax.jit(net.apply)(net.params, x))
    assert y_ort.shape == y_jax.shape == (1, 1000)
    np.testing.assert_allclose(y_ort, y_jax, rtol=1e-4, atol=1e-5 * np.abs(y_jax).max())


def test_measure_cli_and_read_back(tmp_path):
    """``latxfer measure --space proxyless`` writes the tidy CSV that read_csv takes for this space."""
    out = tmp_path / "mine.csv"
    assert main(["measure", "--space", "proxyless", "--archs", "3,17", "--out", str(out), "--device-name",
                 "laptop", "--repeats", "3", "--warmup", "1", "--no-progress"]) == 0
    df = pd.read_csv(out)
    assert df["arch_index"].tolist() == [3, 17] and (df["latency_ms"] > 0).all()
    ds = latxfer.read_csv(out, space="proxyless")
    assert ds.attrs["space"] == "proxyless" and ds.sizes["arch"] == 2


def test_measure_cli_refuses_index_outside_sample(tmp_path, capsys):
    out = tmp_path / "mine.csv"
    assert main(["measure", "--space", "mbv2", "--archs", "1000", "--out", str(out), "--no-progress"]) != 0
    assert "1000" in capsys.readouterr().err and not out.exists()


def test_built_mobilenetv2_has_torchvision_parameter_count():
    """MobileNetV2 1.0 (depths 2, 3, 4, 3, 3 of k3_e6) built from raw op codes: 3,504,872 weights, 300.8 M MACs."""
    from latxfer.spaces import MBV2Space

    row = [op for d in (2, 3, 4, 3, 3) for op in [1] * d + [6] * (4 - d)] + [1]
    net = build_mbconv(MBV2Space(), row)
    assert net.n_params == 3_504_872 and net.macs == 300_774_272
