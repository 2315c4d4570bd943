"""save_dataset follows the output policy: overwrite replaces only what latxfer wrote, atomically."""

from __future__ import annotations

import os

import pytest

import latxfer
from latxfer.errors import OutputPathError
from latxfer.outputs import MARKER


@pytest.fixture(scope="module")
def small(nb201_hwnb):
    return nb201_hwnb.isel(arch=slice(0, 40))


def test_zarr_overwrite_replaces_a_latxfer_store(tmp_path, small):
    p = latxfer.save_dataset(small, tmp_path / "d.zarr")
    assert (p / MARKER).is_file()
    other = small.isel(arch=slice(0, 10))
    with pytest.raises(OutputPathError, match="already exists"):
        latxfer.save_dataset(other, p)
    latxfer.save_dataset(other, p, overwrite=True)
    assert latxfer.open_dataset(p).identical(other)
    assert sorted(os.listdir(tmp_path)) == ["d.zarr"]  # no temporary left behind


def test_overwrite_refuses_a_directory_latxfer_did_not_write(tmp_path, small):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("years of work")
    for fmt in ("zarr", "netcdf"):
        with pytest.raises(OutputPathError, match="thesis"):
            latxfer.save_dataset(small, thesis, fmt=fmt, overwrite=True)
    assert (thesis / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["thesis"]


def test_zarr_path_that_is_a_file_is_refused(tmp_path, small):
    f = tmp_path / "notes.zarr"
    f.write_text("mine")
    with pytest.raises(OutputPathError, match="not a latxfer store"):
        latxfer.save_dataset(small, f, overwrite=True)
    assert f.read_text() == "mine"


def test_netcdf_overwrite_and_unique_temporary(tmp_path, small):
    p = tmp_path / "d.nc"
    user_tmp = tmp_path / "d.nc.tmp-latxfer"  # the fixed temporary name of old versions: never touched
    user_tmp.write_text("user file")
    latxfer.save_dataset(small, p)
    with pytest.raises(OutputPathError, match="refusing to overwrite"):
        latxfer.save_dataset(small, p)
    other = small.isel(arch=slice(0, 5))
    latxfer.save_dataset(other, p, overwrite=True)
    assert latxfer.open_dataset(p).identical(other)
    assert user_tmp.read_text() == "user file"
    assert sorted(os.listdir(tmp_path)) == ["d.nc", "d.nc.tmp-latxfer"]


def test_missing_directory_is_refused_before_writing(tmp_path, small):
    with pytest.raises(OutputPathError, match="does not exist"):
        latxfer.save_dataset(small, tmp_path / "no" / "d.zarr")
