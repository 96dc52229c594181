"""``pix2lst quicklook``, ``pix2lst compare`` and ``pix2lst view``: thin click commands."""

from __future__ import annotations

from pathlib import Path

import click

from pix2lst._cli_options import LST_INPUT, echo_result, output_option, overwrite_option

__all__ = ["compare", "quicklook", "view"]


def _check_clip(
    ctx: click.Context, param: click.Parameter, value: tuple[float, float]
) -> tuple[float, float]:
    low, high = value
    if not 0.0 <= low < high <= 100.0:
        raise click.BadParameter(f"need 0 <= LOW < HIGH <= 100, got {low:g} {high:g}")
    return value


_clip = click.option(
    "--clip",
    callback=_check_clip,
    nargs=2,
    type=float,
    default=(2.0, 98.0),
    show_default=True,
    metavar="LOW HIGH",
    help="Percent-clip stretch of the colour scale.",
)
_cmap = click.option(
    "--cmap",
    default=None,
    metavar="NAME",
    help="Colour map of the LST panes: any matplotlib name, e.g. viridis, inferno, "
    "RdYlGn_r (the arcgis.learn notebook's) [default: RdYlBu_r, colour-blind safe, the "
    "colour map of the QGIS style beside each LST GeoTIFF].",
)
_overwrite = overwrite_option()
_resample = click.option(
    "--resample",
    is_flag=True,
    help="Warp rasters on another grid onto the first one's (bilinear) instead of refusing.",
)
_rgb = click.option(
    "--rgb",
    "rgb",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Scene folder or composite GeoTIFF to show in true colour (B4, B3, B2).",
)
_mask = click.option(
    "--mask",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Raster on the same grid whose nodata pixels are hidden in the LST maps too "
    "(e.g. an LST written by 'pix2lst physics --mask-clouds').",
)


_input = LST_INPUT  # an LST GeoTIFF, or one time of a cube: CUBE.zarr@DATE


@click.command()
@click.argument("src", type=_input)
@output_option("PNG to write (a world file .pgw and .aux.xml go beside it).", dir_okay=False)
@click.option(
    "--rgb",
    "as_rgb",
    is_flag=True,
    help="SRC is a scene folder or composite: write its true-colour image instead.",
)
@_cmap
@_clip
@_mask
@_overwrite
def quicklook(
    src: Path, output: Path, as_rgb: bool, cmap: str | None, clip: tuple[float, float],
    mask: Path | None, overwrite: bool,
) -> None:  # fmt: skip
    """Colour-mapped PNG map of the LST GeoTIFF SRC.

    Colour bar in °C, nodata transparent, easting/northing and latitude/longitude
    ticks, scale bar and north arrow; a world file (.pgw) and .png.aux.xml (CRS)
    beside the PNG let a GIS place it.
    """
    from pix2lst.viz.quicklook import quicklook as _quicklook
    from pix2lst.viz.quicklook import rgb_quicklook

    if as_rgb:
        rgb_quicklook(src, output, clip=clip, overwrite=overwrite)
    else:
        _quicklook(src, output, cmap=cmap, clip=clip, overwrite=overwrite, mask=mask)
    echo_result(str(output))


@click.command()
@click.argument("a", type=_input)
@click.argument("b", type=_input)
@output_option("PNG to write.", dir_okay=False)
@_rgb
@_resample
@_cmap
@_clip
@_mask
@_overwrite
def compare(
    a: Path,
    b: Path,
    output: Path,
    rgb: Path | None,
    resample: bool,
    cmap: str | None,
    clip: tuple[float, float],
    mask: Path | None,
    overwrite: bool,
) -> None:
    """A and B on one colour scale, B - A centred on zero, and true colour (--rgb), as maps."""
    from pix2lst.viz.compare import compare as _compare

    _compare(
        a, b, output, rgb=rgb, resample=resample, cmap=cmap, clip=clip, overwrite=overwrite,
        mask=mask,
    )  # fmt: skip
    echo_result(str(output))


@click.command()
@click.argument("layers", nargs=-1, required=True, type=_input)
@output_option("HTML file to write.", dir_okay=False)
@_rgb
@_resample
@_cmap
@_clip
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Cap on display pixels per layer (larger rasters are decimated, nearest pixel).",
)
@click.option("--title", default=None, help="Page title [default: the layers' labels].")
@click.option(
    "--difference/--no-difference",
    default=True,
    show_default=True,
    help="With two or more layers, a pane of the second minus the first (diverging scale).",
)
@_mask
@_overwrite
def view(
    layers: tuple[Path, ...],
    output: Path,
    rgb: Path | None,
    resample: bool,
    cmap: str | None,
    clip: tuple[float, float],
    max_pixels: int,
    title: str | None,
    difference: bool,
    mask: Path | None,
    overwrite: bool,
) -> None:
    """One offline HTML file: a synchronised pane per LST GeoTIFF (+ difference, true colour).

    The readout gives the temperature, latitude/longitude and map x/y under the
    cursor; a scale bar follows the zoom.
    """
    from pix2lst.viz.viewer import write_viewer

    write_viewer(
        layers,
        output,
        rgb=rgb,
        resample=resample,
        cmap=cmap,
        clip=clip,
        overwrite=overwrite,
        max_pixels=max_pixels,
        title=title,
        difference=difference,
        mask=mask,
    )
    echo_result(str(output))
