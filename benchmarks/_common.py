"""Helpers shared by the benchmark scripts: provenance header, markdown / CSV output."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
from pathlib import Path

# where results are written: docs/results, or $LATXFER_BENCH_RESULTS for trial runs that must not overwrite
# the recorded results (e.g. two settings compared side by side)
RESULTS = Path(os.environ.get("LATXFER_BENCH_RESULTS") or Path(__file__).resolve().parents[1] / "docs" / "results")


def provenance() -> str:
    import numpy
    import scipy
    import xarray

    import latxfer

    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    return "\n".join([
        f"- command: `{cmd}`",
        f"- date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- versions: latxfer {latxfer.__version__}, python {platform.python_version()}, numpy {numpy.__version__}, "
        f"scipy {scipy.__version__}, xarray {xarray.__version__}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (nproc), {platform.system()}",
        f"- data: {os.environ.get('LATXFER_DATA', '(LATXFER_DATA unset)')}",
        *([f"- model configurations: {os.environ['LATXFER_MODELS']} (LATXFER_MODELS, not the repository's models/)"]
          if os.environ.get("LATXFER_MODELS") else []),
    ])


def md_table(df) -> str:
    """A pandas DataFrame as a GitHub markdown table (index included)."""
    d = df.reset_index()
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in d.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


class Prefitted:
    """A fitted LatencyModel under the evaluation harness's interface (``fit`` keeps the cached fit)."""

    gives_intervals = True
    needs_space = False
    min_n = 0

    def __init__(self, model, name: str):
        self.model, self.name = model, name

    def fit(self, sources, space=None):
        missing = set(sources.latx.devices) ^ set(self.model.source_devices)
        if missing:
            raise ValueError(f"cached model was fitted on other sources (differs in {sorted(missing)})")
        return self

    def adapt(self, archs, latency_ms, *, device="target", rng=None):
        return self.model.adapt(archs, latency_ms, device=device, rng=rng, allow_implausible=True)


#: priors the fast path reads at adaptation only (the fit does not depend on them)
ADAPT_PRIORS = ("op_count_sd", "op_free_sd", "source_shrink", "source_weight", "source_linear")


def load_fit(path: Path, sources, config="hier"):
    """The cached fit at ``path`` when its fit-time configuration is ``config``'s, with ``config``'s
    adaptation settings; else a new fit (seed 0), cached."""
    import latxfer
    from latxfer.models import LatencyModel, load_config, load_model

    want = load_config(config)
    if path.exists():
        try:
            m = load_model(path)
        except latxfer.errors.LatxferError:
            m = None
        if m is not None:
            have = m.config
            same = all(have[k] == want[k] for k in ("model", "sampler")) and all(
                have["priors"].get(k) == v for k, v in want["priors"].items() if k not in ADAPT_PRIORS)
            if same and set(m.source_devices) == set(sources.latx.devices):
                m.config = dict(have, priors=dict(have["priors"], **{k: want["priors"][k] for k in ADAPT_PRIORS}),
                                adapt=want["adapt"])
                return m
    path.parent.mkdir(parents=True, exist_ok=True)
    m = LatencyModel(want).fit(sources, seed=0)
    m.save(path, overwrite=True)
    return m


def cached_hier_fit(path: Path, sources):
    """The ``hier`` model fitted on ``sources`` (seed 0), cached at ``path``.

    A cache saved with another configuration or format is refitted and replaced, never silently reused.
    """
    import latxfer
    from latxfer.models import LatencyModel, load_model

    if path.exists():
        try:
            return load_model(path, config="hier")
        except latxfer.errors.LatxferError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    m = LatencyModel("hier").fit(sources, seed=0)
    m.save(path, overwrite=True)
    return m
