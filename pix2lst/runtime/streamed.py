"""Copies that bypass the CPU caches, for the tile and strip buffers the pipeline hands on.

The tile cut writes every batch buffer whole (16 MB for 8 tiles of 256 px and 8
bands) and nothing reads it until ONNX Runtime does, a batch or more later. With
ordinary stores each written cache line is first read from memory and then evicts
something the other threads still need; with non-temporal ("streaming") stores the
line goes straight to memory. Measured on this project's 2-core VM (2026-11-29):
:func:`~pix2lst.runtime.kernels.cut_tiles` over a full 7821 x 7661 scene cycling
three batch buffers took 1.26-1.37 core-s with ordinary stores and 0.75-0.79 with
these; in the null-model pipeline the filler thread went from 1.70-1.87 to
1.03-1.12 core-s per scene (4 alternating runs each). Lookups (gather-bound) gained
nothing and keep ordinary stores.

:func:`copy_row` is what kernels call: :func:`stream_copy` for two contiguous rows, an
ordinary loop for any other strides. :func:`stream_copy` is a Numba intrinsic: on
x86-64 it copies the destination's 64-byte-aligned body with 64-byte non-temporal
vector stores (``vmovntps``) and the unaligned head and tail with ``memcpy``;
elsewhere it is a plain ``memcpy``. Non-temporal stores are weakly ordered, so a
kernel that uses it ends with :func:`store_fence` (``sfence``; nothing elsewhere)
before another thread may read the buffer. The pipeline's batch and strip buffers come from
:func:`~pix2lst.runtime.buffers.aligned_zeros`: their rows start on 64 bytes.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any, cast

import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from pix2lst.runtime.buffers import ALIGN

__all__ = ["STREAMING", "copy_row", "store_fence", "stream_copy"]

STREAMING = platform.machine().lower() in {"x86_64", "amd64"}
"""Whether :func:`stream_copy` uses non-temporal stores on this machine (x86-64 only)."""

_I1, _I8, _I32, _I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
_LINE = ir.VectorType(_I8, ALIGN)


def _contiguous_1d(ty: Any) -> bool:
    return isinstance(ty, types.Array) and ty.ndim == 1 and ty.layout == "C"


def _stream_copy(typingctx: Any, src: Any, dst: Any) -> Any:
    """``dst[:] = src`` for two contiguous 1-D arrays of one dtype and size (not checked:
    the caller slices them), ``dst`` written with non-temporal stores where
    :data:`STREAMING`. Call :func:`store_fence` before the data is handed on."""
    if not (_contiguous_1d(src) and _contiguous_1d(dst) and src.dtype == dst.dtype):
        return None
    sig = types.void(src, dst)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        s = context.make_array(signature.args[0])(context, builder, args[0])
        d = context.make_array(signature.args[1])(context, builder, args[1])
        item = context.get_abi_sizeof(context.get_data_type(signature.args[1].dtype))
        nbytes = builder.mul(d.nitems, ir.Constant(_I64, item))
        sp = builder.bitcast(s.data, _I8.as_pointer())
        dp = builder.bitcast(d.data, _I8.as_pointer())
        memcpy = builder.module.declare_intrinsic(
            "llvm.memcpy", [_I8.as_pointer(), _I8.as_pointer(), _I64]
        )
        false = ir.Constant(_I1, 0)
        if not STREAMING:
            builder.call(memcpy, [dp, sp, nbytes, false])
            return context.get_dummy_value()
        # head: up to dst's first 64-byte boundary (at most the whole copy)
        head = builder.and_(
            builder.sub(ir.Constant(_I64, 0), builder.ptrtoint(dp, _I64)),
            ir.Constant(_I64, ALIGN - 1),
        )
        head = builder.select(builder.icmp_unsigned(">", head, nbytes), nbytes, head)
        builder.call(memcpy, [dp, sp, head, false])
        lines = builder.udiv(builder.sub(nbytes, head), ir.Constant(_I64, ALIGN))
        nontemporal = builder.module.add_metadata([ir.Constant(_I32, 1)])
        with cgutils.for_range(builder, lines) as loop:
            at = builder.add(head, builder.mul(loop.index, ir.Constant(_I64, ALIGN)))
            line = builder.load(builder.bitcast(builder.gep(sp, [at]), _LINE.as_pointer()), align=1)
            store = builder.store(
                line, builder.bitcast(builder.gep(dp, [at]), _LINE.as_pointer()), align=ALIGN
            )
            store.set_metadata("nontemporal", nontemporal)
        done = builder.add(head, builder.mul(lines, ir.Constant(_I64, ALIGN)))
        builder.call(
            memcpy,
            [builder.gep(dp, [done]), builder.gep(sp, [done]), builder.sub(nbytes, done), false],
        )
        return context.get_dummy_value()

    return sig, codegen


def _store_fence(typingctx: Any) -> Any:
    """Order the non-temporal stores before every later store (``sfence`` on x86-64; a
    no-op where :func:`stream_copy` makes ordinary stores)."""
    sig = types.void()

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        if STREAMING:
            fence = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence"
            )
            builder.call(fence, [])
        return context.get_dummy_value()

    return sig, codegen


# Numba calls them with the arrays only (the typing context is its own)
stream_copy = cast("Callable[[npt.NDArray[Any], npt.NDArray[Any]], None]", intrinsic(_stream_copy))
store_fence = cast("Callable[[], None]", intrinsic(_store_fence))


def copy_row(src: npt.NDArray[Any], dst: npt.NDArray[Any]) -> None:
    """``dst[:] = src`` (1-D, same size): inside Numba kernels, streamed where both are
    contiguous (end the kernel with :func:`store_fence`); plain numpy outside them."""
    dst[:] = src


@overload(copy_row, jit_options={"nogil": True})
def _copy_row(src, dst):  # type: ignore[no-untyped-def]
    if _contiguous_1d(src) and _contiguous_1d(dst) and src.dtype == dst.dtype:

        def streamed(src, dst):  # type: ignore[no-untyped-def]
            stream_copy(src, dst)

        return streamed

    def strided(src, dst):  # type: ignore[no-untyped-def]
        for j in range(dst.shape[0]):
            dst[j] = src[j]

    return strided
