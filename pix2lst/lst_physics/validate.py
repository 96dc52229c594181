"""Validation against the USGS Collection-2 Level-2 surface temperature (ST_B10).

On a Level-2 bundle the single-channel chain runs from SR_B4/SR_B5 (NDVI) and
ST_TRAD (band-10 TOA radiance, i.e. the L1 B10 DN rebuilt as (TRAD - AL)/ML and
calibrated back), and is compared with ``ST_B10 * TEMPERATURE_MULT + TEMPERATURE_ADD``
over pixels valid in both (optionally clear-sky only, from QA_PIXEL). The
``rte`` method should agree to ~0.1 K (same physics as USGS); the default chain
differs because it does no atmospheric correction (TOA brightness temperature,
no path radiance, transmittance or sky irradiance) and uses NDVI emissivity
instead of ASTER GED.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from pix2lst.errors import BandNotFoundError, EmptySceneError, MetadataError
from pix2lst.geo.bandfiles import open_bands
from pix2lst.geo.scene import Scene
from pix2lst.geo.stream import gdal_env, strip_windows
from pix2lst.lst_physics.chain import Emissivity, compute_lst
from pix2lst.lst_physics.composite import as_scene
from pix2lst.lst_physics.lst import Method, lst_input_names, scene_ndvi_range
from pix2lst.lst_physics.qa import cloud_mask
from pix2lst.lst_physics.rte import RTE_BANDS, compute_rte

__all__ = ["StValidation", "compare_to_usgs_st"]


@dataclass(frozen=True)
class StValidation:
    """Differences ``pix2lst - USGS ST_B10`` in kelvin over ``n`` pixels."""

    method: str
    emissivity: str
    clear_only: bool
    n: int
    bias: float
    rmse: float
    mae: float
    std: float

    def __str__(self) -> str:
        sky = "clear-sky" if self.clear_only else "all valid"
        return (
            f"{self.method}/{self.emissivity} vs USGS ST_B10 ({sky}, n={self.n}): "
            f"bias {self.bias:+.2f} K, RMSE {self.rmse:.2f} K, MAE {self.mae:.2f} K"
        )


def compare_to_usgs_st(
    scene: Scene | str | os.PathLike[str],
    *,
    method: Method = "planck",
    emissivity: Emissivity = "sobrino",
    clear_only: bool = True,
    strip_rows: int = 512,
) -> StValidation:
    """Bias, RMSE, MAE (K) of pix2lst LST against the scene's own USGS ST_B10 product."""
    sc = as_scene(scene)
    if sc.mtl.st_mult is None or sc.mtl.st_add is None:
        raise MetadataError(
            f"{sc.mtl.path} has no TEMPERATURE_MULT/ADD_BAND_ST_B10 (not an L2 MTL)"
        )
    names = list(RTE_BANDS) if method == "rte" else list(lst_input_names(sc))
    if not sc.has("ST_B10"):
        raise BandNotFoundError(f"scene {sc.root} has no ST_B10 to validate against")
    paths = {n: sc.band_path(n) for n in [*names, "ST_B10"]}
    qa_name = None
    if clear_only:
        qa_name, paths[qa_name] = sc.quality_band()
    ndvi_range = scene_ndvi_range(sc, strip_rows) if emissivity == "avdan" else None
    n, s1, s2, sa = 0, 0.0, 0.0, 0.0
    with gdal_env(), open_bands(paths) as (datasets, nodata):
        for w in strip_windows(datasets[0].height, datasets[0].width, strip_rows):
            a = [ds.read(1, window=w) for ds in datasets]
            if method == "rte":
                ours = compute_rte(a[:5], sc)
            else:
                ours = compute_lst(
                    a[0], a[1], a[2], sc, emissivity=emissivity, ndvi_range=ndvi_range,
                    nodata=nodata[:3],
                )  # fmt: skip
            k = len(names)
            st_dn = a[k]
            ref = np.where(st_dn == 0, np.nan, st_dn * sc.mtl.st_mult + sc.mtl.st_add)
            ok = np.isfinite(ours) & np.isfinite(ref)
            if qa_name is not None:
                ok &= ~cloud_mask(a[k + 1], qa_name, sc.mtl.collection)
            d = ours[ok].astype(np.float64) - ref[ok]
            n += d.size
            s1, s2, sa = s1 + d.sum(), s2 + (d * d).sum(), sa + np.abs(d).sum()
    if n == 0:
        raise EmptySceneError(f"no pixel of {sc.root} is valid in both pix2lst and ST_B10")
    bias = s1 / n
    return StValidation(
        method=method, emissivity=emissivity if method == "planck" else "ST_EMIS",
        clear_only=clear_only, n=n, bias=bias, rmse=math.sqrt(s2 / n), mae=sa / n,
        std=math.sqrt(max(s2 / n - bias * bias, 0.0)),
    )  # fmt: skip
