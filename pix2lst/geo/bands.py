"""The one band-lookup rule: bands are found by name, case-insensitively.

A raster names its bands in its band descriptions (``B1`` .. ``B10`` as
``pix2lst composite`` writes them; ``SR_B4`` etc. match ``B4`` too). A raster
without descriptions is taken in order only when it has exactly the bands asked
for, and the caller is told so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pix2lst.errors import BandNotFoundError

__all__ = ["band_indexes", "band_key"]

log = logging.getLogger(__name__)

#: Prefixes a band description may carry for the same band (Level-2 products).
_PREFIXES = ("SR_",)


def band_key(name: str | None) -> str:
    """The comparable form of a band name: stripped, upper case (``" b4 "`` -> ``"B4"``)."""
    return (name or "").strip().upper()


def band_indexes(
    descriptions: Sequence[str | None],
    wanted: Sequence[str],
    *,
    source: str = "the raster",
    hint: str = "write it with `pix2lst composite`, which names the bands",
    allow_unnamed: bool = True,
    consumer: str = "this step",
) -> list[int]:
    """1-based indexes of the bands ``wanted``, matched by description.

    ``SR_B4`` answers for ``B4``. Without any description, a raster of exactly
    ``len(wanted)`` bands is taken in order (logged); otherwise
    :class:`BandNotFoundError` names what is missing, what is there and ``hint``.
    """
    names = [band_key(d) for d in descriptions]
    if not any(names):
        if allow_unnamed and len(names) == len(wanted):
            log.warning("%s has no band descriptions; assuming bands %s in order", source, wanted)
            return list(range(1, len(names) + 1))
        raise BandNotFoundError(
            f"{source} has {len(names)} unnamed bands but {consumer} needs {len(wanted)} "
            f"bands {list(wanted)}; {hint}"
        )
    index: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        index.setdefault(name, i)
    for i, name in enumerate(names, start=1):
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                index.setdefault(name.removeprefix(prefix), i)
    missing = [b for b in wanted if band_key(b) not in index]
    if missing:
        raise BandNotFoundError(
            f"{source} lacks band(s) {missing} that {consumer} needs (it has "
            f"{[d or '' for d in descriptions]}; {consumer} needs {list(wanted)}); {hint}"
        )
    return [index[band_key(b)] for b in wanted]
