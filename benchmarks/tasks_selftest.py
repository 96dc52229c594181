"""Child task used by the harness's own tests: hold some memory, report a figure."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["hold_memory"]


def hold_memory(mb: int, value: float = 1.0) -> dict[str, Any]:
    """Touch ``mb`` MiB of memory; return ``value`` and the time taken."""
    t0 = time.perf_counter()
    block = np.ones(mb * 1024 * 1024 // 8, dtype=np.float64) if mb else np.zeros(1)
    total = float(block.sum())
    return {"wall_s": time.perf_counter() - t0, "value": value, "touched": total}
