"""The 8-band TOA composite of a benchmark scene, as ``pix2lst composite --units toa`` writes it.

Uses the physics chain's own writer when :mod:`pix2lst.lst_physics` offers one;
otherwise calibrates strip by strip through the runtime's scene reader (which
calls the physics calibration) and writes a tiled, DEFLATE-compressed float32
GeoTIFF with the band names in the band descriptions.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["COMPOSITE_BANDS", "write_composite_toa"]

COMPOSITE_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def write_composite_toa(folder: Path, dst: Path) -> None:
    """Write the TOA composite of scene ``folder`` to ``dst`` (atomically)."""
    from pix2lst.lst_physics import write_composite

    write_composite(folder, dst, units="toa")
