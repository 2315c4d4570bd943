"""Tests of latxfer.spaces against the real architecture tables of the shared data directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from latxfer.errors import (
    ConfigError,
    DataFileNotFoundError,
    LatxferError,
    MissingColumnError,
    UnknownArchitectureError,
    UnknownSpaceError,
)
from latxfer.spaces import (
    SPACES,
    FBNetSpace,
    NB201Space,
    OFASpace,
    SearchSpace,
    get_space,
)

CODINGS = ("reference", "sum_to_zero", "onehot")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def nb201_csv(data_dir):
    return pd.read_csv(data_dir / "nb201" / "archs.csv")


@pytest.fixture(scope="module")
def nb201(data_dir):
    return NB201Space.from_archs_csv(data_dir / "nb201" / "archs.csv")


@pytest.fixture(scope="module")
def fbnet(data_dir):
    return FBNetSpace.from_archs_csv(data_dir / "fbnet" / "archs.csv")


@pytest.fixture(scope="module")
def ofa(data_dir):
    return OFASpace.from_archs_csv(data_dir / "ofa" / "archs.csv")


@pytest.fixture(scope="module")
def spaces(nb201, fbnet, ofa):
    return {"nb201": nb201, "fbnet": fbnet, "ofa": ofa}


def _latency(data_dir, space: str, device: str) -> pd.Series:
    lat = pd.read_csv(data_dir / space / "latency_help.csv.gz")
    lat = lat[lat["device"] == device]
    return lat.set_index("arch_index")["latency_ms"]


# ------------------------------------------------------------------ registry
def test_registry_and_get_space():
    assert set(SPACES) == {"nb201", "fbnet", "ofa", "mbv2", "proxyless"}  # mbv2 / proxyless: issue 31
    for name, cls in SPACES.items():
        space = get_space(name)
        assert isinstance(space, cls) and isinstance(space, SearchSpace)
        assert space.name == name
        assert space.has_table == (name in ("mbv2", "proxyless"))  # their table is latxfer's fixed sample
    assert isinstance(get_space("NB201"), NB201Space)
    with pytest.raises(UnknownSpaceError, match=r"'nb101'.*\['fbnet', 'mbv2', 'nb201', 'ofa', 'proxyless'\]"):
        get_space("nb101")


def test_space_attributes(spaces):
    expected = {
        "nb201": (15625, "edge", 6, 5),
        "fbnet": (5000, "layer", 22, 9),
        "ofa": (5000, "block", 20, 10),
    }
    for name, (n_archs, dim, n_pos, n_ops) in expected.items():
        space = spaces[name]
        assert (space.n_archs, space.position_dim, space.n_positions, space.n_ops) == (
            n_archs,
            dim,
            n_pos,
            n_ops,
        )
        assert len(space.op_names) == n_ops
        np.testing.assert_array_equal(space.enumerate(), np.arange(n_archs))
        assert space.ops(space.enumerate()).shape == (n_archs, n_pos)
    assert spaces["nb201"].op_names == (
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    )


def test_fbnet_op_names_match_ops_csv(data_dir, fbnet):
    ops = pd.read_csv(data_dir / "fbnet" / "ops.csv")
    assert tuple(ops.sort_values("op")["name"]) == fbnet.op_names
    np.testing.assert_array_equal(
        fbnet.arch_table,
        pd.read_csv(data_dir / "fbnet" / "archs.csv").filter(like="op_l").to_numpy(),
    )


# --------------------------------------------------------------------- NB201
def test_nb201_round_trips_all_archs(nb201, nb201_csv):
    table = nb201_csv[[f"op_e{e}" for e in range(6)]].to_numpy()
    strs = nb201_csv["arch_str"].tolist()
    ids = nb201_csv["arch_id"].to_numpy()
    np.testing.assert_array_equal(nb201.ops(ids), table)
    assert [NB201Space.str_to_ops(s) for s in strs] == [tuple(r) for r in table.tolist()]
    assert [NB201Space.ops_to_str(r) for r in table] == strs
    assert [nb201.index_of(s) for s in strs] == ids.tolist()
    np.testing.assert_array_equal(nb201.index_of(table), ids)
    assert nb201.arch_str(ids) == strs
    assert nb201.arch_str(int(ids[7])) == strs[7]
    assert nb201.index_of(tuple(table[3])) == ids[3]
    # all 5**6 cells, each once
    assert len(set(strs)) == 15625


def test_nb201_string_conversion_without_table():
    space = NB201Space()
    s = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert space.str_to_ops(s) == (3, 0, 1, 4, 2, 0)
    assert space.ops_to_str((3, 0, 1, 4, 2, 0)) == s
    assert space.n_archs == 15625
    with pytest.raises(ConfigError, match="without an architecture table"):
        space.ops(0)
    with pytest.raises(ConfigError, match="from_archs_csv"):
        space.index_of(s)
    with pytest.raises(ConfigError):
        space.encode([0, 1])
    with pytest.raises(ConfigError):
        space.arch_table  # noqa: B018


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "|nor_conv_3x3~0|",
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|",
        "|conv~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
        "|nor_conv_3x3~1|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
        "|nor_conv_3x3~0|+|none~0|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
        "nor_conv_3x3~0+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|+|x~0|",
    ],
)
def test_nb201_invalid_strings(bad):
    with pytest.raises(UnknownArchitectureError, match=r"expected '\|op~0\|\+\|op~0\|op~1\|"):
        NB201Space.str_to_ops(bad)


def test_nb201_invalid_ops():
    for bad in [(0, 1, 2), (0, 1, 2, 3, 4, 5), (0.0, 1, 2, 3, 4, 0)]:
        with pytest.raises(UnknownArchitectureError, match="6 op codes in 0..4"):
            NB201Space.ops_to_str(bad)
    with pytest.raises(UnknownArchitectureError):
        NB201Space.str_to_ops(None)  # type: ignore[arg-type]


def test_nb201_index_of_missing_arch():
    space = NB201Space(np.array([[0, 0, 0, 0, 0, 0], [3, 3, 3, 3, 3, 3]]))
    assert space.index_of((3,) * 6) == 1
    with pytest.raises(UnknownArchitectureError, match="not in the architecture table"):
        space.index_of((1,) * 6)
    with pytest.raises(UnknownArchitectureError, match="more than once"):
        NB201Space(np.zeros((2, 6), dtype=int))


def _disconnected_bruteforce(ops: np.ndarray) -> np.ndarray:
    edges = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    out = []
    for row in ops:
        adj = np.zeros((4, 4), dtype=int)
        for e, (dst, src) in enumerate(edges):
            adj[src, dst] = int(row[e] != 0)
        reach = np.linalg.matrix_power(adj + np.eye(4, dtype=int), 3)
        out.append(reach[0, 3] == 0)
    return np.array(out)


def test_nb201_is_disconnected(nb201):
    ops = nb201.ops(nb201.enumerate())
    disc = nb201.is_disconnected(nb201.enumerate())
    np.testing.assert_array_equal(disc, _disconnected_bruteforce(ops))
    f = NB201Space.str_to_ops
    assert NB201Space.ops_disconnected(f("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")).all()
    assert not NB201Space.ops_disconnected(
        f("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    ).any()
    assert NB201Space.ops_disconnected(
        f("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|")
    ).all()
    assert not NB201Space.ops_disconnected(
        f("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
    ).any()
    assert 0 < disc.sum() < 15625 / 2


# ----------------------------------------------------------------- encodings
@pytest.mark.parametrize("name", ["nb201", "fbnet", "ofa"])
@pytest.mark.parametrize("coding", ["reference", "sum_to_zero"])
def test_identifiable_codings_have_full_rank(spaces, name, coding):
    space = spaces[name]
    X = space.encode(space.enumerate(), coding)
    assert X.dtype == np.float64
    assert X.shape == (space.n_archs, len(space.feature_names(coding)))
    design = np.column_stack([np.ones(space.n_archs), X])
    assert np.linalg.matrix_rank(design) == design.shape[1]


@pytest.mark.parametrize("name", ["nb201", "fbnet", "ofa"])
def test_onehot_is_rank_deficient_with_intercept(spaces, name):
    space = spaces[name]
    X = space.encode(space.enumerate(), "onehot")
    n_factors = space.n_positions + (1 if name == "ofa" else 0)
    assert X.shape[1] == len(space.feature_names("reference")) + n_factors
    np.testing.assert_array_equal(X.sum(axis=1), n_factors)  # one hot per factor
    design = np.column_stack([np.ones(space.n_archs), X])
    assert np.linalg.matrix_rank(design) == design.shape[1] - n_factors


def test_encodings_nb201_values(nb201):
    idx = np.array([0, 1, 2])
    ops = nb201.ops(idx)
    names = nb201.feature_names("reference")
    assert names[:4] == [
        "edge0=skip_connect",
        "edge0=nor_conv_1x1",
        "edge0=nor_conv_3x3",
        "edge0=avg_pool_3x3",
    ]
    assert nb201.reference_ops() == {f"edge{e}": "none" for e in range(6)}
    ref = nb201.encode(idx, "reference").reshape(3, 6, 4)
    onehot = nb201.encode(idx, "onehot").reshape(3, 6, 5)
    stz = nb201.encode(idx, "sum_to_zero").reshape(3, 6, 4)
    np.testing.assert_array_equal(onehot.argmax(axis=2), ops)
    np.testing.assert_array_equal(ref, onehot[:, :, 1:])
    is_ref = ops == 0
    np.testing.assert_array_equal(stz[~is_ref], ref[~is_ref])
    assert (stz[is_ref] == -1).all()
    # a cell with 'none' everywhere
    none_idx = nb201.index_of((0,) * 6)
    assert (nb201.encode(none_idx, "reference") == 0).all()
    assert (nb201.encode(none_idx, "sum_to_zero") == -1).all()
    with pytest.raises(ConfigError, match="unknown coding 'dummy'"):
        nb201.encode(idx, "dummy")
    with pytest.raises(ConfigError):
        nb201.feature_names("dummy")


def test_reference_levels(fbnet, ofa):
    assert set(fbnet.reference_ops().values()) == {"skip"}
    refs = ofa.reference_ops()
    assert refs["block0"] == "k3_e3" and refs["block2"] == "skip" and refs["r"] == "128"
    assert "block0=skip" not in ofa.feature_names("onehot")
    assert "block3=skip" in ofa.feature_names("onehot")


def test_op_counts(spaces):
    for space in spaces.values():
        idx = space.sample(50, np.random.default_rng(0))
        counts = space.op_counts(idx)
        assert counts.shape == (50, space.n_ops)
        np.testing.assert_array_equal(counts.sum(axis=1), space.n_positions)
        ops = space.ops(idx)
        np.testing.assert_array_equal(counts[:, 1], (ops == 1).sum(axis=1))


def test_ofa_ops_mark_unused_blocks(ofa, data_dir):
    d = ofa.arch_table["d"]
    ops = ofa.ops(ofa.enumerate())
    np.testing.assert_array_equal((ops == 9).sum(axis=1), 20 - d.sum(axis=1))
    raw = pd.read_csv(data_dir / "ofa" / "archs.csv").iloc[0]
    ks, e = json.loads(raw["ks"]), json.loads(raw["e"])
    assert ofa.op_names[ops[0, 0]] == f"k{ks[0]}_e{e[0]}"
    assert ofa.resolution(0)[0] == raw["r"]


# --------------------------------------------------------------------- costs
def test_nb201_flops_params_match_nasbench201(nb201):
    fl = nb201.flops(nb201.enumerate())
    pa = nb201.params(nb201.enumerate())
    # NAS-Bench-201 API, CIFAR-10: 7.78 - 220.11 MFLOPs, 0.073 - 1.531 M params
    assert fl.min() == pytest.approx(7.81, abs=0.05)
    assert fl.max() == pytest.approx(220.11, abs=0.1)
    assert pa.min() == pytest.approx(0.073, abs=0.001)
    assert pa.max() == pytest.approx(1.531, abs=0.002)
    assert fl[nb201.index_of((3,) * 6)] == fl.max()


def test_nb201_flops_monotone(nb201):
    rng = np.random.default_rng(1)
    ops = rng.integers(0, 5, size=(200, 6))
    for e in range(6):
        f = {}
        for op in range(5):
            o = ops.copy()
            o[:, e] = op
            f[op] = nb201.ops_flops(o)
        np.testing.assert_array_equal(f[0], f[1])  # none and skip are free
        assert (f[4] > f[1]).all() and (f[2] > f[4]).all() and (f[3] > f[2]).all()


def test_fbnet_flops_monotone(fbnet):
    rng = np.random.default_rng(2)
    ops = rng.integers(0, 9, size=(100, 22))
    code = {n: i for i, n in enumerate(fbnet.op_names)}
    changes_shape = {
        i for i, (cin, cout, s, _) in enumerate(fbnet.layer_shapes()) if cin != cout or s != 1
    }
    assert changes_shape == {1, 5, 9, 13, 17, 21}  # CIFAR-100: layer 1 keeps stride 1
    for layer in range(22):
        f = {}
        for name, op in code.items():
            o = ops.copy()
            o[:, layer] = op
            f[name] = fbnet.ops_flops(o)
        for k in (3, 5):
            assert (f[f"k{k}_e1"] < f[f"k{k}_e3"]).all()
            assert (f[f"k{k}_e3"] < f[f"k{k}_e6"]).all()
            assert (f[f"k{k}_e1_g2"] < f[f"k{k}_e1"]).all()
            assert (f["skip"] < f[f"k{k}_e1"]).all()
            if layer not in changes_shape:  # else skip is a strided 1x1 conv, may beat g2
                assert (f["skip"] < f[f"k{k}_e1_g2"]).all()
        for e in ("e1", "e1_g2", "e3", "e6"):
            assert (f[f"k3_{e}"] < f[f"k5_{e}"]).all()
    fl = fbnet.flops(fbnet.enumerate())
    assert 20 < fl.min() < fl.max() < 130  # CIFAR-100 macro network
    imagenet = FBNetSpace(fbnet.arch_table, dataset="imagenet").flops(fbnet.enumerate())
    assert 100 < imagenet.min() < imagenet.max() < 450
    assert (fbnet.params(fbnet.enumerate()) > 0).all()
    with pytest.raises(ConfigError, match="cifar100"):
        FBNetSpace(dataset="mnist")


def _ofa_table(ks=5, e=4, d=3, r=176, n=1):
    return {
        "ks": np.full((n, 20), ks),
        "e": np.full((n, 20), e),
        "d": np.full((n, 5), d),
        "r": np.full(n, r),
    }


def test_ofa_flops_monotone(ofa):
    def flops(**kw):
        return OFASpace(_ofa_table(**kw)).flops(0)[0]

    assert flops(ks=3) < flops(ks=5) < flops(ks=7)
    assert flops(e=3) < flops(e=4) < flops(e=6)
    assert flops(d=2) < flops(d=3) < flops(d=4)
    assert flops(r=128) < flops(r=176) < flops(r=224)
    params = [OFASpace(_ofa_table(r=r)).params(0)[0] for r in (128, 224)]
    assert params[0] == params[1]  # parameters do not depend on the resolution
    assert 30 < flops(ks=3, e=3, d=2, r=128) < flops(ks=7, e=6, d=4, r=224) < 700
    # ks / e of unused blocks are ignored
    t = _ofa_table(d=2)
    t2 = dict(t, ks=t["ks"].copy())
    t2["ks"][:, 3] = 7
    assert OFASpace(t).flops(0)[0] == OFASpace(t2).flops(0)[0]
    fl = ofa.flops(ofa.enumerate())
    assert 40 < fl.min() < fl.max() < 600


@pytest.mark.parametrize(
    ("space", "device", "min_srcc"),
    [
        ("nb201", "1080ti_1", 0.5),
        ("nb201", "fpga", 0.9),
        ("nb201", "pixel3", 0.7),
        ("fbnet", "fpga", 0.9),
        ("fbnet", "raspi4", 0.8),
        ("ofa", "v100_64", 0.9),
    ],
)
def test_flops_rank_real_latency(spaces, data_dir, space, device, min_srcc):
    lat = _latency(data_dir, space, device)
    flops = spaces[space].flops(lat.index.to_numpy())
    assert spearmanr(flops, lat.to_numpy()).statistic > min_srcc


# ---------------------------------------------------------- indices, sampling
def test_validate_indices(nb201):
    np.testing.assert_array_equal(nb201.validate_indices(3), [3])
    out = nb201.validate_indices(np.array([0, 15624], dtype=np.int32))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(nb201.validate_indices([1.0, 2.0]), [1, 2])
    assert nb201.validate_indices([]).shape == (0,)
    with pytest.raises(
        UnknownArchitectureError,
        match=r"2 architecture indices out of range "
        r"\[0, 15624\]: \[-1, 15625\]",
    ):
        nb201.validate_indices([0, -1, 15625])
    with pytest.raises(UnknownArchitectureError, match=r"\(7 in all\)"):
        nb201.validate_indices(np.arange(15625, 15632))
    with pytest.raises(UnknownArchitectureError, match="not integers"):
        nb201.validate_indices([1.5])
    with pytest.raises(UnknownArchitectureError, match="integers"):
        nb201.validate_indices([True, False])
    with pytest.raises(UnknownArchitectureError, match="integers"):
        nb201.validate_indices(["a"])
    with pytest.raises(UnknownArchitectureError, match="1-d"):
        nb201.validate_indices([[1, 2]])
    with pytest.raises(UnknownArchitectureError, match=r"\[0, 4999\]"):
        get_space("ofa").validate_indices(5000)


def test_sample(spaces):
    for space in spaces.values():
        a = space.sample(100, np.random.default_rng(42))
        b = space.sample(100, np.random.default_rng(42))
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.int64 and len(np.unique(a)) == 100
        assert ((a >= 0) & (a < space.n_archs)).all()
        assert not np.array_equal(a, space.sample(100, np.random.default_rng(43)))
        np.testing.assert_array_equal(np.sort(space.sample(space.n_archs, 0)), space.enumerate())
        assert space.sample(0, 0).shape == (0,)
    with pytest.raises(ConfigError, match="cannot sample 5001") as info:
        spaces["fbnet"].sample(5001, 0)
    assert isinstance(info.value, ValueError) and isinstance(info.value, LatxferError)
    with pytest.raises(ConfigError):
        spaces["fbnet"].sample(-1, 0)
    with pytest.raises(ConfigError):
        spaces["fbnet"].sample(2.5, 0)  # type: ignore[arg-type]


# --------------------------------------------------------------- table files
def test_from_archs_csv_errors(tmp_path, data_dir):
    with pytest.raises(DataFileNotFoundError, match="nope.csv"):
        NB201Space.from_archs_csv(tmp_path / "nope.csv")

    src = pd.read_csv(data_dir / "nb201" / "archs.csv").head(5)
    p = tmp_path / "nb.csv"
    src.drop(columns="op_e3").to_csv(p, index=False)
    with pytest.raises(MissingColumnError, match=r"nb\.csv.*op_e3"):
        NB201Space.from_archs_csv(p)

    bad = src.copy()
    bad.loc[2, "op_e0"] = (bad.loc[2, "op_e0"] + 1) % 5
    bad.to_csv(p, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"nb\.csv.*arch_id=2"):
        NB201Space.from_archs_csv(p)

    bad = src.copy()
    bad.loc[1, "arch_str"] = "|conv~0|"
    bad.to_csv(p, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"nb\.csv.*arch_id=1.*expected"):
        NB201Space.from_archs_csv(p)

    bad = src.copy()
    bad.loc[0, "arch_id"] = 9
    bad.to_csv(p, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"nb\.csv.*arch_id"):
        NB201Space.from_archs_csv(p)

    # a small table is fine and indexes in arch_id order
    src.iloc[::-1].to_csv(p, index=False)
    small = NB201Space.from_archs_csv(p)
    assert small.n_archs == 5
    assert small.arch_str(0) == src["arch_str"].iloc[0]

    fb = pd.read_csv(data_dir / "fbnet" / "archs.csv").head(3)
    fb.loc[1, "op_l4"] = 9
    q = tmp_path / "fb.csv"
    fb.to_csv(q, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"fb\.csv.*outside 0\.\.8"):
        FBNetSpace.from_archs_csv(q)

    of = pd.read_csv(data_dir / "ofa" / "archs.csv").head(3)
    r = tmp_path / "ofa.csv"
    of.assign(r=[128, 130, 224]).to_csv(r, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"ofa\.csv.*'r' outside"):
        OFASpace.from_archs_csv(r)
    bad = of.copy()
    bad.loc[1, "ks"] = "3, 5"
    bad.to_csv(r, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"ofa\.csv.*arch_id=1.*'ks'"):
        OFASpace.from_archs_csv(r)
    bad = of.copy()
    bad.loc[0, "d"] = "[2, 3]"
    bad.to_csv(r, index=False)
    with pytest.raises(UnknownArchitectureError, match=r"ofa\.csv"):
        OFASpace.from_archs_csv(r)


def test_table_validation():
    with pytest.raises(UnknownArchitectureError, match=r"shape \(n_archs, 6\)"):
        NB201Space(np.zeros((3, 5), dtype=int))
    with pytest.raises(UnknownArchitectureError, match="outside 0..4"):
        NB201Space(np.full((1, 6), 5))
    with pytest.raises(UnknownArchitectureError, match=r"shape \(n_archs, 22\)"):
        FBNetSpace(np.zeros((3, 6), dtype=int))
    with pytest.raises(UnknownArchitectureError, match="mapping"):
        OFASpace(np.zeros((3, 6)))
    with pytest.raises(UnknownArchitectureError, match=r"lacks key\(s\) \['r'\]"):
        OFASpace({"ks": 1, "e": 1, "d": 1})
    t = _ofa_table(n=2)
    t["e"] = t["e"][:, :10]
    with pytest.raises(UnknownArchitectureError, match="'e' must have shape"):
        OFASpace(t)
    with pytest.raises(UnknownArchitectureError, match=r"'ks' outside \[3, 5, 7\]"):
        OFASpace(_ofa_table(ks=4))
