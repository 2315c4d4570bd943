"""latxfer.decision: the reuse / adapt / measure-more rule and its wording (what ``latxfer assess`` prints)."""

from __future__ import annotations

import pytest

from latxfer.decision import REUSE_CAUTION_BELOW, REUSE_CAUTION_RECORD, decide, decision_reason
from latxfer.errors import ConfigError


@pytest.mark.parametrize("p, c, want", [
    (0.95, 0.9, "reuse"), (0.9, 0.9, "reuse"), (0.5, 0.9, "measure more"), (0.1, 0.9, "adapt"),
    (0.05, 0.95, "adapt"), (0.94, 0.95, "measure more"), (0.5, 0.5, "reuse"),
])
def test_decide(p, c, want):
    assert decide(p, c) == want


def test_no_decision_from_the_prior_alone():
    assert decide(0.999, 0.9, n_measured=0) == "measure more"
    assert decide(0.999, 0.9, n_measured=1) == "reuse"


def test_decide_agrees_with_the_srcc_posterior(fitted, nb201_help):
    import numpy as np

    a = np.random.default_rng(1).choice(15625, 12, replace=False)
    post = fitted.adapt(a, nb201_help.latency.sel(device="raspi4", arch=a).values, rng=0).posterior
    for proxy in ("pixel3", "1080ti_1"):
        r = fitted.posterior_srcc(fitted.source_latency_ms(proxy), post, threshold=0.8)
        for c in (0.6, 0.9, 0.99):
            assert decide(r.p_above, c, n_measured=post.n_measured) == r.decision(c)


@pytest.mark.parametrize("p, c", [(1.2, 0.9), (-0.1, 0.9), (0.5, 0.2), (0.5, 1.0)])
def test_decide_refuses_values_out_of_range(p, c):
    with pytest.raises(ConfigError):
        decide(p, c)


def test_reuse_calls_below_the_caution_level_say_how_often_they_were_right():
    sure, unsure = decision_reason("reuse", 0.995, 0.9, 0.9), decision_reason("reuse", 0.93, 0.9, 0.9)
    assert "can be reused" in sure and "confirm" not in sure
    assert "P(SRCC >= 0.9) = 0.93" in unsure and "right in only 54-79% of held-out cases" in unsure
    assert REUSE_CAUTION_BELOW == 0.98
    assert REUSE_CAUTION_RECORD["non-targets"]["below"] == (20, 37)
    assert "latxfer predict" in decision_reason("adapt", 0.02, 0.9, 0.9)
    assert "between 0.10 and 0.9" in decision_reason("measure more", 0.5, 0.9, 0.9)
    with pytest.raises(ConfigError, match="unknown decision 'keep'"):
        decision_reason("keep", 0.5, 0.9, 0.9)
