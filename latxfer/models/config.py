"""Named model configurations (``models/*.toml``), each merged over ``hier``.

A configuration has sections ``[model]`` (variant, number of factors, encoding, sub-sampling),
``[priors]``, ``[sampler]`` and ``[adapt]``.  ``models/hier.toml`` is the one source of the defaults: it
holds every key (with a comment saying what it does and how it was chosen), ``LatencyModel()`` and a dict
configuration start from it, and the other named files override it.  ``load_config("hier-fast")`` reads
``hier-fast.toml`` from :func:`models_dir`; a path to a TOML file works too.  Unknown keys are refused, so
a typo never silently falls back to a default.

The named files live in the repository's top-level ``models/`` directory; a wheel ships a copy of them
inside the package (``latxfer/models/named/``, written by the build step in ``setup.py``), so an
installed latxfer finds them without the repository.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import tomllib
from pathlib import Path

from latxfer.errors import ConfigError

__all__ = ["config_hash", "default_config", "list_configs", "load_config", "models_dir"]

SAMPLERS = ("nutpie", "pymc", "advi", "map")

#: The configuration every other one is merged over (its file holds every key).
BASE = "hier"

#: Keys the code reads: the base file must define them all.
_REQUIRED = {
    "model": ("variant", "n_factors", "coding", "source_archs", "fit_archs", "noise_power"),
    "sampler": ("name", "chains", "tune", "draws", "target_accept", "rhat_max", "ess_min", "advi_iterations"),
    "priors": ("loading_sd", "lkj_eta", "op_cost_mu_sd", "op_cost_tau_sd", "intercept_sd", "log_sigma_sd",
               "log_scale_sd", "unpooled_loading_sd", "unpooled_op_cost_sd", "sigma_floor", "op_count_sd",
               "op_free_sd", "source_shrink", "source_weight", "source_linear"),
    "adapt": ("n_draws", "grid_scale", "grid_noise", "floor_ms"),
}


def _builtin_dir() -> Path:
    """The configurations shipped with latxfer: the wheel's packaged copy, else the repository's."""
    packaged = Path(__file__).resolve().parent / "named"
    if (packaged / f"{BASE}.toml").is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "models"


def models_dir() -> Path:
    """Directory of the named configurations: ``$LATXFER_MODELS``, else the ones shipped with latxfer
    (the repository's ``models/``, or its copy inside an installed wheel)."""
    env = os.environ.get("LATXFER_MODELS")
    return Path(env) if env else _builtin_dir()


def list_configs() -> list[str]:
    """Names of the configurations in :func:`models_dir`."""
    d = models_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


@functools.lru_cache(maxsize=1)
def _base() -> dict:
    path = _builtin_dir() / f"{BASE}.toml"
    if not path.is_file():
        raise ConfigError(f"latxfer's base configuration {path} is missing: the installation is incomplete "
                          "(reinstall latxfer)")
    cfg = _read_toml(path)
    for section, keys in _REQUIRED.items():
        lacking = [k for k in keys if k not in cfg.get(section, {})]
        if lacking:
            raise ConfigError(f"{path}: section [{section}] lacks {lacking}; the base configuration must "
                              "define every key")
    cfg["model"].setdefault("name", BASE)
    return cfg


def default_config() -> dict:
    """The default configuration: ``models/hier.toml``, every key (a copy; change it freely).

    Returns
    -------
    dict
    """
    return copy.deepcopy(_base())


def __getattr__(name: str):
    if name == "DEFAULT_CONFIG":  # the old module constant, now read from models/hier.toml
        return default_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        hint = (" (numpyro is no longer offered: it needs a package latxfer does not install and was slower "
                "than nutpie here)") if s["name"] == "numpyro" else ""
        raise ConfigError(f"sampler.name {s['name']!r}: expected one of {list(SAMPLERS)}{hint}")
    for k in ("chains", "tune", "draws"):
        if not isinstance(s[k], int) or s[k] < (1 if k != "tune" else 0):
            raise ConfigError(f"sampler.{k} must be a positive integer, got {s[k]!r}")
    npow = m["noise_power"]
    if not (npow == "auto" or (isinstance(npow, (int, float)) and not isinstance(npow, bool)
                               and -3 <= npow <= 3)):
        raise ConfigError(f"model.noise_power {npow!r}: expected 'auto' or a number in [-3, 3]")
    pr = cfg["priors"]
    _check_sd_grid("op_count_sd", pr["op_count_sd"], distinct=True)
    _check_sd_grid("op_free_sd", pr["op_free_sd"], distinct=False)  # 0 is added to it; repeats are merged
    if not (isinstance(pr["source_shrink"], (int, float)) and pr["source_shrink"] >= 0):
        raise ConfigError(f"priors.source_shrink must be a number >= 0, got {pr['source_shrink']!r}")
    if not (isinstance(pr["source_weight"], (int, float)) and 0 <= pr["source_weight"] < 1):
        raise ConfigError(f"priors.source_weight must be in [0, 1), got {pr['source_weight']!r}")
    if not (isinstance(pr["source_linear"], (int, float)) and 0 <= pr["source_linear"] <= 1):
        raise ConfigError(f"priors.source_linear must be in [0, 1], got {pr['source_linear']!r}")
    return cfg


def _check_sd_grid(key: str, value, *, distinct: bool) -> None:
    """``priors.<key>``: a number >= 0 or a non-empty list of them (``distinct``: no value twice)."""
    grid = value if isinstance(value, list) else [value]
    if not grid or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in grid):
        raise ConfigError(f"priors.{key} {value!r}: expected a number >= 0 or a non-empty list of them")
    if distinct and len(set(grid)) != len(grid):
        raise ConfigError(f"priors.{key} {value!r}: grid values must be distinct")


def load_config(config: str | os.PathLike | dict | None = None, **overrides) -> dict:
    """Resolve a model configuration.

    Parameters
    ----------
    config : str, path or dict, optional
        A name in ``models/`` (``"hier"``), a path to a TOML file, or a dict of overrides of ``hier``;
        default ``hier`` (:func:`default_config`).
    **overrides
        Section dicts merged last, e.g. ``sampler={"draws": 100}``.

    Returns
    -------
    dict
        The full configuration (every key present).
    """
    cfg = default_config()
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
        data = _read_toml(path)
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
