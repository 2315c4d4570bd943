"""Named model configurations (``models/*.toml``) merged over the code defaults.

A configuration has sections ``[model]`` (variant, number of factors, encoding, sub-sampling),
``[priors]``, ``[sampler]`` and ``[adapt]``.  ``load_config("hier")`` reads ``models/hier.toml`` from the
repository's ``models/`` directory (or ``$LATXFER_MODELS``); a path to a TOML file works too.  Unknown
keys are refused, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from pathlib import Path

from latxfer.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "load_config", "config_hash", "models_dir", "list_configs"]

DEFAULT_CONFIG: dict = {
    "model": {
        "name": "hier",
        "variant": "hierarchical",  # hierarchical | pooled | unpooled
        "n_factors": 3,  # architecture factors shared by all devices
        "coding": "reference",  # identifiable op encoding
        "source_archs": 0,  # architectures per source device used at all (0 = every measured one)
        "fit_archs": 600,  # architectures per source device in the NUTS likelihood
        # noise sd of an architecture ~ (its mean source latency) ** noise_power: 0 = the same for all,
        # "auto" = estimated from the sources' residuals (basis.noise_scale)
        "noise_power": 0.0,
    },
    "priors": {
        "loading_sd": 1.0,
        "lkj_eta": 2.0,
        "op_cost_mu_sd": 0.5,
        "op_cost_tau_sd": 0.3,
        "intercept_sd": 5.0,
        "log_sigma_sd": 1.0,
        "log_scale_sd": 2.0,
        "unpooled_loading_sd": 2.0,
        "unpooled_op_cost_sd": 1.0,
        # novelty: a new device's per-op-type costs may leave the source population by this sd (device
        # latency sd per unit-sd op count); a list is a uniform hyperprior grid, weighted per target by
        # the evidence of its measurements (0 = off)
        "op_count_sd": 0.0,
        # mixture prior: a new device may be near one source (prior sd = source_shrink x the population's
        # around that source's coefficients); source_weight = total prior mass of those components (0 = off)
        "source_shrink": 0.0,
        "source_weight": 0.0,
        # share of source_weight given to components centred on a source's op-linear part (its fit on the
        # op encoding alone) instead of its full coefficients (0 = off)
        "source_linear": 0.0,
        "sigma_floor": 1e-3,  # noise sd never below 0.1% of the device scale (exact lookup-table sums)
    },
    "sampler": {
        "name": "nutpie",  # nutpie | pymc | numpyro | advi | map
        "chains": 4,
        "tune": 500,
        "draws": 800,
        "target_accept": 0.9,
        "rhat_max": 1.01,
        "ess_min": 200,
        "advi_iterations": 20000,
    },
    "adapt": {
        "n_draws": 300,  # posterior draws used by the fast path
        "grid_scale": 48,  # grid nodes over the target's log scale
        "grid_noise": 12,  # Gauss-Hermite nodes over the target's log noise sd
        "interval": 0.9,
        "floor_ms": 1e-3,  # predictive draws are clipped below at this latency
    },
}

SAMPLERS = ("nutpie", "pymc", "numpyro", "advi", "map")


def models_dir() -> Path:
    """Directory of the named configurations: ``$LATXFER_MODELS`` or the repository's ``models/``."""
    env = os.environ.get("LATXFER_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def list_configs() -> list[str]:
    """Names of the configurations in :func:`models_dir`."""
    d = models_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def _merge(base: dict, over: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in base:
            raise ConfigError(
                f"unknown configuration key {where + k!r}; expected one of {sorted(base)}"
            )
        if isinstance(base[k], dict):
            if not isinstance(v, dict):
                raise ConfigError(f"configuration section {where + k!r} must be a table")
            out[k] = _merge(base[k], v, f"{where}{k}.")
        else:
            out[k] = v
    return out


def _validate(cfg: dict) -> dict:
    m, s = cfg["model"], cfg["sampler"]
    if m["variant"] not in ("hierarchical", "pooled", "unpooled"):
        raise ConfigError(f"model.variant {m['variant']!r}: expected hierarchical, pooled or unpooled")
    if not isinstance(m["n_factors"], int) or m["n_factors"] < 0:
        raise ConfigError(f"model.n_factors must be a non-negative integer, got {m['n_factors']!r}")
    if m["coding"] not in ("reference", "sum_to_zero"):
        raise ConfigError(f"model.coding {m['coding']!r}: expected 'reference' or 'sum_to_zero' "
                          "(one-hot plus an intercept is not identifiable)")
    if s["name"] not in SAMPLERS:
        raise ConfigError(f"sampler.name {s['name']!r}: expected one of {list(SAMPLERS)}")
    for k in ("chains", "tune", "draws"):
        if not isinstance(s[k], int) or s[k] < (1 if k != "tune" else 0):
            raise ConfigError(f"sampler.{k} must be a positive integer, got {s[k]!r}")
    npow = m["noise_power"]
    if not (npow == "auto" or (isinstance(npow, (int, float)) and not isinstance(npow, bool)
                               and -3 <= npow <= 3)):
        raise ConfigError(f"model.noise_power {npow!r}: expected 'auto' or a number in [-3, 3]")
    nov = cfg["priors"]["op_count_sd"]
    grid = nov if isinstance(nov, list) else [nov]
    if not grid or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in grid):
        raise ConfigError(f"priors.op_count_sd {nov!r}: expected a number >= 0 or a non-empty list of them")
    if len(set(grid)) != len(grid):
        raise ConfigError(f"priors.op_count_sd {nov!r}: grid values must be distinct")
    pr = cfg["priors"]
    if not (isinstance(pr["source_shrink"], (int, float)) and pr["source_shrink"] >= 0):
        raise ConfigError(f"priors.source_shrink must be a number >= 0, got {pr['source_shrink']!r}")
    if not (isinstance(pr["source_weight"], (int, float)) and 0 <= pr["source_weight"] < 1):
        raise ConfigError(f"priors.source_weight must be in [0, 1), got {pr['source_weight']!r}")
    if not (isinstance(pr["source_linear"], (int, float)) and 0 <= pr["source_linear"] <= 1):
        raise ConfigError(f"priors.source_linear must be in [0, 1], got {pr['source_linear']!r}")
    if not 0 < cfg["adapt"]["interval"] < 1:
        raise ConfigError(f"adapt.interval must be in (0, 1), got {cfg['adapt']['interval']}")
    return cfg


def load_config(config: str | os.PathLike | dict | None = None, **overrides) -> dict:
    """Resolve a model configuration.

    Parameters
    ----------
    config : str, path or dict, optional
        A name in ``models/`` (``"hier"``), a path to a TOML file, or a dict of overrides; default the
        code defaults (the ``hier`` configuration).
    **overrides
        Section dicts merged last, e.g. ``sampler={"draws": 100}``.

    Returns
    -------
    dict
        The full configuration (every key present).
    """
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if isinstance(config, dict):
        cfg = _merge(cfg, config)
    elif config is not None:
        path = Path(config)
        if path.suffix != ".toml":
            path = models_dir() / f"{config}.toml"
        if not path.exists():
            raise ConfigError(
                f"unknown model configuration {str(config)!r}: no file {path}; known configurations: "
                f"{', '.join(list_configs()) or '(none found)'}"
            )
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        cfg = _merge(cfg, data)
        cfg["model"].setdefault("name", path.stem)
        if "name" not in data.get("model", {}):
            cfg["model"]["name"] = path.stem
    if overrides:
        cfg = _merge(cfg, overrides)
    return _validate(cfg)


def config_hash(cfg: dict) -> str:
    """Stable short hash of a configuration (stored in saved models)."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
