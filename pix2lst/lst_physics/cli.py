"""``pix2lst physics`` and ``pix2lst composite``: thin click commands over :mod:`pix2lst.lst_physics`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from pix2lst._cli_options import (
    SCENE_INPUT,
    co_option,
    cog_option,
    echo_result,
    output_option,
    overwrite_option,
    progress_callback,
)

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereSpec
    from pix2lst.lst_physics.calibrate import Units

__all__ = ["atmosphere_options", "composite", "physics", "validate"]


F = TypeVar("F", bound=Callable[..., Any])

_SCENE = click.argument("scene", type=SCENE_INPUT)
_OUT = output_option("GeoTIFF to write.", dir_okay=False)
_OVERWRITE = overwrite_option()


def atmosphere_options(f: F) -> F:
    """``--atmosphere TAU,LU,LD|FILE|bundle`` and ``--water-vapour CM|FILE``, parsed once.

    The command receives one ``atmosphere`` argument, a validated
    :class:`~pix2lst.lst_physics.atmosphere.AtmosphereSpec` (kind ``none`` when neither
    is given); bad values stop the command with one line before any work.
    """

    @functools.wraps(f)
    def wrapper(
        *args: Any, atmosphere_text: str | None, water_vapour: str | None, **kw: Any
    ) -> Any:
        from pix2lst.errors import ParameterError
        from pix2lst.lst_physics.atmosphere import parse_atmosphere

        try:
            spec = parse_atmosphere(atmosphere_text, water_vapour)
        except ParameterError as exc:
            raise click.ClickException(str(exc)) from None
        return f(*args, atmosphere=spec, **kw)

    wrapper = click.option(
        "--water-vapour", "water_vapour", metavar="CM|FILE", default=None,
        help="Total column water vapour in g/cm2 (a number or a 1-band raster): statistical "
        "mono-window correction (Ermida et al. 2020).",
    )(wrapper)  # fmt: skip
    wrapper = click.option(
        "--atmosphere", "atmosphere_text", metavar="TAU,LU,LD|FILE|bundle", default=None,
        help="Band-10 atmosphere: transmittance,upwelling,downwelling radiance (W/(m2 sr um)), "
        "a 3-band raster (or three files) covering the scene, or 'bundle' (the Level-2 "
        "scene's ST_ATRAN/URAD/DRAD). Default: no atmospheric correction.",
    )(wrapper)  # fmt: skip
    return wrapper  # type: ignore[return-value]


@click.command(name="physics")
@_SCENE
@_OUT
@click.option(
    "--emissivity", type=click.Choice(["sobrino", "avdan"]), default="sobrino", show_default=True,
    help="NDVI emissivity method (avdan depends on the scene NDVI range: not tile-stable).",
)  # fmt: skip
@click.option(
    "--method", type=click.Choice(["planck", "rte"]), default="planck", show_default=True,
    help="planck: single-channel from B10 BT + emissivity; rte: USGS inversion of L2 ST_* bands.",
)  # fmt: skip
@click.option("--units", type=click.Choice(["K", "C"]), default="K", show_default=True)
@click.option(
    "--mask-clouds", is_flag=True, help="Set cloud, shadow and cirrus (QA_PIXEL/BQA) to nodata."
)
@atmosphere_options
@cog_option
@co_option
@_OVERWRITE
def physics(
    scene: Path | str, output: Path, emissivity: str, method: str, units: str, mask_clouds: bool,
    atmosphere: AtmosphereSpec, cog: bool, creation_options: dict[str, str], overwrite: bool,
) -> None:  # fmt: skip
    """LST of SCENE (a folder or MTL file, an MTL URL, a STAC item) as a float32 GeoTIFF."""
    from pix2lst.lst_physics.lst import write_lst

    with progress_callback("LST", "row") as progress:
        path = write_lst(
            scene, output, method=method, emissivity=emissivity, units=units,  # type: ignore[arg-type]
            mask_clouds=mask_clouds, overwrite=overwrite, progress=progress, cog=cog,
            creation_options=creation_options, atmosphere=atmosphere,
        )  # fmt: skip
    echo_result(f"wrote {path}")


@click.command(name="composite")
@_SCENE
@_OUT
@click.option(
    "--units", type=click.Choice(["toa", "dn"]), default="toa", show_default=True,
    help="toa: TOA reflectance B1-B7 + brightness temperature (K) B10; dn: raw DN.",
)  # fmt: skip
@cog_option
@co_option
@_OVERWRITE
def composite(
    scene: Path | str, output: Path, units: str, cog: bool, creation_options: dict[str, str],
    overwrite: bool,
) -> None:  # fmt: skip
    """Write the 8-band B1-B7 + B10 composite of SCENE that the model consumes."""
    from pix2lst.lst_physics.composite import write_composite

    with progress_callback("composite", "row") as progress:
        path = write_composite(
            scene, output, units=cast("Units", units), overwrite=overwrite, progress=progress,
            cog=cog, creation_options=creation_options,
        )  # fmt: skip
    echo_result(f"wrote {path}")


@click.command(name="validate")
@click.argument("lst", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--reference", required=True, type=SCENE_INPUT,
    help="Collection-2 Level-2 scene (folder, MTL, URL or STAC item) with ST_B10 and QA_PIXEL.",
)  # fmt: skip
@click.option(
    "--all-pixels", is_flag=True, help="Every valid ST_B10 pixel, not only QA_PIXEL-clear ones."
)
@click.option("--json", "as_json", is_flag=True, help="Print (or write) the figures as JSON.")
@output_option(
    "Also write the report (text, or JSON with --json) to this file.",
    required=False,
    dir_okay=False,
)
@overwrite_option("Replace the report file if it exists.")
def validate(
    lst: Path, reference: Path | str, all_pixels: bool, as_json: bool, output: Path | None,
    overwrite: bool,
) -> None:  # fmt: skip
    """Compare the LST raster LST (K or degC) with USGS ST_B10 of a Level-2 scene.

    Prints n, bias, RMSE, MAE and the 95th/99th percentile of |LST - ST_B10| (K) on the
    reference's clear pixels, overall and by surface class (NDVI); the reference is
    resampled onto the LST's grid where they differ.
    """
    from pix2lst.geo.atomic import atomic_output, check_output
    from pix2lst.lst_physics.validate import validate_lst

    if output is not None:
        check_output(output, overwrite=overwrite, inputs=[lst, reference])
    result = validate_lst(lst, reference, clear_only=not all_pixels)
    text = result.to_json() if as_json else str(result)
    click.echo(text)
    if output is not None:
        with atomic_output(output, overwrite=overwrite, inputs=[lst, reference]) as tmp:
            tmp.write_text(text + "\n")
        echo_result(f"wrote {output}")
