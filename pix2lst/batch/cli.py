"""``pix2lst batch physics|predict`` and ``pix2lst cube``: thin commands over :mod:`pix2lst.batch`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pix2lst._cli_options import (
    co_option,
    cog_option,
    output_option,
    overwrite_option,
    progress_bar,
)

__all__ = ["LST_INPUT", "LstInput", "batch", "cube"]


class LstInput(click.ParamType):
    """An LST GeoTIFF, or one time of a cube as ``CUBE.zarr@WHEN`` (a date or scene id).

    A cube time is written to a temporary LST GeoTIFF (removed when the command
    ends), so that the figures and the viewer read it like any LST raster.
    """

    name = "lst"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        cube_path, at, when = text.rpartition("@")
        if at and not Path(text).exists() and Path(cube_path).is_dir():
            import shutil
            import tempfile

            from pix2lst.batch.cube import cube_layers, write_layer
            from pix2lst.errors import Pix2LstError

            try:
                ((values, grid, tags),) = cube_layers(cube_path, [when])
            except (Pix2LstError, ModuleNotFoundError) as exc:
                self.fail(f"{text}: {exc}", param, ctx)
            tmp = Path(tempfile.mkdtemp(prefix="pix2lst-cube-"))
            if ctx is not None:
                ctx.call_on_close(lambda: shutil.rmtree(tmp, ignore_errors=True))
            name = f"{tags['SCENE_ID']}_{tags['DATE_ACQUIRED']}.tif"
            return write_layer(values, grid, tags, tmp / name)
        path = Path(text)
        if not path.exists():
            self.fail(f"{text} does not exist (an LST GeoTIFF, or CUBE.zarr@DATE)", param, ctx)
        return path


LST_INPUT = LstInput()


def _run(task: str, options: Any, kw: dict[str, Any]) -> None:
    from pix2lst.batch.manifest import MANIFEST_NAME
    from pix2lst.batch.runner import run

    with progress_bar(total=0, unit="scene", desc=f"batch {task}") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        rows = run(
            kw["inputs"], kw["output"], task,  # type: ignore[arg-type]
            workers=kw["workers"], scheduler=kw["scheduler"], retries=kw["retries"],
            resume=kw["resume"] and not kw["overwrite"], cube=kw["cube"], options=options, progress=progress,
        )  # fmt: skip
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "skipped", "failed")}
    for r in rows:
        if r.status == "failed":
            click.echo(f"failed: {r.input}: {r.error}", err=True)
    click.echo(
        f"{len(rows)} scene(s): {counts['ok']} ok, {counts['skipped']} skipped, "
        f"{counts['failed']} failed; manifest {kw['output'] / MANIFEST_NAME}"
        + (f"; cube {kw['cube']}" if kw["cube"] else "")
    )
    if counts["failed"]:
        raise click.exceptions.Exit(1)


_DEFAULTS = {
    "method": "planck", "emissivity": "sobrino", "mask_clouds": False,
    "model": None, "providers": "auto", "batch_size": 8, "padding": None, "blend": "hann",
}  # fmt: skip
_PHYSICS_ONLY = ("method", "emissivity", "mask_clouds")
_PREDICT_ONLY = ("model", "providers", "batch_size", "padding", "blend")


@click.command(name="batch")
@click.argument("task", metavar="TASK", type=click.Choice(["physics", "predict"]))
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True)
@output_option("Output folder: <scene id>.tif per scene and manifest.csv.", file_okay=False)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes [default: sized to this machine].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="A running Dask scheduler (e.g. tcp://host:8786) instead of a local cluster.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Extra tries of a scene after a network or I/O fault.",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Skip scenes whose output is complete (else recompute them).",
)
@overwrite_option("Recompute and replace outputs that exist (the same as --no-resume).")
@click.option(
    "--cube",
    type=click.Path(path_type=Path),
    default=None,
    help="Also stack the outputs into a Zarr time-series cube at this path.",
)
@click.option("--units", type=click.Choice(["K", "C"]), default="K", show_default=True)
@cog_option
@co_option
@click.option(
    "--method",
    type=click.Choice(["planck", "rte"]),
    default="planck",
    show_default=True,
    help="physics: planck (B10 BT + emissivity) or rte (USGS inversion of L2 ST_* bands).",
)
@click.option(
    "--emissivity",
    type=click.Choice(["sobrino", "avdan"]),
    default="sobrino",
    show_default=True,
    help="physics: NDVI emissivity method.",
)
@click.option("--mask-clouds", is_flag=True, help="physics: set cloud, shadow, cirrus to nodata.")
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="predict: ONNX model with pix2lst metadata, at this path on every worker "
    "[default: the shipped model].",
)
@click.option(
    "--providers", default="auto", show_default=True, help="predict: auto | cpu | cuda | ..."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="predict: tiles per ONNX Runtime run.",
)
@click.option(
    "--padding",
    type=click.IntRange(min=0),
    default=None,
    help="predict: tile border blended with neighbours [default: tile/4].",
)
@click.option(
    "--blend",
    type=click.Choice(["hann", "linear", "crop"]),
    default="hann",
    show_default=True,
    help="predict: tile blending window.",
)
def batch(task: str, **kw: Any) -> None:
    """Run TASK (physics or predict) on every INPUT with Dask, into OUTPUT/<scene id>.tif.

    INPUT: scene folders or MTL files, MTL URLs (https://, s3://, /vsicurl/), STAC
    items or ItemCollections (.json file or URL), globs, or @list.txt (one a line).
    Runs on a local cluster sized to this machine, or on the Dask cluster at
    --scheduler. OUTPUT/manifest.csv records each scene (ok, failed, skipped); the
    exit code is 1 when any scene failed.
    """
    from pix2lst.batch.tasks import PhysicsOptions, PredictOptions

    if kw["workers"] is not None and kw["scheduler"] is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    other = _PREDICT_ONLY if task == "physics" else _PHYSICS_ONLY
    for name in other:
        if kw[name] != _DEFAULTS[name]:
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(
                f"{flag} applies to `pix2lst batch {'predict' if task == 'physics' else 'physics'}`, not to {task}"
            )
    co = tuple(sorted(kw["creation_options"].items()))
    options: PhysicsOptions | PredictOptions
    if task == "physics":
        options = PhysicsOptions(
            kw["method"], kw["emissivity"], kw["units"], kw["mask_clouds"], kw["cog"], co
        )
    else:
        model = kw["model"]
        if model is not None and not Path(model).is_file():
            raise click.BadParameter(f"{model} does not exist", param_hint="--model")
        options = PredictOptions(
            str(Path(model).resolve()) if model else None, kw["providers"], kw["batch_size"],
            kw["padding"], kw["blend"], kw["units"], kw["cog"], 0, co,
        )  # fmt: skip
    _run(task, options, kw)


@click.command(name="cube")
@click.argument("outputs", metavar="OUTPUT...", nargs=-1, required=True)
@output_option("The Zarr cube to write (a folder).")
@overwrite_option("Replace the cube if it exists.")
def cube(outputs: tuple[str, ...], output: Path, overwrite: bool) -> None:
    """Stack LST GeoTIFFs of one path/row into a Zarr time-series cube (time, y, x).

    OUTPUT: LST GeoTIFFs written by pix2lst (physics, predict, batch), or globs.
    """
    import glob

    from pix2lst.batch.cube import write_cube

    paths: list[Path] = []
    for arg in outputs:
        if any(c in arg for c in "*?["):
            matches = sorted(glob.glob(arg))
            if not matches:
                raise click.BadParameter(
                    f"the pattern {arg!r} matched no file", param_hint="OUTPUT"
                )
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(Path(arg))
    ds = write_cube(paths, output, overwrite=overwrite)
    times = ", ".join(str(t)[:19] for t in ds["time"].values)
    click.echo(f"wrote {output}: {ds.sizes['time']} x {ds.sizes['y']} x {ds.sizes['x']} ({times})")
