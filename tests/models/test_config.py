"""One source of the configuration: models/hier.toml holds every key; the code has no second copy."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from latxfer.errors import ConfigError
from latxfer.models import LatencyModel, list_configs, load_config
from latxfer.models.config import default_config, models_dir

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_defaults_are_hier_toml():
    hier = tomllib.loads((MODELS / "hier.toml").read_text())
    cfg = LatencyModel().config
    assert cfg == load_config("hier") == load_config() == default_config()
    for section, values in hier.items():
        assert {k: cfg[section][k] for k in values} == values, section
    # the values chosen on validation devices (git log of models/hier.toml): noise power, novelty, mixture
    assert cfg["model"]["noise_power"] == "auto"
    assert cfg["priors"]["op_count_sd"] == [0.0, 0.1, 0.3, 1.0]
    assert (cfg["priors"]["source_shrink"], cfg["priors"]["source_weight"], cfg["priors"]["source_linear"]) == (
        0.3, 0.5, 0.5)
    # a dict configuration is a set of overrides of hier
    assert LatencyModel({"sampler": {"draws": 10}}).config["priors"] == cfg["priors"]


def test_hier_toml_defines_every_key_of_every_named_configuration():
    base = tomllib.loads((MODELS / "hier.toml").read_text())
    for path in MODELS.glob("*.toml"):
        for section, values in tomllib.loads(path.read_text()).items():
            assert set(values) - {"name"} <= set(base[section]), (path.name, section)
    assert models_dir() == MODELS and list_configs() == sorted(p.stem for p in MODELS.glob("*.toml"))


def test_dropped_options_are_refused_by_name():
    with pytest.raises(ConfigError, match="unknown configuration key 'adapt.interval'"):
        load_config({"adapt": {"interval": 0.9}})  # validated and never read: removed
    with pytest.raises(ConfigError, match="numpyro is no longer offered"):
        load_config({"sampler": {"name": "numpyro"}})


def test_user_models_dir_keeps_hier_as_base(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text("[sampler]\ndraws = 7\n")
    monkeypatch.setenv("LATXFER_MODELS", str(tmp_path))
    cfg = load_config("mine")
    assert cfg["sampler"]["draws"] == 7 and cfg["model"]["name"] == "mine"
    assert cfg["priors"] == default_config()["priors"]
    assert list_configs() == ["mine"]
