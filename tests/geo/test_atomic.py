"""Output safety: no silent overwrite, no partial files, ordinary file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pix2lst.errors import OutputExistsError, OutputNotWritableError, Pix2LstError
from pix2lst.geo.atomic import atomic_output, check_output


def test_atomic_output_renames_on_success(tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    with atomic_output(out) as tmp:
        assert tmp != out and tmp.parent == out.parent
        tmp.write_bytes(b"data")
        assert not out.exists()
    assert out.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "x.tif"
    out.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_output(out, overwrite=True) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"]


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output(out)
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"


def test_missing_or_readonly_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputNotWritableError, match="does not exist"):
        check_output(tmp_path / "nope" / "x.tif")
    with pytest.raises(OutputNotWritableError, match="is a folder"):
        check_output(tmp_path, overwrite=True)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores modes
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(OutputNotWritableError, match="not writable"):
            check_output(ro / "x.tif")
    finally:
        ro.chmod(0o700)


def test_errors_are_builtin_too() -> None:
    assert issubclass(OutputExistsError, FileExistsError)
    assert issubclass(OutputNotWritableError, PermissionError)
    assert issubclass(OutputExistsError, Pix2LstError)
