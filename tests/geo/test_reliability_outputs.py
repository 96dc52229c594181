"""Nothing lost: a full disk, an output onto an input, an immutable target, stale temporaries."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import OutputNotWritableError, OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output, check_output, remove_stale_temps, temp_name
from tests.conftest import (
    REPO,
    crop_scene,
    lst_values,
    make_model,
    write_composite,
    write_lst,
)


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crop_scene(tmp_path_factory.mktemp("scene") / "s", 200)


def grid_of_scene(scene: Path) -> Any:
    import rasterio

    from pix2lst.geo.grid import grid_of

    with rasterio.open(next(scene.glob("*_B10.tif"))) as ds:
        return grid_of(ds)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- a full disk ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [["physics"], ["composite"], ["predict"], ["predict", "--cog"]])
def test_full_disk_fails_keeps_the_old_output_and_says_so(
    small_disk: Path, scene: Path, command: list[str]
) -> None:
    out = small_disk / "out.tif"
    out.write_bytes(b"the good old output")
    code, text = run(command[0], str(scene), "-o", str(out), "--overwrite", *command[1:])
    assert code == 1, text
    assert "wrote" not in text and "Traceback" not in text
    assert ("writing" in text and "failed" in text) or "incomplete" in text, text
    assert out.read_bytes() == b"the good old output"
    assert hidden(small_disk) == []


def test_full_disk_under_cog_through_the_api(small_disk: Path, scene: Path) -> None:
    from pix2lst.lst_physics import write_composite as physics_composite
    from pix2lst.lst_physics import write_lst as physics_lst

    out = small_disk / "out.tif"
    out.write_bytes(b"old")
    for write in (physics_lst, physics_composite):
        with pytest.raises(OutputWriteError, match=r"failed|incomplete"):
            write(scene, out, overwrite=True, cog=True)
        assert out.read_bytes() == b"old" and hidden(small_disk) == []


def test_full_disk_under_quicklook_view_and_tiles(small_disk: Path, tmp_path: Path) -> None:
    noise = np.random.default_rng(1).uniform(-5, 5, (300, 300)).astype(np.float32)
    lst = write_lst(tmp_path / "lst.tif", lst_values(300, 300) + noise, origin=(500e3, 3400e3))
    comp = tmp_path / "comp.tif"
    code, text = run("quicklook", str(lst), "-o", str(small_disk / "q.png"))
    assert code == 1 and "failed" in text and "Traceback" not in text, text
    big = write_lst(tmp_path / "big.tif", lst_values(400, 400) + np.float32(0.001))
    code, text = run("view", str(big), "-o", str(small_disk / "v.html"), "--max-pixels", "160000")
    assert code == 1 and "failed" in text and "Traceback" not in text, text
    rng = np.random.default_rng(0)
    arr = rng.uniform(0.05, 0.4, (8, 300, 300)).astype(np.float32)
    arr[7] = 290.0
    write_composite(comp, arr)
    code, text = run(
        "tiles", str(comp), str(lst), "-o", str(small_disk / "ds"), "--tile", "64", "--stride", "64"
    )
    assert code == 1 and "failed" in text and "Traceback" not in text, text
    assert hidden(small_disk) == [] and hidden(small_disk / "ds" / "images") == []


def _limit_file_size() -> None:  # runs in the child: writes past 256 KiB fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


def test_file_size_limit_in_a_real_process(tmp_path: Path) -> None:
    """The same failure without root: the kernel refuses writes past RLIMIT_FSIZE."""
    out = tmp_path / "lst.tif"
    out.write_bytes(b"old")
    res = subprocess.run(
        [sys.executable, "-m", "pix2lst.cli", "physics", str(REPO / "pix2lst/data/sample"),
         "-o", str(out), "--overwrite"],
        cwd=REPO, capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert "failed" in res.stderr and "Traceback" not in res.stderr
    assert "wrote" not in res.stdout
    assert out.read_bytes() == b"old" and hidden(tmp_path) == []


# -- outputs that are inputs --------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "target"),
    [("physics", "test_B10.tif"), ("predict", "test_B4.tif"), ("composite", "test_MTL.txt"),
     ("physics", "test_B12.tif")],
)  # fmt: skip
def test_overwrite_onto_the_scene_is_refused(
    tmp_path: Path, scene: Path, command: str, target: str
) -> None:
    work = shutil.copytree(scene, tmp_path / "s")
    victim = work / target
    before = victim.read_bytes() if victim.exists() else None
    code, text = run(command, str(work), "-o", str(victim), "--overwrite")
    assert code == 1 and "refusing to write" in text and "input scene" in text, text
    assert (victim.read_bytes() if victim.exists() else None) == before


def test_links_to_an_input_and_the_model_are_refused(tmp_path: Path, scene: Path) -> None:
    link = tmp_path / "link.tif"
    link.symlink_to(scene / "test_B5.tif")
    code, text = run("physics", str(scene), "-o", str(link), "--overwrite")
    assert code == 1 and "band B5" in text, text
    model = make_model(tmp_path / "m.tif", "constant", tile=32)
    code, text = run("predict", str(scene), "-o", str(model), "--model", str(model), "--overwrite")
    assert code == 1 and "it is the input" in text, text
    lst = write_lst(tmp_path / "lst.tif", lst_values())
    with pytest.raises(OutputNotWritableError, match="it is the input"):
        check_output(tmp_path / "." / "lst.tif", overwrite=True, inputs=[lst])


def test_geotiff_outputs_need_a_tif_name_and_folders_are_named_first(
    tmp_path: Path, scene: Path
) -> None:
    code, text = run("physics", str(scene), "-o", str(tmp_path / "x.png"))
    assert code == 1 and "does not end in .tif" in text and not (tmp_path / "x.png").exists()
    with pytest.raises(OutputNotWritableError, match="is a folder") as err:
        check_output(tmp_path)
    assert "--overwrite" not in str(err.value)
    with pytest.raises(ParameterError, match=r"x\.tif"):
        from pix2lst.geo.writer import check_raster_output

        check_raster_output(tmp_path / "x.png")


def test_an_immutable_target_is_one_line(tmp_path: Path, scene: Path) -> None:
    out = tmp_path / "lst.tif"
    out.write_bytes(b"keep")
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        code, text = run("physics", str(scene), "-o", str(out), "--overwrite")
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=False)
    assert code == 1 and "cannot replace" in text and "immutable" in text, text
    assert out.read_bytes() == b"keep" and hidden(tmp_path) == []


# -- temporary files left by a killed run -------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    stale = tmp_path / f".lst.tif.{dead_pid()}-0123abcd.tif"
    stale_cog = tmp_path / f".lst.tif.{dead_pid()}-4567abcd.tif.stream.tif"
    live = tmp_path / f".lst.tif.{os.getpid()}-89abcdef.tif"  # a concurrent writer: kept
    other = tmp_path / ".other.tif.1-0123abcd.tif"  # another target's: not ours to judge
    for p in (stale, stale_cog, live, other):
        p.write_bytes(b"x")
    assert sorted(remove_stale_temps(out)) == sorted([stale, stale_cog])
    assert live.exists() and other.exists()
    live.unlink()
    with atomic_output(out) as tmp:  # the writers call it for every target
        assert tmp.name.startswith(f".lst.tif.{os.getpid()}-") and tmp.suffix == ".tif"
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new" and temp_name(out, ".png").name.endswith(".png")


def test_write_errors_inside_atomic_output_are_one_line(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    out.write_bytes(b"old")
    with pytest.raises(OutputWriteError, match="No space left"), atomic_output(out, overwrite=True):
        raise OSError(28, "No space left on device")
    assert out.read_bytes() == b"old" and hidden(tmp_path) == []


def test_an_empty_result_never_replaces_an_output(tmp_path: Path) -> None:
    out = tmp_path / "manifest.csv"
    out.write_text("name\n")
    with pytest.raises(OutputWriteError, match="empty file"), atomic_output(out, overwrite=True):
        pass  # the writer wrote nothing (as a composite on a full disk did: 0 bytes)
    assert out.read_text() == "name\n" and hidden(tmp_path) == []


def test_outputs_are_synced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real fsync runs; each call is recorded with what its descriptor names and
    # whether the output existed yet
    out = tmp_path / "x.bin"
    synced: list[tuple[str, bool]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), out.exists()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_output(out) as tmp:
        tmp.write_bytes(b"data")
    assert synced == [(str(tmp), False), (str(tmp_path), True)]
    assert out.read_bytes() == b"data"


def test_a_name_over_the_limit_is_one_line_and_a_long_legal_one_is_written(
    tmp_path: Path, scene: Path
) -> None:
    from pix2lst.geo.writer import raster_writer

    code, text = run("physics", str(scene), "-o", str(tmp_path / ("n" * 252 + ".tif")))
    lines = [x for x in text.splitlines() if x.strip()]
    assert code != 0 and len(lines) == 1
    assert "name too long: 256 bytes, at most 255" in lines[0]
    with pytest.raises(OutputNotWritableError, match="name too long: 300 bytes, at most 255"):
        check_output(tmp_path / ("é" * 148 + ".tif"))  # bytes, not characters
    # a legal 244-byte name: its temporaries (the COG's stream too) stay within the limit
    name = "L" * 240 + ".tif"
    code, text = run("physics", str(scene), "-o", str(tmp_path / name))
    assert code == 0, text
    grid = grid_of_scene(scene)
    with raster_writer(tmp_path / ("C" * 240 + ".tif"), grid, cog=True) as w:
        w.write_rows(0, lst_values(grid.height, grid.width))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "C" * 240 + ".tif", name[:-4] + ".qml", name  # physics: the LST and its style
    ]  # fmt: skip
    # a killed writer's temporary of a long name is found and removed by the next run
    out = tmp_path / ("é" * 120 + ".tif")  # 244 bytes
    stale = temp_name(out, ".tif").name.replace(f".{os.getpid()}-", f".{dead_pid()}-")
    (tmp_path / stale).write_bytes(b"x")
    assert len(stale.encode()) <= 255 and remove_stale_temps(out) == [tmp_path / stale]


def test_creation_options_gdal_refuses_are_one_line_before_any_work(
    tmp_path: Path, scene: Path
) -> None:
    from pix2lst.geo.writer import check_creation_options, raster_writer

    bad = {
        "COMPRESS=NOPE": "unexpected value for COMPRESS",
        "FOO=BAR": "does not support creation option FOO",
        "NBITS=8": "Only NBITS=16 is supported for data type Float32",
        "BLOCKXSIZE=100": "multiples of 16",
    }
    for option, why in bad.items():
        with pytest.raises(ParameterError, match=f"GTiff driver does not accept --co {option}"):
            check_creation_options([option], cog=False)
        with pytest.raises(ParameterError, match=why):
            check_creation_options([option], cog=False)
    with pytest.raises(ParameterError, match=r"COG driver does not accept .*BLOCKSIZE, not BLOCKX"):
        check_creation_options(["BLOCKXSIZE=512"], cog=True)  # the GTiff name, for a COG
    with pytest.raises(ParameterError, match=r"COG driver .* COMPRESS=NOPE"):
        check_creation_options(["COMPRESS=NOPE"], cog=True)
    assert check_creation_options(["COMPRESS=DEFLATE", "ZLEVEL=9"]) == {
        "compress": "DEFLATE",
        "zlevel": "9",
    }
    assert check_creation_options(["BLOCKSIZE=256", "LEVEL=9"], cog=True)["blocksize"] == "256"
    assert check_creation_options(["BLOCKXSIZE=512", "BLOCKYSIZE=512"]) == {
        "blockxsize": "512",
        "blockysize": "512",
    }
    out = tmp_path / "lst.tif"
    with pytest.raises(ParameterError, match="FOO"):
        with raster_writer(out, grid_of_scene(scene), creation_options=["FOO=BAR"]):
            raise AssertionError("the writer refuses before it yields")
    for option in bad:
        code, text = run("physics", str(scene), "-o", str(out), "--co", option)
        lines = [x for x in text.splitlines() if x.strip()]
        assert code != 0 and len(lines) == 1 and option in lines[0], text
    assert list(tmp_path.iterdir()) == []


# -- implausible values ---------------------------------------------------------------


def test_an_8bit_band_10_is_refused_by_the_lst_rule(scene: Path, tmp_path: Path) -> None:
    # band 10 holding 8-bit DN (values clipped to 255, in a file still uint16, so the scene
    # check's dtype rule lets it through) calibrates to ~153 K everywhere: inside the old
    # 150-400 K window, outside Earth's 170-360 K; physics passes the LST rule to the
    # writer, which refuses the file and leaves nothing
    import rasterio

    from pix2lst.errors import ImplausibleDataError
    from pix2lst.geo.plausible import LST_RANGE_K
    from pix2lst.lst_physics import write_lst as physics_lst

    work = shutil.copytree(scene, tmp_path / "s")
    b10 = work / "test_B10.tif"
    with rasterio.open(b10) as ds:
        profile, dn = ds.profile, ds.read(1)
    assert profile["dtype"] == "uint16"
    b10.unlink()
    with rasterio.open(b10, "w", **profile) as ds:
        ds.write(np.minimum(dn, 255).astype(np.uint16), 1)
    out = tmp_path / "lst.tif"
    with pytest.raises(ImplausibleDataError, match="outside the plausible 170 to 360 K") as err:
        physics_lst(work, out)
    assert "values reach 15" in str(err.value)  # ~153 K
    assert LST_RANGE_K == (170.0, 360.0) and sorted(p.name for p in tmp_path.iterdir()) == ["s"]
