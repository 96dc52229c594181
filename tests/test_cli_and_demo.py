"""The command-line group, its shared conventions, and ``pix2lst demo`` on the embedded sample."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.cli import COMMANDS, main
from pix2lst.data import default_model_path
from tests.conftest import (
    REPO,
    crop_scene,
    lst_values,
    make_model,
    write_composite,
    write_lst,
)


def test_every_command_loads_and_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    # listed in the order a user meets them: demo first, training last
    at = [result.output.index(f"\n  {name} ") for name in COMMANDS]
    assert at == sorted(at) and list(COMMANDS)[:3] == ["demo", "physics", "predict"]
    assert "_PIX2LST_COMPLETE=bash_source pix2lst" in result.output  # shell completion
    with click.Context(main) as ctx:
        commands = {name: main.get_command(ctx, name) for name in COMMANDS}
    paths = []  # a group (batch) is checked through its subcommands
    for name, cmd in commands.items():
        if isinstance(cmd, click.Group):
            paths += [[name, sub] for sub in cmd.commands]
        else:
            paths.append([name])
    assert ["batch", "predict"] in paths
    for path in paths:
        sub = runner.invoke(main, [*path, "--help"])
        assert sub.exit_code == 0, (path, sub.output)
        assert "Usage: " in sub.output and "needs" not in sub.output
        if path == ["info"]:  # the one command that only reads
            assert "--json" in sub.output and "--output" not in sub.output
            continue
        # one name for one thing: -o/--output and a documented --overwrite everywhere
        assert "-o, --output" in sub.output, path
        assert "--out " not in sub.output, path  # the old spelling stays hidden
        if path[0] == "batch":  # many outputs: --resume/--no-resume decides what is redone
            assert "--resume / --no-resume" in sub.output, path
        m = re.search(r"--overwrite\s+(\S.*)", sub.output)
        assert m is not None and len(m.group(1)) > 10, (path, sub.output)
    writers = [["physics"], ["composite"], ["predict"], ["batch", "physics"], ["batch", "predict"]]
    for args in writers:  # every raster writer
        sub = runner.invoke(main, [*args, "--help"]).output
        assert "--co NAME=VALUE" in sub and "--cog" in sub, args


def test_old_out_spelling_still_works(tmp_path: Path) -> None:
    arr = np.full((8, 64, 64), 0.2, dtype=np.float32)
    arr[7] = 290.0  # B10: a brightness temperature (tiles checks the composite's bands)
    comp = write_composite(tmp_path / "c.tif", arr)
    lst = write_lst(
        tmp_path / "l.tif",
        np.full((64, 64), 300.0, dtype=np.float32),
        origin=(500_000.0, 3_400_000.0),
    )
    runner = CliRunner()
    old = runner.invoke(main, ["tiles", str(comp), str(lst), "--out", str(tmp_path / "ds"),
                               "--tile", "32", "--stride", "32"])  # fmt: skip
    assert old.exit_code == 0, old.output
    assert "--out is deprecated; use -o/--output" in old.output
    assert len(list((tmp_path / "ds").rglob("*.tif"))) >= 4
    both = runner.invoke(main, ["tiles", str(comp), str(lst), "--out", "x", "-o", "y"])
    assert both.exit_code == 2 and "once" in both.output
    none = runner.invoke(main, ["tiles", str(comp), str(lst)])
    assert none.exit_code == 2 and "Missing option '-o' / '--output'" in none.output


_EVERY_WRITER = [
    ["physics"], ["predict"], ["quicklook"], ["compare", "LST"], ["view"], ["composite"],
    ["cube"], ["batch", "physics"], ["batch", "predict"],
]  # fmt: skip


@pytest.mark.parametrize("command", _EVERY_WRITER)
def test_a_missing_output_is_a_usage_error(
    command: list[str], sample_scene: Path, tmp_path: Path
) -> None:
    lst = write_lst(tmp_path / "l.tif", lst_values())
    takes_lst = command[0] in ("quicklook", "compare", "view", "cube")
    args = [a.replace("LST", str(lst)) for a in command] + [str(lst if takes_lst else sample_scene)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert "Missing option '-o' / '--output'" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == [lst]


def test_room_clis_import_shared_options_not_the_group() -> None:
    # the group loads the rooms' commands; a room importing it back would be a hidden cycle
    package = REPO / "pix2lst"
    room_clis = sorted(package.glob("*/cli.py"))
    assert {p.parent.name for p in room_clis} >= {
        "batch",
        "export",
        "lst_physics",
        "runtime",
        "viz",
    }
    for path in [*room_clis, *sorted((package / "viz").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""] if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            )  # fmt: skip
            for name in names:
                assert name != "pix2lst.cli", f"{path} imports pix2lst.cli"
                if path.parent.name == "viz":
                    assert not name.startswith("pix2lst.batch"), f"{path} imports {name}"
    code = (
        "import sys\n"
        "import pix2lst.viz.cli, pix2lst.lst_physics.cli, pix2lst.runtime.cli\n"
        "print(sorted(m for m in sys.modules if m in ('pix2lst.cli', 'pix2lst.batch')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_quiet_prints_nothing_but_errors(sample_scene: Path, tmp_path: Path) -> None:
    small = crop_scene(tmp_path / "scene", size=64)
    lst = write_lst(tmp_path / "l.tif", lst_values())
    warm = write_lst(tmp_path / "w.tif", lst_values(warm=2.0))
    comp = write_composite(tmp_path / "c.tif", np.full((8, 64, 64), 0.2, dtype=np.float32))
    model = make_model(tmp_path / "m.onnx", "constant", tile=32)
    out = tmp_path / "out"
    out.mkdir()
    runs = {
        "physics": ["physics", str(small), "-o", str(out / "p.tif")],
        "composite": ["composite", str(small), "-o", str(out / "c.tif")],
        "predict": ["predict", str(comp), "-o", str(out / "m.tif"), "--model", str(model),
                    "--providers", "cpu"],
        "quicklook": ["quicklook", str(lst), "-o", str(out / "q.png")],
        "compare": ["compare", str(lst), str(warm), "-o", str(out / "d.png")],
        "view": ["view", str(lst), str(warm), "-o", str(out / "v.html")],
    }  # fmt: skip
    runner = CliRunner()
    for name, args in runs.items():
        quiet = runner.invoke(main, ["-q", *args])
        assert quiet.exit_code == 0, (name, quiet.output)
        assert quiet.output == "", (name, quiet.output)
        assert Path(args[args.index("-o") + 1]).stat().st_size > 0, name
        loud = runner.invoke(main, [*args, "--overwrite"])  # the same run reports what it did
        assert loud.exit_code == 0 and loud.stdout.strip(), (name, loud.output)
    # an error still reaches the terminal under -q
    again = runner.invoke(main, ["-q", *runs["quicklook"]])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_the_shell_completes_paths_of_scene_and_lst_arguments() -> None:
    from click.shell_completion import BashComplete

    def complete(*words: str) -> list[tuple[str, str]]:
        shell = BashComplete(main, {}, "pix2lst", "_PIX2LST_COMPLETE")
        items = shell.get_completions(list(words[:-1]), words[-1])
        return [(item.type, item.value) for item in items]

    for command in ("physics", "composite", "predict", "info", "quicklook", "compare", "view"):
        # "file": the shell lists files and folders (click's completion protocol)
        assert complete(command, "pix2lst/da") == [("file", "pix2lst/da")], command
    assert complete("predict", "https://example.com/L") == []  # a URL is not a local path
    for words in (("batch", "physics", "pix2lst/da"), ("cube", "pix2lst/da")):
        assert complete(*words) == [("file", "pix2lst/da")], words


@pytest.mark.parametrize("co", ["COMPRESS=NOPE", "FOO=BAR", "NBITS=8", "BLOCKXSIZE=100"])
def test_creation_options_gdal_refuses_stop_every_writer_first(
    co: str, sample_scene: Path, tmp_path: Path
) -> None:
    model = make_model(tmp_path / "m.onnx", "constant", tile=32)
    out = tmp_path / "out"
    commands = [
        ["physics", str(sample_scene), "-o", str(out / "p.tif")],
        ["composite", str(sample_scene), "-o", str(out / "c.tif")],
        ["predict", str(sample_scene), "-o", str(out / "m.tif"), "--model", str(model)],
        ["batch", "physics", str(sample_scene), "-o", str(out)],
        ["batch", "predict", str(sample_scene), "-o", str(out), "--model", str(model)],
    ]
    for args in commands:
        for cog in ([], ["--cog"]):
            result = CliRunner().invoke(main, [*args, *cog, "--co", co])
            assert result.exit_code == 2, (args, cog, result.output)
            errors = [line for line in result.output.splitlines() if line.startswith("Error")]
            assert len(errors) == 1 and f"does not accept --co {co}" in errors[0], result.output
            assert ("COG driver" if cog else "GTiff driver") in errors[0], errors
            assert not out.exists()  # refused before any work


def test_co_values_are_parsed() -> None:
    from pix2lst._cli_options import co_option

    @click.command()
    @co_option
    def cmd(creation_options: dict[str, str]) -> None:
        click.echo(json.dumps(creation_options, sort_keys=True))

    ok = CliRunner().invoke(cmd, ["--co", "compress=ZSTD", "--co", "BLOCKXSIZE = 512"])
    assert ok.exit_code == 0 and json.loads(ok.output) == {"blockxsize": "512", "compress": "ZSTD"}
    bad = CliRunner().invoke(cmd, ["--co", "COMPRESS"])
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pix2lst.cli ARGS`` with stdout and stderr piped (not a terminal)."""
    cmd = [sys.executable, "-m", "pix2lst.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)


def test_verbosity_raises_only_pix2lst_logger(tmp_path: Path) -> None:
    lst = write_lst(tmp_path / "l.tif", lst_values())
    quiet = _run("quicklook", str(lst), "-o", str(tmp_path / "a.png"))
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr and "DEBUG" not in quiet.stderr
    loud = _run("-vv", "quicklook", str(lst), "-o", str(tmp_path / "b.png"))
    assert loud.returncode == 0, loud.stderr
    assert "INFO pix2lst.viz.quicklook: quicklook" in loud.stderr
    other = [
        line
        for line in loud.stderr.splitlines()
        if not line.startswith(("INFO pix2lst", "DEBUG pix2lst"))
    ]
    assert not [line for line in other if "rasterio" in line or "DEBUG" in line], other
    q = _run("-q", "quicklook", str(lst), "-o", str(tmp_path / "c.png"))
    assert q.returncode == 0 and q.stderr == ""


def test_quiet_holds_back_library_and_gdal_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pix2lst._cli_options import configure_logging

    scene = crop_scene(tmp_path / "scene", size=48)
    # avdan emissivity warns (Python warnings); -q shows errors only
    args = ["physics", str(scene), "--emissivity", "avdan"]
    loud = _run(*args, "-o", str(tmp_path / "a.tif"))
    assert loud.returncode == 0 and "avdan" in loud.stderr, loud.stderr
    quiet = _run("-q", *args, "-o", str(tmp_path / "b.tif"))
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""

    def gdal_warning(name: str) -> None:  # GDAL says it ignores an unknown creation option
        profile = {"driver": "GTiff", "width": 4, "height": 4, "count": 1, "dtype": "uint8"}
        with rasterio.open(tmp_path / name, "w", **profile, foo="bar") as ds:
            ds.write(np.zeros((1, 4, 4), dtype=np.uint8))

    for is_quiet in (False, True):
        restore = configure_logging(0, is_quiet)
        try:
            gdal_warning(f"q{is_quiet}.tif")
        finally:
            restore()
        said = capsys.readouterr().err
        assert ("does not support creation option FOO" in said) is not is_quiet, said


def test_progress_bars_only_on_a_terminal(tmp_path: Path) -> None:
    comp = write_composite(tmp_path / "c.tif", np.full((8, 96, 96), 0.2, dtype=np.float32))
    model = make_model(tmp_path / "m.onnx", "constant", tile=32)
    r = _run("predict", str(comp), "-o", str(tmp_path / "p.tif"), "--model", str(model),
             "--providers", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "tile/s" not in r.stderr and "it/s" not in r.stderr
    assert "tiles" in r.stdout  # the summary line still comes


def test_light_commands_never_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from click.testing import CliRunner\n"
        "from pix2lst.cli import main\n"
        "for name in ('physics', 'composite', 'predict', 'info', 'quicklook', 'compare', 'view',\n"
        "             'demo'):\n"
        "    r = CliRunner().invoke(main, [name, '--help'])\n"
        "    assert r.exit_code == 0, (name, r.output)\n"
        "r = CliRunner().invoke(main, ['train', sys.argv[1], '-o', sys.argv[2]])\n"
        "print(r.exit_code, r.output)\n"
    )
    args = [sys.executable, "-c", code, str(tmp_path), str(tmp_path / "model")]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    # with torch missing, the training command says what to install instead of crashing
    assert out.stdout.startswith("1 ")
    assert "needs torch, which is not installed" in out.stdout and "torch==2.13.0" in out.stdout


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    assert default_model_path().is_file(), "the default model must ship inside the package"
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = ["lst_physics.tif", "lst_model.tif", "lst_physics.png", "lst_model.png",
                "true_colour.png", "compare_physics_vs_model.png", "viewer.html"]  # fmt: skip
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in result.output
    for png in ("lst_physics", "lst_model", "true_colour"):  # georeferenced quicklooks
        assert (out / f"{png}.pgw").is_file() and (out / f"{png}.png.aux.xml").is_file()
    assert "RMSE" in result.output and "clear pixels" in result.output
    with rasterio.open(out / "lst_physics.tif") as a, rasterio.open(out / "lst_model.tif") as b:
        phys, model = a.read(1), b.read(1)
        assert a.transform == b.transform and a.crs == b.crs
        assert a.tags()["CLOUD_MASK"] == "True"  # the demo masks the sample's cumulus
    clear = np.isfinite(phys)
    assert 0.3 < clear.mean() < 0.95, clear.mean()
    assert np.isfinite(model).mean() > 0.99
    ok = clear & np.isfinite(model)
    rmse = float(np.sqrt(np.mean((phys[ok] - model[ok]) ** 2)))
    assert rmse < 3.0, f"the shipped model is {rmse:.2f} K from the physics on the sample"
    # the figures say what was masked and that the sample's MTL date is borrowed
    page = (out / "viewer.html").read_text(encoding="utf-8")
    assert "masked" in page and "2015-01-22" in page and "borrowed" in page
    # a second run without --overwrite refuses and keeps the outputs
    before = (out / "lst_model.tif").stat().st_mtime_ns
    again = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert again.exit_code != 0 and "--overwrite" in again.output
    assert (out / "lst_model.tif").stat().st_mtime_ns == before
