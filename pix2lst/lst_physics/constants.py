"""Physical and product constants of the LST chain, with their sources.

Only constants that the MTL does *not* give live here. Band rescaling
(``RADIANCE_MULT/ADD``, ``REFLECTANCE_MULT/ADD``) and the thermal constants
``K1``/``K2`` always come from the scene's MTL, because they differ between
Landsat-8 and Landsat-9 (and between collections).
"""

from __future__ import annotations

from types import MappingProxyType

from pix2lst.geo.mtl import L2_SR_ADD, L2_SR_MULT  # C2 L2 product defaults, re-exported
from pix2lst.geo.units import KELVIN_OFFSET  # one definition (0 degC in kelvin), re-exported

__all__ = [
    "AVDAN_EPS_BASE",
    "AVDAN_EPS_SLOPE",
    "CAVITY_DEPS",
    "COMPOSITE_BANDS",
    "EPS_SOIL_B10",
    "EPS_VEG_B10",
    "EPS_WATER_B10",
    "KELVIN_OFFSET",
    "L2_AUX_FILL",
    "L2_AUX_SCALE",
    "L2_SR_ADD",
    "L2_SR_MULT",
    "LAMBDA_B10_UM",
    "NDVI_SOIL",
    "NDVI_VEG",
    "NDVI_WATER",
    "RHO_UM_K",
    "SMW_COEFFICIENTS_L8",
    "SMW_TCWV_RANGE",
]

#: Band order of the 8-band composite the model consumes (band descriptions carry these names).
COMPOSITE_BANDS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")

#: Effective wavelength of TIRS band 10 in micrometres (USGS; 10.6-11.19 um band centre).
LAMBDA_B10_UM = 10.895
#: rho = h c / k_B = 6.626e-34 J s * 2.998e8 m/s / 1.38e-23 J/K = 1.438e-2 m K = 14388 um K.
RHO_UM_K = 14388.0

#: NDVI thresholds of the NDVI threshold method (Sobrino et al. 2004, RSE 90:434-440):
#: below NDVI_SOIL bare soil, above NDVI_VEG full vegetation, below NDVI_WATER water.
NDVI_SOIL = 0.2
NDVI_VEG = 0.5
NDVI_WATER = 0.0
#: TIRS band-10 emissivities of soil and vegetation (Skokovic et al. 2014, after
#: Sobrino et al. 2008 IEEE TGRS 46:316-327) and of water (ASTER spectral library).
EPS_SOIL_B10 = 0.971
EPS_VEG_B10 = 0.987
EPS_WATER_B10 = 0.991
#: Mean cavity (multiple-scattering) emissivity increment d_eps of mixed pixels; the
#: cavity term C = 4 d_eps Pv (1 - Pv) peaks at Pv = 0.5 (Sobrino et al. 2008, eq. 6).
CAVITY_DEPS = 0.005
#: Avdan & Jovanovska 2016 (J. Sensors, 1480307): eps = 0.004 Pv + 0.986.
AVDAN_EPS_SLOPE = 0.004
AVDAN_EPS_BASE = 0.986

#: Scale factors of the C2 L2 surface-temperature intermediate bands (LSDS-1619,
#: table 6-1); the MTL does not carry them. Physical = DN * scale; fill = -9999.
L2_AUX_SCALE = MappingProxyType(
    {
        "ST_TRAD": 0.001,  # W / (m2 sr um), at-sensor (TOA) band-10 radiance
        "ST_URAD": 0.001,  # W / (m2 sr um), upwelled path radiance
        "ST_DRAD": 0.001,  # W / (m2 sr um), downwelled sky radiance
        "ST_ATRAN": 0.0001,  # atmospheric transmittance, unitless
        "ST_EMIS": 0.0001,  # surface emissivity (ASTER GED adjusted), unitless
        "ST_EMSD": 0.0001,  # emissivity standard deviation, unitless
        "ST_CDIST": 0.01,  # distance to cloud, km
    }
)
L2_AUX_FILL = -9999

#: Statistical mono-window coefficients (A, B, C) of Landsat-8 TIRS band 10, one row per
#: total-column water-vapour bin k (w in (0.6 k, 0.6 (k+1)] g/cm2, the last bin open above
#: 5.4): LST = A Tb / eps + B / eps + C. Ermida, Soares, Mantas, Goettsche, Trigo 2020,
#: Remote Sensing 12(9) 1471, doi:10.3390/rs12091471; the table is ``coeff_SMW_L8`` of
#: github.com/sofiaermida/Landsat_SMW_LST, modules/SMW_coefficients.js (commit 22f8813).
#: No Landsat-9 table is published there; Landsat-9 scenes use this one.
SMW_COEFFICIENTS_L8: tuple[tuple[float, float, float], ...] = (
    (0.9751, -205.8929, 212.7173),
    (1.0090, -232.2750, 230.5698),
    (1.0541, -253.1943, 238.9548),
    (1.1282, -279.4212, 244.0772),
    (1.1987, -307.4497, 251.8341),
    (1.3205, -348.0228, 257.2740),
    (1.4540, -393.1718, 263.5599),
    (1.6350, -451.0790, 268.9405),
    (1.5468, -429.5095, 275.0895),
    (1.9403, -547.2681, 277.9953),
)
#: Water-vapour range (g/cm2) the SMW table covers: ten bins of 0.6 g/cm2 up to 6.
SMW_TCWV_RANGE = (0.0, 6.0)
