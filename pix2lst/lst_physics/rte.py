"""The USGS radiative-transfer inversion from Collection-2 Level-2 ``ST_*`` bands.

The at-sensor band-10 radiance is ``L_TOA = tau (eps B(T) + (1 - eps) L_down) + L_up``
(Barsi et al. 2005; Landsat 8-9 C2 L2 ST algorithm, LSDS-1619 / Cook et al. 2014), so the
surface-leaving blackbody radiance is

    B(T) = ((L_TOA - L_up) / tau - (1 - eps) L_down) / eps      [W/(m2 sr um)]

and the surface temperature follows by inverting Planck with the band constants,
``T = K2 / ln(K1 / B(T) + 1)`` [K]. ``L_TOA`` = ST_TRAD, ``L_up`` = ST_URAD,
``L_down`` = ST_DRAD (0.001 W/(m2 sr um) per DN), ``tau`` = ST_ATRAN and
``eps`` = ST_EMIS (1e-4 per DN); fill DN -9999. K1/K2 come from the MTL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pix2lst.errors import BandNotFoundError, ParameterError
from pix2lst.geo.mtl import MtlMetadata
from pix2lst.geo.scene import Location, Scene
from pix2lst.geo.units import kelvin_shift
from pix2lst.lst_physics.calibrate import Engine, resolve_mtl
from pix2lst.lst_physics.chain import TempUnits
from pix2lst.lst_physics.constants import L2_AUX_FILL, L2_AUX_SCALE
from pix2lst.lst_physics.kernels import rte_numba
from pix2lst.lst_physics.params import RteParams
from pix2lst.lst_physics.reference import rte_numpy

__all__ = ["RTE_BANDS", "compute_rte", "rte_params", "rte_paths"]

RTE_BANDS = ("ST_TRAD", "ST_URAD", "ST_DRAD", "ST_ATRAN", "ST_EMIS")


def rte_params(scene_or_mtl: Scene | MtlMetadata, units: TempUnits = "K") -> RteParams:
    """Inversion constants: the L2 aux scale factors, K1/K2 of B10 from the MTL, fill -9999."""
    mtl, _ = resolve_mtl(scene_or_mtl)
    _, _, k1, k2 = mtl.thermal("B10")
    s = L2_AUX_SCALE
    return RteParams(
        k1=k1, k2=k2, trad_s=s["ST_TRAD"], urad_s=s["ST_URAD"], drad_s=s["ST_DRAD"],
        atran_s=s["ST_ATRAN"], emis_s=s["ST_EMIS"], fill=float(L2_AUX_FILL),
        offset=kelvin_shift(units),
    )  # fmt: skip


def rte_paths(scene: Scene) -> dict[str, Location]:
    """The five ``ST_*`` band files the inversion needs; a clear error if any is missing."""
    missing = [b for b in RTE_BANDS if not scene.has(b)]
    if missing:
        raise BandNotFoundError(
            f"method 'rte' needs the Collection-2 Level-2 bands {', '.join(RTE_BANDS)}; "
            f"scene {scene.root} lacks {', '.join(missing)}. Use --method planck for L1 scenes."
        )
    return {b: scene.band_path(b) for b in RTE_BANDS}


def compute_rte(
    bands: Sequence[np.ndarray],
    scene_or_mtl: Scene | MtlMetadata,
    *,
    units: TempUnits = "K",
    engine: Engine = "numba",
) -> np.ndarray:
    """Surface temperature (float32, K or degC) of one window from (TRAD, URAD, DRAD, ATRAN, EMIS) DN."""
    if len(bands) != len(RTE_BANDS):
        raise ParameterError(
            f"expected {len(RTE_BANDS)} arrays ({', '.join(RTE_BANDS)}), got {len(bands)}"
        )
    fn = rte_numba if engine == "numba" else rte_numpy
    trad, urad, drad, atran, emis = bands
    return fn(trad, urad, drad, atran, emis, rte_params(scene_or_mtl, units).vector())
