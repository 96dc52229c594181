"""Device tiling: a strip is uploaded once and its tiles are cut where the model runs.

With host tiling (the :class:`~pix2lst.runtime.model.BatchRunner` path) filler
threads copy overlapping float32 tiles out of the ring of input rows and ONNX Runtime
uploads those: at the default padding (a quarter of the tile) every pixel is copied
and uploaded 4 times. With device tiling a :class:`StripRunner` takes one strip (the
``tile`` rows of one row of tiles, columns padded by reflection) as one contiguous
``(bands, tile, padded width)`` array, uploads it once (2x the scene's pixels in all,
as strips overlap by half a tile) and runs a tiny ONNX graph on the model's device
that gathers the tiles from it (``pix2lst/data/models/strip_tiles.onnx``, built by
``scripts/build_strip_graph.py``). Its output is bound as the model's input, so the
tiles never leave the device; the model's output comes back as usual.

The two sessions are chained by IO binding instead of composing one graph at load
time: the runtime then needs neither the ``onnx`` package nor a second copy of the
model, and the same model session serves both paths. The strip, the tiles and the
output are buffers on the model's device (CUDA; the CPU for any other provider)
allocated once (the strip's once per strip width), so the code CI runs on the CPU is
the code that runs on CUDA. On the CPU this costs a copy of each strip and ORT's tile
gather is slower than the host's copies, so ``"auto"`` keeps host tiling there.

A strip with more tiles than ``batch_size`` runs in chunks of ``batch_size`` tiles
against the same uploaded strip; a last, shorter chunk is padded with its last tile,
so ORT (and CUDA) always see one input shape per scene.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pix2lst.errors import ParameterError
from pix2lst.runtime.model import BatchRunner
from pix2lst.runtime.session import CPU, CUDA, TRT, SessionConfig, create_session

__all__ = ["STRIP_GRAPH", "TILINGS", "StripRunner", "resolve_tiling"]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

STRIP_GRAPH = Path(__file__).resolve().parents[1] / "data" / "models" / "strip_tiles.onnx"
"""The tile-cutting graph: ``strip`` ``(bands, tile, width)``, ``starts`` ``(n,)`` int64 ->
``tiles`` ``(n, bands, tile, tile)``."""

TILINGS = ("auto", "host", "device")
"""Where tiles are cut: ``host`` (filler threads copy float32 tiles, ORT uploads them),
``device`` (a strip is uploaded once, :class:`StripRunner`), ``auto`` (device on CUDA,
host elsewhere)."""


def resolve_tiling(tiling: str, provider: str | None = None) -> str:
    """``"host"`` or ``"device"`` for ``tiling`` on ``provider`` (``None``: only validate).

    ``"auto"`` is ``"device"`` on CUDA, where uploading overlapping tiles costs more
    than cutting them (ORT-CUDA ran 2,189 tiles/s from host arrays, 12,554 from device
    buffers, issue 11), and ``"host"`` elsewhere: on the CPU the host path is cheaper
    (no graph between the copies), and TensorRT keeps one engine for the tile batch.
    """
    if tiling not in TILINGS:
        raise ParameterError(f"tiling must be one of {', '.join(TILINGS)}, not {tiling!r}")
    if tiling != "auto" or provider is None:
        return tiling
    return "device" if provider == CUDA else "host"


@cache
def _graph_bytes() -> bytes:
    return STRIP_GRAPH.read_bytes()


class StripRunner:
    """Run whole strips through ``runner``'s model, the tiles cut on its device.

    ``run(strip, starts)`` takes a float32 ``(bands, tile, width)`` strip (contiguous)
    and the first column of each tile to predict; returns ``(len(starts), tile, tile)``
    float32. ``config`` gives the cutting session's device and threads (its providers
    are the model's device: CUDA for CUDA and TensorRT, else the CPU).
    """

    def __init__(self, runner: BatchRunner, config: SessionConfig | None = None) -> None:
        self.runner = runner
        self.model = runner.model
        self.batch_size = runner.batch_size
        self.tile_size = runner.tile_size
        self.bands = runner.input_shape[1]
        config = config or SessionConfig()
        on_gpu = self.model.provider in (CUDA, TRT)
        provider = CUDA if on_gpu else CPU
        self.device = "cuda" if on_gpu else "cpu"
        opts = self.model.session.get_provider_options().get(self.model.provider, {})
        self.device_id = int(opts.get("device_id", config.device_id))
        cut_config = replace(
            config, providers=[provider], device_id=self.device_id, graph_optimization="all"
        )
        self.cutter = create_session(
            _graph_bytes(), [provider], cut_config, reason="tiles cut from strips"
        )
        n, c, t, _ = runner.input_shape
        self._tiles = ort.OrtValue.ortvalue_from_shape_and_type(
            (n, c, t, t), np.float32, self.device, self.device_id
        )
        self._out = ort.OrtValue.ortvalue_from_shape_and_type(
            (n, 1, t, t), np.float32, self.device, self.device_id
        )
        self._strip: ort.OrtValue | None = None  # on the GPU, per strip width
        self._cut = self.cutter.io_binding()
        self._cut.bind_ortvalue_output("tiles", self._tiles)
        self._model = self.model.session.io_binding()
        self._model.bind_ortvalue_input(self.model.input_name, self._tiles)
        self._model.bind_ortvalue_output(self.model.output_name, self._out)
        self._starts = np.zeros(n, dtype=np.int64)
        self.seconds = 0.0
        self.batches = 0

    def new_strip(self, width: int) -> F32:
        """A host strip buffer ``(bands, tile, width)``, to be filled and reused."""
        return np.zeros((self.bands, self.tile_size, width), dtype=np.float32)

    def _bind_strip(self, strip: F32) -> None:
        if strip.ndim != 3 or strip.shape[:2] != (self.bands, self.tile_size):
            raise ParameterError(
                f"a strip must be (bands, tile, width) = ({self.bands}, {self.tile_size}, "
                f"width), not {strip.shape}"
            )
        if not strip.flags.c_contiguous or strip.dtype != np.float32:
            raise ParameterError("a strip must be a C-contiguous float32 array")
        # one code path on every device (the CPU's is the one CI runs): a buffer of the
        # strip's shape on the model's device, allocated per width, updated per strip
        if self._strip is None or tuple(self._strip.shape()) != strip.shape:
            self._strip = ort.OrtValue.ortvalue_from_shape_and_type(
                strip.shape, np.float32, self.device, self.device_id
            )
            self._cut.bind_ortvalue_input("strip", self._strip)
        self._strip.update_inplace(strip)  # the one upload of these rows

    def run(self, strip: F32, starts: npt.NDArray[np.int64]) -> F32:
        """Predict the tiles of ``strip`` that start at columns ``starts``."""
        start = time.perf_counter()
        n = int(starts.size)
        tile = self.tile_size
        if n and (int(starts.min()) < 0 or int(starts.max()) + tile > strip.shape[-1]):
            raise ParameterError(
                f"tile starts {int(starts.min())}..{int(starts.max())} do not fit a strip of "
                f"width {strip.shape[-1]} with {tile} px tiles"
            )
        out = np.empty((n, tile, tile), dtype=np.float32)
        if n:
            self._bind_strip(strip)
        size = self.batch_size
        for a in range(0, n, size):
            m = min(size, n - a)
            self._starts[:m] = starts[a : a + m]
            self._starts[m:] = starts[a + m - 1]  # one shape for every run
            self._cut.bind_cpu_input("starts", self._starts)
            self.cutter.run_with_iobinding(self._cut)
            self.model.session.run_with_iobinding(self._model)
            out[a : a + m] = self._out.numpy()[:m, 0]
            self.batches += 1
        self.seconds += time.perf_counter() - start
        return out

    def warmup(self) -> None:
        """One strip of zeros (a full batch): cuDNN tuning and caches, as BatchRunner's."""
        width = self.tile_size * 2
        starts = np.zeros(self.batch_size, dtype=np.int64)
        self.run(self.new_strip(width), starts)
        self.seconds = 0.0
        self.batches = 0
