"""``pix2lst batch physics|predict`` and ``pix2lst cube``: thin commands over :mod:`pix2lst.batch`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pix2lst._cli_options import (
    co_option,
    complete_paths,
    echo_result,
    output_option,
    overwrite_option,
    progress_callback,
    tile_size_option,
)
from pix2lst.lst_physics.cli import atmosphere_options

__all__ = ["batch", "cube"]

_INPUTS = click.argument(
    "inputs", metavar="INPUT...", nargs=-1, required=True,
    shell_complete=lambda ctx, param, incomplete: complete_paths(incomplete),
)  # fmt: skip
_OUTDIR = output_option(
    "Output folder: <scene id>.tif per scene and manifest.csv.", file_okay=False
)


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            _INPUTS,
            _OUTDIR,
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=None,
                help="Local worker processes [default: sized to this machine].",
            ),
            click.option(
                "--scheduler",
                metavar="ADDRESS",
                default=None,
                help="A running Dask scheduler (e.g. tcp://host:8786) instead of a local cluster.",
            ),
            click.option(
                "--retries",
                type=click.IntRange(min=0),
                default=2,
                show_default=True,
                help="Extra tries of a scene after a network or I/O fault.",
            ),
            click.option(
                "--resume/--no-resume",
                default=True,
                show_default=True,
                help="Skip scenes whose output is complete (else recompute them).",
            ),
            click.option(
                "--cube",
                type=click.Path(path_type=Path),
                default=None,
                help="Also stack the outputs into a Zarr time-series cube at this path.",
            ),
            overwrite_option(
                "Replace existing outputs that --resume does not skip, and the --cube."
            ),
            click.option("--cog", is_flag=True, help="Write Cloud-Optimised GeoTIFFs."),
            co_option,
            click.option("--units", type=click.Choice(["K", "C"]), default="K", show_default=True),
        ]
    ):
        f = option(f)
    return f


def _run(task: str, options: Any, kw: dict[str, Any]) -> None:
    from pix2lst.batch.manifest import MANIFEST_NAME
    from pix2lst.batch.runner import run

    if kw["workers"] is not None and kw["scheduler"] is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    with progress_callback(f"batch {task}", "scene") as progress:
        rows = run(
            kw["inputs"], kw["output"], task,  # type: ignore[arg-type]
            workers=kw["workers"], scheduler=kw["scheduler"], retries=kw["retries"],
            resume=kw["resume"], cube=kw["cube"], options=options, progress=progress,
            overwrite=kw["overwrite"],
        )  # fmt: skip
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "skipped", "failed")}
    for r in rows:
        if r.status == "failed":
            click.echo(f"failed: {r.input}: {r.error}", err=True)
    echo_result(
        f"{len(rows)} scene(s): {counts['ok']} ok, {counts['skipped']} skipped, "
        f"{counts['failed']} failed; manifest {kw['output'] / MANIFEST_NAME}"
        + (f"; cube {rows.cube}" if rows.cube is not None else "")
        + ("; no cube written (no scene succeeded)" if kw["cube"] and rows.cube is None else "")
    )
    if counts["failed"]:
        raise click.exceptions.Exit(1)


@click.group(name="batch")
def batch() -> None:
    """Run physics or predict on many scenes with Dask (local cluster or a scheduler).

    INPUT: scene folders or MTL files, MTL URLs (https://, s3://, /vsicurl/), STAC
    items or ItemCollections (.json file or URL), globs, or @list.txt (one a line).
    Exit code 1 when any scene failed (see OUTDIR/manifest.csv).
    """


@batch.command(name="physics")
@_common
@click.option(
    "--method", type=click.Choice(["planck", "rte"]), default="planck", show_default=True,
    help="planck: single-channel from B10 BT + emissivity; rte: USGS inversion of L2 ST_* bands.",
)  # fmt: skip
@click.option(
    "--emissivity", type=click.Choice(["sobrino", "avdan"]), default="sobrino", show_default=True
)
@click.option("--mask-clouds", is_flag=True, help="Set cloud, shadow and cirrus to nodata.")
@atmosphere_options
def physics(method: str, emissivity: str, mask_clouds: bool, **kw: Any) -> None:
    """LST of every INPUT with the physics chain, into OUTDIR/<scene id>.tif."""
    from pix2lst.batch.tasks import PhysicsOptions

    options = PhysicsOptions(
        method, emissivity, kw.pop("units"), mask_clouds, kw.pop("cog"),
        creation_options=tuple(kw.pop("creation_options").items()),
        atmosphere=kw.pop("atmosphere"),
    )  # fmt: skip
    _run("physics", options, kw)


@batch.command(name="predict")
@_common
@click.option(
    "--model", type=click.Path(dir_okay=False), default=None,
    help="ONNX model with pix2lst metadata (at this path on every worker) [default: shipped].",
)  # fmt: skip
@click.option("--providers", default="auto", show_default=True, help="auto | cpu | cuda | ...")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@tile_size_option
@click.option("--padding", type=click.IntRange(min=0), default=None, help="[default: tile/4]")
@click.option(
    "--blend", type=click.Choice(["hann", "linear", "crop"]), default="hann", show_default=True
)
@atmosphere_options
def predict(
    model: str | None,
    providers: str,
    batch_size: int,
    tile_size: int | None,
    padding: int | None,
    blend: str,
    **kw: Any,
) -> None:
    """LST of every INPUT predicted by an ONNX model, into OUTDIR/<scene id>.tif."""
    from pix2lst.batch.tasks import PredictOptions

    if model is not None and not Path(model).is_file():
        raise click.BadParameter(f"{model} does not exist", param_hint="--model")
    options = PredictOptions(
        str(Path(model).resolve()) if model else None, providers, batch_size, padding, blend,
        kw.pop("units"), kw.pop("cog"),
        creation_options=tuple(kw.pop("creation_options").items()), tile_size=tile_size,
        atmosphere=kw.pop("atmosphere"),
    )  # fmt: skip
    _run("predict", options, kw)


@click.command(name="cube")
@click.argument(
    "outputs", metavar="OUTPUT...", nargs=-1, required=True,
    shell_complete=lambda ctx, param, incomplete: complete_paths(incomplete),
)  # fmt: skip
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
    echo_result(f"wrote {output}: {ds.sizes['time']} x {ds.sizes['y']} x {ds.sizes['x']} ({times})")
