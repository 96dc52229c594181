"""``pix2lst predict``: a thin click command over :class:`~pix2lst.runtime.LSTPredictor`."""

from __future__ import annotations

from pathlib import Path

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
    tiling_option,
)
from pix2lst.runtime.blending import BLENDS
from pix2lst.runtime.priority import IO_PRIORITIES
from pix2lst.runtime.tiling import TILINGS

__all__ = ["predict"]


@click.command(name="predict")
@click.argument("input_path", metavar="INPUT", type=SCENE_INPUT)
@output_option("LST GeoTIFF to write.", dir_okay=False)
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
    help="auto | cpu | cuda | tensorrt | openvino, or a comma list.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Tiles per batch (a 512 px tile is 4x the pixels of a 256 px one). "
    "Default: 8 tiles shared by the sessions (8 // sessions per batch).",
)
@tile_size_option
@click.option(
    "--padding",
    type=click.IntRange(min=0),
    default=None,
    help="Tile border blended with neighbours (ArcGIS meaning) [default: the model's tile/4].",
)
@click.option("--blend", type=click.Choice(BLENDS), default="hann", show_default=True)
@click.option("--units", type=click.Choice(["K", "C"]), default="K", show_default=True)
@click.option(
    "--io-priority",
    type=click.Choice(IO_PRIORITIES),
    default="auto",
    show_default=True,
    help="idle: reading and writing use only CPU time inference leaves (Linux); "
    "normal: as any thread, e.g. when other busy programs share the machine; "
    "auto: idle when the model runs on the CPU, normal on a GPU.",
)
@click.option(
    "--sessions",
    default="auto",
    show_default=True,
    help="N | auto: ONNX Runtime sessions running batches in parallel, each with cores/N "
    "threads (auto: one per 4 cores on a CPU, one per GPU).",
)
@tiling_option(TILINGS)
@cog_option
@co_option
@overwrite_option()
def predict(
    input_path: Path | str,
    output: Path,
    model: Path | None,
    providers: str,
    batch_size: int | None,
    tile_size: int | None,
    padding: int | None,
    blend: str,
    units: str,
    io_priority: str,
    sessions: str,
    tiling: str,
    cog: bool,
    creation_options: dict[str, str],
    overwrite: bool,
) -> None:
    """Predict LST for INPUT (a composite GeoTIFF, a scene folder or MTL, an MTL URL or a STAC item)."""
    from pix2lst.errors import ParameterError
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_scene
    from pix2lst.geo.writer import check_raster_output
    from pix2lst.runtime.predictor import LSTPredictor

    check_raster_output(output, overwrite=overwrite, inputs=[input_path, model])
    if isinstance(input_path, Path) and is_scene(input_path):  # checked before the model loads
        find_scene(input_path)
    predictor = LSTPredictor(
        model,
        providers=providers,
        batch_size=batch_size,
        tile_size=tile_size,
        padding=padding,
        blend=blend,
        io_priority=io_priority,
        sessions=sessions,
        tiling=tiling,
    )
    tile = predictor.tile_size
    if padding is not None and tile - 2 * padding < max(tile // 8, 1):
        raise ParameterError(
            f"--padding {padding} leaves a stride of {tile - 2 * padding} px between "
            f"{tile} px tiles: every pixel would be predicted about "
            f"{(tile // max(tile - 2 * padding, 1)) ** 2} times. Use --padding "
            f"{(tile - max(tile // 8, 1)) // 2} or less (default {predictor.metadata.tile_size // 4})"
        )
    with progress_callback("predict", "tile") as progress:
        summary = predictor.predict_file(
            input_path, output, units=units, cog=cog, overwrite=overwrite, progress=progress,
            creation_options=creation_options,
        )  # fmt: skip
    echo_result(summary.line())
