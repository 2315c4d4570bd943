"""The one output policy (latxfer.outputs): refuse, replace only latxfer's own stores, never an input."""

from __future__ import annotations

import os

import pytest

from latxfer.errors import OutputPathError
from latxfer.outputs import MARKER, check_output, write_atomic, write_store


def _dir_with(path, name):
    path.mkdir()
    (path / name).write_text("1")


def test_file_refused_then_replaced_only_with_overwrite(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("mine")
    with pytest.raises(OutputPathError, match="already exists"):
        write_atomic(f, lambda t: t.write_text("x"))
    assert f.read_text() == "mine"
    write_atomic(f, lambda t: t.write_text("x"), overwrite=True)
    assert f.read_text() == "x"
    assert os.listdir(tmp_path) == ["a.csv"]  # no temporary left behind


def test_output_equal_to_an_input_is_refused(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("mine")
    with pytest.raises(OutputPathError, match="also an input"):
        check_output(f, overwrite=True, inputs=[f])


def test_foreign_directory_never_replaced(tmp_path):
    d = tmp_path / "thesis"
    _dir_with(d, "ch1.tex")
    with pytest.raises(OutputPathError, match="did not write"):
        write_store(d, lambda t: _dir_with(t, "a"), kind="model", overwrite=True)
    assert os.listdir(d) == ["ch1.tex"]


def test_own_store_replaced_atomically(tmp_path):
    s = tmp_path / "m.zarr"
    write_store(s, lambda t: _dir_with(t, "a"), kind="model")
    with pytest.raises(OutputPathError, match="already exists"):
        write_store(s, lambda t: _dir_with(t, "b"), kind="model")
    write_store(s, lambda t: _dir_with(t, "b"), kind="model", overwrite=True)
    assert sorted(os.listdir(s)) == [MARKER, "b"]
    assert os.listdir(tmp_path) == ["m.zarr"]


@pytest.mark.parametrize(("name", "kw", "match"), [
    ("no/x.csv", {}, "does not exist"),
    ("x.txt", {"suffixes": [".png", ".pdf"]}, "ending in .png, .pdf"),
])
def test_bad_paths_named(tmp_path, name, kw, match):
    with pytest.raises(OutputPathError, match=match):
        check_output(tmp_path / name, flag="--plot", **kw)


def test_directory_given_for_a_file(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        check_output(tmp_path, overwrite=True)
