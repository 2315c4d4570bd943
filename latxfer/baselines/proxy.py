"""Rank-only baselines: a single proxy device, the best proxy on the n samples, and FLOPs.

They predict the target's latency by the proxy's measured latency (or the FLOPs), rescaled to
milliseconds by ``a * score + c`` with a > 0 fitted on the n target samples (the ranking is the
proxy's own, whatever n).  Proxy latencies are read from the source tables, so an architecture the
proxy did not measure gets NaN.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from latxfer.baselines._common import SourceTable, check_adapt_input, positive_scaling
from latxfer.errors import ConfigError
from latxfer.methods import Adapted, FewShotMethod, Prediction

__all__ = ["ProxyOnly", "BestProxy", "FLOPs"]


class _ScaledScore(Adapted):
    def __init__(self, score_fn, a: float, c: float, info: dict):
        self._score, self.a, self.c, self.info = score_fn, a, c, info

    def predict(self, archs: np.ndarray, interval: float = 0.9) -> Prediction:
        archs = np.asarray(archs, dtype=np.int64)
        return Prediction(archs, self.a * self._score(archs) + self.c, info=dict(self.info))


class ProxyOnly(FewShotMethod):
    """Use one source device's latency as the target's (the paper's "proxy only").

    Parameters
    ----------
    proxy : str
        A source device.
    name : str, optional
        Result-table name (default ``"proxy:<proxy>"``).
    """

    gives_intervals = False
    min_n = 0

    def __init__(self, proxy: str, name: str | None = None):
        self.proxy = proxy
        self.name = name or f"proxy:{proxy}"

    def fit(self, sources: xr.Dataset, space=None) -> ProxyOnly:
        self._table = SourceTable(sources)
        self._table.row(self.proxy)  # unknown proxy -> UnknownDeviceError
        return self

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        archs, y = check_adapt_input(archs, latency_ms)
        t, p = self._table, self.proxy
        a, c = positive_scaling(t.values(p, archs), y)
        return _ScaledScore(lambda q: t.values(p, q), a, c, {"proxy": p})


class BestProxy(FewShotMethod):
    """The source device whose latency ranks the n target samples best (highest SRCC).

    With n < 3 (SRCC undefined) it uses the most "central" source: highest mean SRCC with the other
    sources (no target information).
    """

    name = "best-proxy"
    gives_intervals = False
    min_n = 0

    def __init__(self, name: str | None = None):
        if name:
            self.name = name

    def fit(self, sources: xr.Dataset, space=None) -> BestProxy:
        self._table = SourceTable(sources)
        self._table.central()
        return self

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        archs, y = check_adapt_input(archs, latency_ms)
        t = self._table
        p, scores = t.best_by_srcc(archs, y)
        a, c = positive_scaling(t.values(p, archs), y)
        return _ScaledScore(lambda q: t.values(p, q), a, c, {"proxy": p, "srcc_on_samples": scores.get(p)})


class FLOPs(FewShotMethod):
    """Rank by analytic FLOPs (multiply-accumulates) of the search space; needs the space."""

    name = "flops"
    gives_intervals = False
    needs_space = True
    min_n = 0

    def __init__(self, name: str | None = None):
        if name:
            self.name = name

    def fit(self, sources: xr.Dataset, space=None) -> FLOPs:
        if space is None:
            raise ConfigError("the FLOPs baseline needs the search space: fit(sources, space)")
        self._space = space
        return self

    def adapt(self, archs, latency_ms, *, device: str = "target", rng=None) -> Adapted:
        archs, y = check_adapt_input(archs, latency_ms)
        sp = self._space
        a, c = positive_scaling(sp.flops(archs) if archs.size else np.zeros(0), y)
        return _ScaledScore(lambda q: sp.flops(q), a, c, {})
