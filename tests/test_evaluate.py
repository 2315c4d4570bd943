"""The few-shot evaluation harness: protocol, shared samples, scoring, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from latxfer.baselines import AdaProxy, FLOPs, ProxyOnly, TargetRidge
from latxfer.errors import (
    InsufficientDataError,
    LeakageError,
    UndefinedCorrelationError,
    UnknownDeviceError,
)
from latxfer.evaluate import evaluate, measured_sample, score, summarize, to_table
from latxfer.methods import Adapted, FewShotMethod, Prediction

SRC = ["hwnb_pixel3"]
TGT = ["hwnb_edgegpu", "hwnb_raspi4"]


class Spy(FewShotMethod):
    """Records what the harness hands over; predicts the proxy with a tiny noise-free interval."""

    gives_intervals = True

    def __init__(self, name):
        self.name, self.calls, self.queries = name, [], []

    def fit(self, sources, space=None):
        self.fits = getattr(self, "fits", 0) + 1
        self.src = sources
        return self

    def adapt(self, archs, latency_ms, *, device="target", rng=None):
        self.calls.append((device, tuple(archs)))
        spy, src = self, self.src

        class A(Adapted):
            def predict(self, archs, interval=0.9):
                spy.queries.append(set(archs.tolist()))
                m = src.latx.latency_matrix()[0][np.searchsorted(src.latx.archs, archs)]
                return Prediction(archs, m, m * 0.5, m * 2.0, interval)

        return A()


@pytest.fixture(scope="module")
def run(nb201_hwnb):
    a, b = Spy("spy-a"), Spy("spy-b")
    methods = [a, b, ProxyOnly("hwnb_pixel3"), AdaProxy("hwnb_pixel3"), TargetRidge()]
    res = evaluate(nb201_hwnb, SRC, TGT, methods, [0, 3, 10], [0, 1], progress=False)
    return res, a, b


def test_dims_and_variables(run):
    res, _, _ = run
    assert dict(res["srcc"].sizes) == {"method": 5, "target": 2, "n": 3, "seed": 2}
    for v in ["srcc", "srcc_trimmed", "kendall", "top10", "top50", "coverage", "status", "n_query"]:
        assert v in res
    assert list(res.method.values) == ["spy-a", "spy-b", "proxy:hwnb_pixel3", "adaproxy:hwnb_pixel3", "target-ridge"]
    po = res.srcc.sel({"method": "proxy:hwnb_pixel3"})
    assert float(po.sel(target="hwnb_edgegpu", n=0).mean()) == pytest.approx(0.496, abs=0.002)
    assert float(po.sel(target="hwnb_raspi4", n=0).mean()) == pytest.approx(0.921, abs=0.002)


def test_fit_once_shared_and_nested_samples(run, nb201_hwnb):
    res, a, b = run
    assert a.fits == 1 and b.fits == 1
    assert a.calls == b.calls  # identical measured architectures for every method
    assert len(a.calls) == 2 * 3 * 2
    m = res.measured.sel(target="hwnb_raspi4", seed=1)
    s3, s10 = set(m.sel(n=3).values[:3]), set(m.sel(n=10).values[:10])
    assert s3 <= s10  # nested across n
    np.testing.assert_array_equal(
        m.sel(n=10).values[:10], measured_sample(nb201_hwnb.latx.measured("hwnb_raspi4"), "hwnb_raspi4", 10, 1))


def test_scores_only_unmeasured(run):
    res, a, _ = run
    for (_, meas), q in zip(a.calls, a.queries, strict=True):
        assert not (set(meas) & q)
    assert int(res.n_query.sel(target="hwnb_raspi4", n=10, seed=0)) == 1999 - 10


def test_status_explains_nan(run):
    res, _, _ = run
    tr = res.sel({"method": "target-ridge", "n": 0})
    assert np.isnan(tr.srcc).all() and (tr.status == "n < min_n").all()
    po = res.sel({"method": "proxy:hwnb_pixel3"})
    assert np.isnan(po.coverage).all() and (po.status == "no interval").all()
    spy = res.sel({"method": "spy-a"})
    assert ((spy.coverage >= 0) & (spy.coverage <= 1)).all() and (spy.status == "ok").all()
    ok = res.status.values == "ok"
    assert np.isfinite(res.srcc.values[ok]).all()


def test_summary_and_table(run):
    res, _, _ = run
    s = summarize(res, ["srcc"])
    assert set(s.columns) == {"method", "target", "n", "metric", "mean", "sd", "min", "n_seeds"}
    assert set(s.target) == {"hwnb_edgegpu", "hwnb_raspi4", "mean"}
    t = to_table(res, "srcc_trimmed")
    assert "mean" in t.columns and ("adaproxy:hwnb_pixel3", 10) in t.index


def test_fewshot_figure(run, tmp_path):
    """One panel per target (and the mean), a line per method; unknown metric / method named."""
    from latxfer.errors import ConfigError
    from latxfer.plots import plot_fewshot

    res, _, _ = run
    fig = plot_fewshot(res, tmp_path / "fs.png", metric="coverage", methods=["spy-a", "target-ridge"])
    assert (tmp_path / "fs.png").stat().st_size > 0
    assert [ax.get_title() for ax in fig.axes] == ["hwnb_edgegpu", "hwnb_raspi4", "mean over targets"]
    assert len(fig.axes[0].get_lines()) == 3  # two methods and the nominal 0.9 line
    with pytest.raises(ConfigError, match="no metric 'nope'"):
        plot_fewshot(res, metric="nope")
    with pytest.raises(ConfigError, match="not in the result"):
        plot_fewshot(summarize(res), methods=["hier"])


def test_leakage_unknown_and_too_many(nb201_hwnb):
    with pytest.raises(LeakageError, match="hwnb_pixel3"):
        evaluate(nb201_hwnb, SRC, ["hwnb_pixel3"], [ProxyOnly("hwnb_pixel3")], [0], 1, progress=False)
    with pytest.raises(UnknownDeviceError, match="hwnb_fpga"):
        evaluate(nb201_hwnb, SRC, ["nope"], [ProxyOnly("hwnb_pixel3")], [0], 1, progress=False)
    with pytest.raises(InsufficientDataError, match="hwnb_edgetpu"):
        evaluate(nb201_hwnb, SRC, ["hwnb_edgetpu"], [ProxyOnly("hwnb_pixel3")], [1739], 1, progress=False)
    with pytest.raises(InsufficientDataError):
        measured_sample(np.arange(5), "t", 6, 0)


def test_constant_target_is_an_error():
    with pytest.raises(UndefinedCorrelationError, match="constant"):
        score(np.arange(5.0), np.ones(5))
    sc = score(np.ones(5), np.arange(5.0))
    assert np.isnan(sc["srcc"]) and sc["status"] == "constant prediction"


def test_space_hook_and_source_subsample(nb201_hwnb):
    res = evaluate(nb201_hwnb, ["hwnb_pixel3", "hwnb_fpga"], ["hwnb_raspi4"], [FLOPs(), AdaProxy("hwnb_pixel3")],
                   [5], [0], progress=False, source_archs_per_device=300)
    assert res.attrs["source_archs_per_device"] == 300
    assert float(res.srcc.sel({"method": "flops"}).squeeze()) == pytest.approx(0.935, abs=0.005)
    assert float(res.srcc.sel({"method": "adaproxy:hwnb_pixel3"}).squeeze()) > 0.85
