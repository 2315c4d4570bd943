"""Saved models: an ArviZ-native DataTree on disk, checked array by array on the way back in."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from latxfer.errors import ModelFileError, ModelVersionError, OutputPathError
from latxfer.models import load_model
from latxfer.models.io import MODEL_FORMAT_VERSION


def _open(path) -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr does not know latxfer's marker file
        return xr.open_datatree(path, engine="zarr", consolidated=False)


def _copy(src: Path, root: Path) -> Path:
    dst = root / "m.zarr"
    shutil.copytree(src, dst)
    return dst


def _files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def _same_model(a, b) -> None:
    assert set(a.population) == set(b.population)
    for k in a.population:
        np.testing.assert_array_equal(a.population[k], b.population[k])
    np.testing.assert_array_equal(a.basis.F, b.basis.F)
    np.testing.assert_array_equal(a.basis.Q, b.basis.Q)
    np.testing.assert_array_equal(a.source_latency, b.source_latency)
    np.testing.assert_array_equal(a.source_scales, b.source_scales)
    assert a.source_devices == b.source_devices


def test_saved_model_is_an_arviz_datatree(fitted, fitted_path):
    """Real dims and coords, sample_stats kept, diagnostics as data: ArviZ reads the store as it is."""
    import arviz as az

    tree = _open(fitted_path)
    assert {"posterior", "sample_stats", "diagnostics", "basis", "sources"} <= set(tree.children)
    post = tree["posterior"]
    assert post["intercept"].dims == ("chain", "draw", "device")
    assert post["loading"].dims == ("chain", "draw", "device", "factor")
    assert post["op_cost"].dims == ("chain", "draw", "device", "feature")
    assert list(post["device"].values) == fitted.source_devices
    assert "sample" not in post.dims and not any("_dim" in d and not d.startswith("loading_") for d in post.dims)
    assert "diverging" in tree["sample_stats"].data_vars
    diag = tree["diagnostics"]
    assert diag["max_rhat"].dtype.kind == "f" and diag["converged"].dtype == bool
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant entries (the zeros of a Cholesky factor)
        summary = az.summary(tree)
    assert {"mean", "ess_bulk", "r_hat"} <= set(summary.columns)
    assert "intercept[pixel3]" in summary.index
    np.testing.assert_allclose(summary.loc["intercept[pixel3]", "mean"],
                               fitted.population["intercept"][:, fitted.source_devices.index("pixel3")].mean(),
                               rtol=1e-2)


def test_plot_trace_on_a_saved_model(fitted_path):
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    pc = az.plot_trace(_open(fitted_path), var_names=["intercept_mu", "log_sigma_mu"])
    assert pc is not None


def test_load_gives_back_the_tree_and_the_same_model(fitted, fitted_path, nb201_help):
    back = load_model(fitted_path)
    _same_model(fitted, back)
    assert set(back.posterior_tree.children) == {"posterior", "sample_stats"}
    xr.testing.assert_equal(back.posterior_tree["posterior"]["loading"],
                            fitted.posterior_tree["posterior"]["loading"])
    assert back.diagnostics == fitted.diagnostics
    y = nb201_help.latency.sel(device="gold_6226").values
    a = np.arange(0, 15625, 1500)
    np.testing.assert_array_equal(fitted.adapt(a, y[a], rng=5).posterior.draws_ms,
                                  back.adapt(a, y[a], rng=5).posterior.draws_ms)
    # a loaded model saves again, to the same arrays
    with tempfile.TemporaryDirectory() as d:
        again = load_model(back.save(Path(d) / "again.zarr"))
        _same_model(back, again)


def test_save_never_replaces_what_latxfer_did_not_write(fitted, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    with pytest.raises(OutputPathError, match="did not write"):
        fitted.save(thesis, overwrite=True)
    assert (thesis / "chapter1.tex").read_text() == "years of work"
    path = fitted.save(tmp_path / "m.zarr")
    with pytest.raises(OutputPathError, match="already exists"):
        fitted.save(path)
    fitted.save(path, overwrite=True)  # a model latxfer wrote is replaced
    _same_model(fitted, load_model(path))


def test_old_format_says_refit(fitted_path, tmp_path):
    """A model of format 1 (population stacked in one ``sample`` dim) is refused with a clear message."""
    old = xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"latxfer_model_type": "latxfer.LatencyModel", "latxfer_format_version": "1",
                               "latxfer_version": "0.1.0", "config": "{}", "config_hash": "x"}),
        "/population": xr.Dataset({"intercept": (("sample", "intercept_dim0"), np.zeros((4, 2)))})})
    old.to_zarr(tmp_path / "old.zarr", consolidated=False)
    with pytest.raises(ModelVersionError, match=f"format '1'.*reads format '{MODEL_FORMAT_VERSION}': re-fit"):
        load_model(tmp_path / "old.zarr")


@pytest.mark.parametrize("part", ["sources/latency_ms", "sources/scale_ms", "posterior/intercept",
                                  "posterior/loading_chol", "basis/F", "basis/noise", "sample_stats/energy"])
def test_a_missing_chunk_is_named(fitted_path, tmp_path, part):
    """zarr fills a missing chunk with NaN: the checksum refuses the model instead of loading NaN."""
    path = _copy(fitted_path, tmp_path)
    chunks = [p for p in (path / part / "c").rglob("*") if p.is_file()]
    assert chunks
    chunks[0].unlink()
    with pytest.raises(ModelFileError, match=f"/{part} differs from what was saved"):
        load_model(path)


def test_truncated_chunk_and_missing_metadata_are_named(fitted_path, tmp_path):
    path = _copy(fitted_path, tmp_path)
    chunk = next(p for p in (path / "sources/latency_ms/c").rglob("*") if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="/sources/latency_ms"):
        load_model(path)
    shutil.rmtree(path)
    path = _copy(fitted_path, tmp_path)
    (path / "basis/F/zarr.json").unlink()
    with pytest.raises(ModelFileError, match="/basis/F is missing"):
        load_model(path)
    shutil.rmtree(path)
    path = _copy(fitted_path, tmp_path)
    shutil.rmtree(path / "sources")
    with pytest.raises(ModelFileError, match="/sources is missing"):
        load_model(path)


_OPS = st.sampled_from(["flip", "truncate", "delete", "append", "zero"])


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_model_gives_a_named_error_or_the_same_model(fitted, fitted_path, data):
    """Random byte flips, truncations, deletions of any file of a saved model: load_model raises
    ModelFileError / ModelVersionError (no other exception, no traceback), or -- when the damage hit
    nothing the model reads (the overwrite marker) -- gives back exactly the saved model."""
    files = _files(fitted_path)
    with tempfile.TemporaryDirectory() as d:
        path = _copy(fitted_path, Path(d))
        for _ in range(data.draw(st.integers(1, 3), label="n_damages")):
            f = path / data.draw(st.sampled_from(files), label="file")
            if not f.exists():
                continue
            raw = f.read_bytes()
            op = data.draw(_OPS, label="op")
            if op == "delete":
                f.unlink()
            elif op == "append":
                f.write_bytes(raw + data.draw(st.binary(min_size=1, max_size=16), label="extra"))
            elif not raw:
                f.write_bytes(b"\x00")
            elif op == "truncate":
                f.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")])
            else:
                i = data.draw(st.integers(0, len(raw) - 1), label="at")
                new = 0 if op == "zero" else raw[i] ^ data.draw(st.integers(1, 255), label="xor")
                f.write_bytes(raw[:i] + bytes([new]) + raw[i + 1:])
        try:
            back = load_model(path)
        except (ModelFileError, ModelVersionError) as exc:
            event(type(exc).__name__)  # pytest --hypothesis-show-statistics shows how often each came
            return
        event("loaded, unchanged")
        _same_model(fitted, back)
