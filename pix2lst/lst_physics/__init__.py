"""Physics chain: calibration, emissivity, LST (numpy + Numba), on scenes the geo room reads.

MTL parsing and scene discovery live in :mod:`pix2lst.geo` (``read_mtl``,
``find_scene``, ``Scene``, ``MtlMetadata`` are re-exported here for convenience).

Public API::

    from pix2lst.lst_physics import (
        COMPOSITE_BANDS, MtlMetadata, read_mtl, Scene, find_scene,
        calibrate_composite, open_composite, write_composite,
        compute_lst, compute_rte, write_lst,
    )

Kernels for benchmarks: :mod:`.kernels` (``lst_numba``, ``calibrate_numba``,
``rte_numba``) and their numpy twins in :mod:`.reference` (``lst_numpy`` ...),
taking the parameter vectors of :class:`LstParams`/:class:`RteParams`
(:func:`lst_params`/:func:`rte_params` build them from a scene).
"""

from pix2lst.geo.inputs import find_scene
from pix2lst.geo.mtl import MtlMetadata, read_mtl
from pix2lst.geo.scene import Scene
from pix2lst.lst_physics.atmosphere import (
    AtmosphereCorrection,
    AtmosphereSpec,
    parse_atmosphere,
)
from pix2lst.lst_physics.calibrate import calibrate_composite, calibration_table
from pix2lst.lst_physics.chain import compute_lst, lst_params, ndvi_window
from pix2lst.lst_physics.composite import open_composite, write_composite
from pix2lst.lst_physics.constants import COMPOSITE_BANDS
from pix2lst.lst_physics.kernels import calibrate_numba, lst_numba, rte_numba
from pix2lst.lst_physics.lst import scene_ndvi_range, write_lst
from pix2lst.lst_physics.params import LstParams, RteParams
from pix2lst.lst_physics.qa import cloud_mask
from pix2lst.lst_physics.reference import calibrate_numpy, lst_numpy, rte_numpy
from pix2lst.lst_physics.rte import compute_rte, rte_params
from pix2lst.lst_physics.scene_calibration import scene_calibrator
from pix2lst.lst_physics.validate import StValidation, compare_to_usgs_st

__all__ = [
    "COMPOSITE_BANDS",
    "AtmosphereCorrection",
    "AtmosphereSpec",
    "LstParams",
    "MtlMetadata",
    "RteParams",
    "Scene",
    "StValidation",
    "calibrate_composite",
    "calibrate_numba",
    "calibrate_numpy",
    "calibration_table",
    "cloud_mask",
    "compare_to_usgs_st",
    "compute_lst",
    "compute_rte",
    "find_scene",
    "lst_numba",
    "lst_numpy",
    "lst_params",
    "ndvi_window",
    "open_composite",
    "parse_atmosphere",
    "read_mtl",
    "rte_numba",
    "rte_numpy",
    "rte_params",
    "scene_calibrator",
    "scene_ndvi_range",
    "write_composite",
    "write_lst",
]
