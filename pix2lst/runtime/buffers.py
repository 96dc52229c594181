"""Host buffers the pipeline fills and hands on (numpy only: no Numba, no ONNX Runtime)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ALIGN", "aligned_zeros"]

ALIGN = 64
"""Bytes: a cache line, and the width of one non-temporal vector store
(:mod:`pix2lst.runtime.streamed`)."""


def aligned_zeros(shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """A zeroed C-contiguous array whose data starts on :data:`ALIGN` bytes.

    numpy's large arrays start 16 bytes past a page, so every 1 KB row of a 256 px
    float32 tile would begin and end with a partial cache line: the streamed tile cut
    then copies those with ordinary stores (measured: 0.82-0.85 core-s per scene against
    0.78 aligned). Zeroed as ``np.zeros`` zeroes: large buffers come from fresh pages that
    the kernel clears where they are first written (the thread that fills them), not
    where they are allocated.
    """
    dt = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    raw = np.zeros(nbytes + ALIGN, dtype=np.uint8)
    skip = -raw.ctypes.data % ALIGN
    return raw[skip : skip + nbytes].view(dt).reshape(shape)  # type: ignore[no-any-return]
