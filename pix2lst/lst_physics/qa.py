"""Cloud masks from the Landsat quality bands.

* Collection 2 ``QA_PIXEL``: bit 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
  4 cloud shadow (LSDS-1619 / LSDS-1328, table 6-3). Masked: bits 0-4.
* Collection 1 ``BQA``: bit 0 fill, bit 4 cloud, bits 7-8 cloud-shadow confidence,
  bits 11-12 cirrus confidence; masked: fill, cloud, high (3) shadow or cirrus confidence.
* Pre-collection ``BQA``: bit 0 designated fill, bits 12-13 cirrus confidence,
  bits 14-15 cloud confidence; masked: fill, high (3) cloud or cirrus confidence.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cloud_mask"]

_C2_MASK = 0b11111  # fill, dilated cloud, cirrus, cloud, cloud shadow


def _conf(qa: np.ndarray, bit: int) -> np.ndarray:
    return ((qa >> bit) & 0b11) == 3


def cloud_mask(qa: np.ndarray, band: str, collection: int) -> np.ndarray:
    """Boolean mask, True where the pixel is fill, cloud, cloud shadow or cirrus.

    ``band`` is ``"QA_PIXEL"`` (Collection 2) or ``"BQA"`` (``collection`` 0 =
    pre-collection, 1 = Collection 1).
    """
    q = np.asarray(qa).astype(np.uint32)
    if band.upper() == "QA_PIXEL" or collection >= 2:
        return (q & _C2_MASK) != 0
    fill = (q & 1) != 0
    if collection == 1:
        return fill | ((q >> 4) & 1 == 1) | _conf(q, 7) | _conf(q, 11)
    return fill | _conf(q, 12) | _conf(q, 14)
