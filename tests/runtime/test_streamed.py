"""Streamed (non-temporal) copies and aligned buffers against plain numpy copies."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from pix2lst.runtime.buffers import ALIGN, aligned_zeros
from pix2lst.runtime.streamed import STREAMING, copy_row, store_fence, stream_copy


@njit(nogil=True)
def _stream(src, dst):  # type: ignore[no-untyped-def]
    stream_copy(src, dst)
    store_fence()


@njit(nogil=True)
def _row(src, dst):  # type: ignore[no-untyped-def]
    copy_row(src, dst)
    store_fence()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_stream_copy_every_length_and_alignment(dtype: type) -> None:
    # lengths from empty to several cache lines, destinations starting anywhere in a
    # line: the head and tail copies, the 64-byte body, and nothing written outside
    rng = np.random.default_rng(7)
    item = np.dtype(dtype).itemsize
    for n in [*range(0, 70), 127, 128, 129, 255, 256, 257, 1000]:
        src = (rng.random(n + 5) * 200).astype(dtype)
        for skip in range(0, ALIGN // item + 1, max(1, 8 // item)):
            dst = np.full(n + skip + 9, 77, dtype=dtype)
            _stream(src[3 : 3 + n], dst[skip : skip + n])
            np.testing.assert_array_equal(dst[skip : skip + n], src[3 : 3 + n])
            assert (dst[:skip] == 77).all() and (dst[skip + n :] == 77).all()


def test_copy_row_takes_any_strides() -> None:
    src = np.arange(300, dtype=np.float32)
    dst = np.zeros(600, dtype=np.float32)
    _row(src[::2], dst[1::4])  # neither is contiguous: the plain loop
    np.testing.assert_array_equal(dst[1::4][:150], src[::2])
    assert (np.delete(dst, np.arange(1, 600, 4)) == 0).all()
    out = aligned_zeros((300,), np.float32)
    _row(src, out)  # both contiguous: streamed
    np.testing.assert_array_equal(out, src)
    plain = np.zeros(5, dtype=np.uint16)
    copy_row(np.arange(5, dtype=np.uint16), plain)  # outside Numba: numpy
    np.testing.assert_array_equal(plain, np.arange(5))


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((8, 8, 256, 256), np.float32),
        ((3, 5, 7), np.uint16),
        ((0, 4), np.float32),
        ((1,), np.uint8),
    ],
)
def test_aligned_zeros(shape: tuple[int, ...], dtype: type) -> None:
    for _ in range(3):
        a = aligned_zeros(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert a.flags.writeable and (a.size == 0 or a.ctypes.data % ALIGN == 0)
        assert not a.any()
        a[...] = 1
        assert (a == 1).all()


def test_streaming_on_x86_64_only() -> None:
    import platform

    assert STREAMING == (platform.machine().lower() in {"x86_64", "amd64"})


def test_plain_copies_where_not_streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    # what an ARM box compiles (a memcpy and no fence), checked here by compiling a
    # new kernel with the flag off
    from pix2lst.runtime import streamed

    src = np.arange(1000, dtype=np.float32)
    dst = np.zeros(1003, dtype=np.float32)
    if STREAMING:  # compiled before the flag is turned off: streamed
        _stream(src, dst[1:1001])
        assert "movnt" in next(iter(_stream.inspect_asm().values()))
        dst[:] = 0
    monkeypatch.setattr(streamed, "STREAMING", False)

    @njit(nogil=True)
    def plain(src, dst):  # type: ignore[no-untyped-def]
        stream_copy(src, dst)
        store_fence()

    plain(src, dst[1:1001])
    np.testing.assert_array_equal(dst[1:1001], src)
    assert dst[0] == 0 and (dst[1001:] == 0).all()
    asm = next(iter(plain.inspect_asm().values()))
    assert "movnt" not in asm and "sfence" not in asm
