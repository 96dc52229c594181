"""What this process may use of the machine, for every room (the ground floor).

:func:`usable_cores` sizes ONNX Runtime sessions and filler threads
(:mod:`pix2lst.runtime`), the final check's decoding threads (:mod:`pix2lst.geo.verify`)
and local Dask workers (:mod:`pix2lst.batch.runner`): one count, one rule.
"""

from __future__ import annotations

import os

__all__ = ["usable_cores"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)
