"""The built networks have the spaces' analytic parameter counts and FLOPs, and the right output shapes.

These checks catch a wrong skeleton: parameters are counted on the built weights, MACs from the traced
shapes of every convolution, linear layer and windowed pool; the reference is the space's own
``params()`` / ``flops()``.
"""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.errors import UnknownArchitectureError
from latxfer.measure import build_network
from latxfer.measure.builders import build_nb201
from latxfer.spaces import FBNetSpace


def _check(space, idx):
    for i in idx:
        net = build_network(space, int(i))
        assert net.n_params == pytest.approx(space.params(int(i))[0] * 1e6, abs=0.5), (space.name, i)
        assert net.macs == pytest.approx(space.flops(int(i))[0] * 1e6, abs=0.5), (space.name, i)
        assert net.output_shape == (1, space.n_classes)


def test_nb201_counts_equal_analytic(nb201):
    idx = np.random.default_rng(0).choice(nb201.n_archs, 8, replace=False)
    _check(nb201, idx)


def test_nb201_extremes_match_published_range(nb201):
    """All-none and all-conv3x3 cells: 0.073 / 1.532 M parameters and 7.78-220.11 MFLOPs (NB201's API).

    The MACs here are 7.808 and 220.144: 0.025-0.034 M above the API, whose counter apparently leaves out
    the two 2x2 shortcut pools (24,576 MACs); the parameters agree to the published three decimals.
    """
    small = build_nb201((0,) * 6)
    large = build_nb201((3,) * 6)
    assert round(small.n_params / 1e6, 3) == 0.073
    assert round(large.n_params / 1e6, 3) == 1.532
    assert large.macs / 1e6 == pytest.approx(220.11, abs=0.04)
    assert small.macs / 1e6 == pytest.approx(7.78, abs=0.03)


def test_fbnet_counts_equal_analytic_both_skeletons(fbnet, data_dir):
    assert fbnet.dataset == "imagenet" and fbnet.resolution == 224
    idx = np.random.default_rng(1).choice(fbnet.n_archs, 4, replace=False)
    _check(fbnet, idx)
    cifar = FBNetSpace(fbnet.arch_table, dataset="cifar100")
    _check(cifar, idx[:2])


def test_ofa_counts_equal_analytic(ofa):
    idx = np.random.default_rng(2).choice(ofa.n_archs, 4, replace=False)
    _check(ofa, idx)
    net = build_network(ofa, int(idx[0]))
    r = int(ofa.resolution(int(idx[0]))[0])
    assert net.input_shape == (1, r, r, 3)


def test_batch_size_and_out_of_space(nb201):
    net = build_network(nb201, 5, batch_size=4)
    assert net.input_shape == (4, 32, 32, 3) and net.output_shape == (4, 10)
    assert net.macs == pytest.approx(nb201.flops(5)[0] * 1e6, abs=0.5)  # per sample
    with pytest.raises(UnknownArchitectureError, match="15625"):
        build_network(nb201, 15625)


def test_disconnected_cell_builds_and_runs(nb201):
    """All edges into the output node none: the cell emits zeros; the network still builds and runs."""
    import jax

    ops = (3, 2, 1, 0, 0, 0)
    assert nb201.ops_disconnected(np.array([ops]))[0]
    net = build_nb201(ops)
    assert net.n_params == pytest.approx(nb201.ops_params(np.array([ops]))[0] * 1e6, abs=0.5)
    f = jax.jit(net.apply)
    y = np.asarray(f(net.params, net.example_input()))
    assert y.shape == (1, 10) and np.all(np.isfinite(y))
    # the output ignores the input: zeros flow through every cell
    y2 = np.asarray(f(net.params, net.example_input(seed=1)))
    np.testing.assert_allclose(y, y2, rtol=1e-6)
