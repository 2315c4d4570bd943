"""The ``mbv2`` and ``proxyless`` spaces: codes, the fixed table, sampling, encodings, counts and bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from latxfer.errors import ConfigError, UnknownArchitectureError
from latxfer.spaces import MBV2Space, ProxylessSpace, get_space
from latxfer.spaces.mbv2 import default_table

SPACES = ("mbv2", "proxyless")


@pytest.fixture(scope="module", params=SPACES)
def space(request):
    return get_space(request.param)


def _mbv2_ops(depths, op=1, last=1):
    row = []
    for d in depths:
        row += [op] * d + [6] * (4 - d)
    return [*row, last]


def test_mobilenetv2_is_in_mbv2_with_torchvision_counts():
    """Depths 2, 3, 4, 3, 3 of k3_e6 blocks and the k3_e6 320 block are MobileNetV2 1.0: torchvision's
    ``mobilenet_v2`` has 3,504,872 parameters and 300.8 M multiply-adds (the paper's 300 M) at 224."""
    s = MBV2Space(np.array([_mbv2_ops((2, 3, 4, 3, 3))]))
    assert s.params(0)[0] * 1e6 == pytest.approx(3_504_872, abs=0.5)
    assert s.flops(0)[0] == pytest.approx(300.774272, abs=1e-6)


def test_proxyless_extremes():
    """Smallest: every optional slot zero, k3_e3 elsewhere; largest: k7_e6 everywhere."""
    s = ProxylessSpace(np.array([[0 if j == 0 else 6 for n in (4, 4, 4, 4, 4, 1) for j in range(n)],
                                 [5] * 21]))
    small, large = s.flops([0, 1])
    assert small < 200 < 500 < large
    assert s.params(0)[0] < s.params(1)[0]
    assert s.op_counts(0)[0].tolist() == [6, 0, 0, 0, 0, 0, 15]


def test_fixed_table_is_reproducible(space):
    """The default table is the seeded sample: 1,000 distinct rows, the same bytes every time."""
    t = space.arch_table
    assert t.shape == (1000, 21) and len({r.tobytes() for r in t}) == 1000
    assert np.array_equal(t, default_table(type(space)))
    digest = hashlib.sha256(np.ascontiguousarray(t).tobytes()).hexdigest()[:12]
    assert digest == {"mbv2": MBV2_DIGEST, "proxyless": PROXYLESS_DIGEST}[space.name]
    other = default_table(type(space), n=50, seed=1)
    assert not np.array_equal(other, t[:50])


def test_code_round_trip(space, tmp_path):
    idx = space.sample(20, rng=0)
    codes = space.code(idx)
    assert np.array_equal(space.index_of(codes), idx)
    for i, c in zip(idx, codes, strict=True):
        assert np.array_equal(space.parse_code(c), space.ops(i)[0])
        assert space.ops_to_code(space.parse_code(c)) == c
    path = tmp_path / "archs.csv"
    space.archs_frame().to_csv(path, index=False)
    again = type(space).from_archs_csv(path)
    assert np.array_equal(again.arch_table, space.arch_table)


def test_sampling_is_seeded_and_uniform_per_choice(space):
    assert np.array_equal(space.sample(30, rng=4), space.sample(30, rng=4))
    ops = type(space).random_ops(6000, rng=0)
    type(space)._check_ops(ops, "sample")  # every draw is in the space
    first = ops[:, 0]  # an always-present slot: 6 ops, each ~1/6
    assert np.allclose(np.bincount(first, minlength=6) / len(first), 1 / 6, atol=0.02)
    if space.name == "proxyless":  # optional slot: 7 levels, zero ~ 1/7
        assert np.mean(ops[:, 1] == 6) == pytest.approx(1 / 7, abs=0.02)
    else:  # depth 2, 3, 4 each ~ 1/3: slot 2 skipped 1/3, slot 3 skipped 2/3
        assert np.mean(ops[:, 2] == 6) == pytest.approx(1 / 3, abs=0.02)
        assert np.mean(ops[:, 3] == 6) == pytest.approx(2 / 3, abs=0.02)


def test_encodings_identifiable(space):
    idx = space.enumerate()
    names = space.feature_names("reference")
    X = space.encode(idx, "reference")
    assert X.shape == (1000, len(names))
    n_opt = int(type(space).optional().sum())
    assert len(names) == 21 * 6 - (21 - n_opt)  # 6 kept columns per optional slot, 5 per present one
    design = np.column_stack([np.ones(len(idx)), X])
    assert np.linalg.matrix_rank(design) == design.shape[1]
    Z = space.encode(idx, "sum_to_zero")
    assert np.linalg.matrix_rank(np.column_stack([np.ones(len(idx)), Z])) == design.shape[1]
    H = space.encode(idx, "onehot")
    starts = np.cumsum([0] + [len(f.levels) for f in space._factors()])
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        assert np.all(H[:, a:b].sum(axis=1) == 1)
    ref = space.reference_ops()
    assert ref["block0"] == "k3_e3" and ref["block1"] == ("zero" if space.name == "proxyless" else "k3_e3")
    assert ref["block3"] == space.empty_name


def test_flops_params_additive_and_ordered(space):
    idx = space.enumerate()
    f, p = space.flops(idx), space.params(idx)
    assert np.all(np.isfinite(f)) and np.all(f > 100) and np.all(p > 1.5)
    counts = space.op_counts(idx)
    assert np.all(counts.sum(axis=1) == 21)
    # more empty slots, fewer FLOPs on average (a real ordering, not a tautology of the formula)
    assert np.corrcoef(counts[:, 6], f)[0, 1] < -0.3


@pytest.mark.parametrize(
    ("name", "code_edit", "needle"),
    [
        ("mbv2", (0, "skip"), "block 0 (stage 0, slot 0) is 'skip'"),
        ("mbv2", (2, "skip"), "block 3 (stage 0, slot 3) is"),  # slot 3 used after a skipped slot 2
        ("mbv2", (5, "k9_e3"), "block 5 (stage 1, slot 1): unknown op 'k9_e3'"),
        ("mbv2", (20, "skip"), "block 20 (stage 5, slot 0) is 'skip'"),
        ("proxyless", (4, "zero"), "block 4 (stage 1, slot 0) is 'zero'"),
        ("proxyless", (1, "skip"), "block 1 (stage 0, slot 1): unknown op 'skip'"),
        ("proxyless", (20, "zero"), "block 20 (stage 5, slot 0) is 'zero'"),
    ],
)
def test_bad_codes_name_block_and_value(name, code_edit, needle):
    base = {"mbv2": "-".join(["k3_e6"] * 21), "proxyless": "-".join(["k5_e3"] * 21)}[name]
    tokens = base.split("-")
    b, value = code_edit
    tokens[b] = value
    with pytest.raises(UnknownArchitectureError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        get_space(name).parse_code("-".join(tokens))


def test_other_bad_input(space):
    cls = type(space)
    with pytest.raises(UnknownArchitectureError, match="has 3 blocks; expected 21"):
        cls.parse_code("k3_e3-k3_e3-k3_e3")
    with pytest.raises(UnknownArchitectureError, match="not among the 1000 architectures"):
        space.index_of("-".join(["k7_e6"] * 21))
    with pytest.raises(UnknownArchitectureError, match=r"out of range \[0, 999\]"):
        space.flops([1000])
    with pytest.raises(UnknownArchitectureError, match="row 1, block 2 .* op code 9"):
        cls(np.array([[0] * 21, [0, 0, 9] + [0] * 18]))
    with pytest.raises(UnknownArchitectureError, match=r"shape \(n_archs, 21\)"):
        cls(np.zeros((3, 20), dtype=int))
    with pytest.raises(ConfigError, match="cannot sample 1001"):
        space.sample(1001)


def test_bad_archs_csv_names_file_and_row(tmp_path, space):
    path = tmp_path / "archs.csv"
    df = space.archs_frame().head(5)
    df.loc[3, "code"] = df.loc[3, "code"].replace("k", "q", 1)
    df.to_csv(path, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"archs\.csv', arch_id=3: .*block 0.*unknown op 'q"):
        type(space).from_archs_csv(path)


MBV2_DIGEST = "97bc13b228fd"  # sha256 of the int64 table bytes
PROXYLESS_DIGEST = "eb07562f13c2"
