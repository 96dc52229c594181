"""Whether an output already in a batch's folder is this run's: verified in full, tags matching.

``--resume`` keeps an output only when it reads back whole (the check the writer
makes before its rename, :func:`pix2lst.geo.verify.verify_raster`: every block
present and decoding) and when its tags say it is what the run would write: the
same kind (physics or a model's prediction), method, model (SHA-256), units, cloud
mask, emissivity, atmospheric correction (its kind and the values or files used),
tiling and layout (``--cog``). Anything else is recomputed
under ``--overwrite`` or refused with one line naming the difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pix2lst.batch.tasks import ModelFacts, PhysicsOptions, PredictOptions
from pix2lst.errors import OutputWriteError
from pix2lst.geo.units import parse_temperature_units

__all__ = ["expected_tags", "output_mismatch"]


def expected_tags(
    options: PredictOptions | PhysicsOptions, facts: ModelFacts | None = None
) -> dict[str, str]:
    """The tags an output of this run carries (those that say what it is, not when).

    ``facts``: the model's hash, run tile and padding (for a prediction; ``None`` when
    the model is only on the workers: the hash and tiling then go unchecked).
    """
    tags = {"PIX2LST_PRODUCT": "lst", "UNITS": str(parse_temperature_units(options.units))}
    spec = options.atmosphere
    if spec is not None and spec.applied:
        tags["ATMOSPHERIC_CORRECTION"] = spec.kind
        tags["ATMOSPHERE"] = spec.describe()
    elif not (isinstance(options, PhysicsOptions) and options.method == "rte"):
        tags["ATMOSPHERIC_CORRECTION"] = "none"  # rte: the bundle's own, said by METHOD
    if isinstance(options, PhysicsOptions):
        tags["METHOD"] = options.method
        tags["CLOUD_MASK"] = str(options.mask_clouds)
        if options.method == "planck":
            tags["EMISSIVITY"] = options.emissivity
        return tags
    tags["METHOD"] = "model"
    tags["BLEND"] = options.blend
    if facts is not None:
        tags["MODEL_SHA256"] = facts.sha256
        tags["TILE_SIZE"] = str(facts.tile_size)
        tags["PADDING"] = str(facts.padding)
    return tags


_DEFAULTS = {"ATMOSPHERIC_CORRECTION": "none"}
"""What a tag that an output lacks stands for (outputs written before the tag existed)."""

_KIND_ONLY = frozenset({"ATMOSPHERIC_CORRECTION"})
"""Tags compared by their first word (the kind; a note or the values used follow)."""

_PREFIX = frozenset({"ATMOSPHERE"})
"""Tags whose value may go on after what the run says (the scene a bundle is of)."""


def _shrunk(got: str | None, want: str, grid: Any) -> bool:
    """Whether tile ``got`` is what a run tile of ``want`` becomes on a raster of ``grid``
    smaller than it (the predictor cuts such a raster into the smallest tile that fits)."""
    try:
        return int(got or 0) < int(want) and max(grid.height, grid.width) < int(want)
    except ValueError:
        return False


def output_mismatch(path: Path, expected: dict[str, str], cog: bool | None = None) -> str | None:
    """Why the existing output ``path`` is not the one this run would write; None if it is.

    Opens it, compares its tags with ``expected`` (and, given ``cog``, its layout: a
    Cloud-Optimised GeoTIFF or not) and verifies every block
    (:func:`pix2lst.geo.verify.verify_raster`); the reason is one short phrase.
    """
    import rasterio
    from rasterio._err import CPLE_BaseError

    from pix2lst.geo.grid import grid_of
    from pix2lst.geo.verify import verify_raster

    try:
        with rasterio.open(path) as ds:
            tags = ds.tags()
            grid = grid_of(ds)
            count = ds.count
            is_cog = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "").upper() == "COG"
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        return f"it does not read as a raster ({' '.join(str(exc).split())[:200]})"
    if count != 1:
        return f"it has {count} bands, not one LST band"
    for key, want in expected.items():
        got = tags.get(key, _DEFAULTS.get(key))
        if key in _KIND_ONLY and got:
            got = got.split()[0]  # "none (top-of-atmosphere ...)": the kind, then a note
        elif key in _PREFIX and got and got.startswith(want):
            got = want  # "bundle: the scene's ST_ATRAN, ... of <scene id>"
        elif key == "TILE_SIZE" and _shrunk(got, want, grid):
            got = want  # a raster smaller than the run tile is cut into a smaller one
        if got != want:
            got_text = "missing" if got is None else repr(got)
            return f"its {key} is {got_text}, not {want!r}"
    if cog is not None and cog != is_cog:
        if is_cog:
            return "it is a Cloud-Optimised GeoTIFF and this run writes a plain one (no --cog)"
        return "it is a plain GeoTIFF and this run writes a Cloud-Optimised one (--cog)"
    try:
        verify_raster(path, grid, 1)
    except OutputWriteError as exc:
        return f"it is damaged ({' '.join(str(exc).split())[:200]})"
    return None
