"""``pix2lst predict``: a thin click command over :class:`~pix2lst.runtime.LSTPredictor`.

Its options are the data's (model, providers, tile, padding, blend, batch, units,
sessions, output, ``--cog``, ``--co``, ``--overwrite``, the atmosphere); the rest of the
layout is the predictor's :class:`~pix2lst.runtime.plan.Plan`, which ``--explain``
prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pix2lst._cli_options import (
    SCENE_INPUT,
    co_option,
    cog_option,
    echo_result,
    output_option,
    overwrite_option,
    progress_callback,
    tile_size_option,
)
from pix2lst.lst_physics.cli import atmosphere_options
from pix2lst.runtime.blending import BLENDS

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereSpec

__all__ = ["predict"]


@click.command(name="predict")
@click.argument("input_path", metavar="INPUT", type=SCENE_INPUT)
@output_option("LST GeoTIFF to write.", dir_okay=False, required=False)
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="ONNX model with pix2lst metadata [default: the shipped model].",
)
@click.option(
    "--providers",
    default="auto",
    show_default=True,
    help="auto (CUDA, then CPU) | cpu | cuda | tensorrt | openvino, or a comma list.",
)
@tile_size_option
@click.option(
    "--padding",
    type=click.IntRange(min=0),
    default=None,
    help="Tile border blended with neighbours (ArcGIS meaning) [default: the model's tile/4].",
)
@click.option("--blend", type=click.Choice(BLENDS), default="hann", show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Tiles per batch (a 512 px tile is 4x the pixels of a 256 px one) "
    "[default: 8 shared by the sessions].",
)
@click.option("--units", type=click.Choice(["K", "C"]), default="K", show_default=True)
@click.option(
    "--sessions",
    default="auto",
    show_default=True,
    help="N | auto: ONNX Runtime sessions running batches in parallel, at most the usable "
    "cores (auto: one per 4 cores on a CPU, at least 2; one on a GPU).",
)
@cog_option
@co_option
@overwrite_option()
@atmosphere_options
@click.option(
    "--explain",
    is_flag=True,
    help="Print the plan (provider, sessions, threads, batch, tile, readers...) and exit "
    "without predicting.",
)
def predict(
    input_path: Path | str,
    output: Path | None,
    model: Path | None,
    providers: str,
    tile_size: int | None,
    padding: int | None,
    blend: str,
    batch_size: int | None,
    units: str,
    sessions: str,
    cog: bool,
    creation_options: dict[str, str],
    overwrite: bool,
    atmosphere: AtmosphereSpec,
    explain: bool,
) -> None:
    """Predict LST for INPUT (a composite GeoTIFF, a scene folder or MTL, an MTL URL or a STAC item)."""
    from pix2lst.errors import ParameterError
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_scene
    from pix2lst.geo.writer import check_raster_output
    from pix2lst.runtime.predictor import LSTPredictor

    if not explain:
        if output is None:
            raise click.UsageError("Missing option '-o' / '--output'.")
        check_raster_output(output, overwrite=overwrite, inputs=[input_path, model])
    if isinstance(input_path, Path) and is_scene(input_path):  # checked before the model loads
        find_scene(input_path)
    predictor = LSTPredictor(
        model, providers=providers, batch_size=batch_size, tile_size=tile_size,
        padding=padding, blend=blend, sessions=sessions,
    )  # fmt: skip
    tile = predictor.tile_size
    if padding is not None and tile - 2 * padding < max(tile // 8, 1):
        raise ParameterError(
            f"--padding {padding} leaves a stride of {tile - 2 * padding} px between "
            f"{tile} px tiles: every pixel would be predicted about "
            f"{(tile // max(tile - 2 * padding, 1)) ** 2} times. Use --padding "
            f"{(tile - max(tile // 8, 1)) // 2} or less (default {predictor.metadata.tile_size // 4})"
        )
    if explain or output is None:  # without --explain the output was checked above
        click.echo(predictor.explain())
        return
    with progress_callback("predict", "tile") as progress:
        summary = predictor.predict_file(
            input_path, output, units=units, cog=cog, overwrite=overwrite, progress=progress,
            creation_options=creation_options, atmosphere=atmosphere,
        )  # fmt: skip
    echo_result(summary.line())
