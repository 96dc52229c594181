"""Device tiling: a strip is uploaded once and its tiles are cut where the model runs.

With host tiling (the :class:`~pix2lst.runtime.model.BatchRunner` path) filler
threads copy overlapping float32 tiles out of the ring of input rows and ONNX Runtime
uploads those: at the default padding (a quarter of the tile) every pixel is copied
and uploaded 4 times. With device tiling a :class:`StripRunner` takes one strip (the
``tile`` rows of one row of tiles, columns padded by reflection) as one contiguous
``(bands, tile, padded width)`` array, uploads it once (2x the scene's pixels in all,
as strips overlap by half a tile) and runs a tiny ONNX graph on the model's device
that gathers the tiles from it (``pix2lst/data/models/strip_tiles*.onnx``, built by
``scripts/build_strip_graph.py``). Its output is bound as the model's input, so the
tiles never leave the device; the model's output comes back as usual.

A scene's strips go up as their 16-bit DN (the compact upload: half the bytes of
float32, and a quarter of the host tiles' bytes in all) with one table per band that holds
calibration and normalisation (:meth:`StripRunner.set_lut`, 2 MB per scene), and the
device looks the DN up; the ring then keeps DN and the host computes only their
validity (:class:`~pix2lst.runtime.ring.InputRing` ``keep_dn``). Other inputs
(composites, arrays) go up as float32 model input.

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

import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pix2lst.errors import ParameterError
from pix2lst.runtime.model import BatchRunner
from pix2lst.runtime.session import CPU, CUDA, GPU_PROVIDERS, SessionConfig, create_session
from pix2lst.runtime.tiling import TILINGS, resolve_tiling

__all__ = ["STRIP_GRAPHS", "TILINGS", "StripRunner", "resolve_tiling"]

# TILINGS and resolve_tiling live in the light tiling module (the CLI options need them
# without onnxruntime); they are this module's subject and are named here too

F32 = npt.NDArray[np.float32]

_MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
STRIP_GRAPHS = {"values": _MODELS / "strip_tiles.onnx", "dn": _MODELS / "strip_tiles_dn.onnx"}
"""The tile-cutting graphs (``scripts/build_strip_graph.py`` says what they take):
``strip`` ``(bands, tile, width)`` float32 model input (``values``) or uint16 DN with
their ``lut`` (``dn``), ``starts`` ``(n,)`` int64 -> ``tiles`` ``(n, bands, tile, tile)``."""


@cache
def _graph_bytes(kind: str) -> bytes:
    return STRIP_GRAPHS[kind].read_bytes()


class StripRunner:
    """Run whole strips through ``runner``'s model, the tiles cut on its device.

    ``run(strip, starts)`` takes a contiguous ``(bands, tile, width)`` strip and the
    first column of each tile to predict; returns ``(len(starts), tile, tile)``
    float32. A float32 strip is normalised model input; a uint16 strip is a scene's
    DN, looked up on the device in the table :meth:`set_lut` gave (the compact
    upload). ``config`` gives the cutting sessions' device and threads (their
    provider is the model's device: CUDA for CUDA and TensorRT, else the CPU).

    ``upload_dn``: whether the pipeline should hand this runner a scene's DN rather
    than its model input (default: on a GPU only; on the CPU ORT's lookup of 4x the
    pixels costs more than the host's lookup of each pixel once).
    """

    def __init__(self, runner: BatchRunner, config: SessionConfig | None = None) -> None:
        self.model = runner.model
        self.batch_size = runner.batch_size
        self.tile_size = runner.tile_size
        self.bands = runner.input_shape[1]
        config = config or SessionConfig()
        on_gpu = self.model.provider in GPU_PROVIDERS
        provider = CUDA if on_gpu else CPU
        self.device = "cuda" if on_gpu else "cpu"
        self.upload_dn = on_gpu
        opts = self.model.session.get_provider_options().get(self.model.provider, {})
        self.device_id = int(opts.get("device_id", config.device_id))
        cut_config = replace(
            config, providers=[provider], device_id=self.device_id, graph_optimization="all"
        )
        n, c, t, _ = runner.input_shape
        self._tiles = self._buffer((n, c, t, t), np.float32)
        self._out = self._buffer((n, 1, t, t), np.float32)
        # per kind of strip ("values", "dn"): the cutting session and its binding
        self.cutters: dict[str, ort.InferenceSession] = {}
        self._cut: dict[str, ort.IOBinding] = {}
        for kind in STRIP_GRAPHS:
            session = create_session(
                _graph_bytes(kind), [provider], cut_config, reason=f"tiles cut from {kind} strips"
            )
            self.cutters[kind] = session
            self._cut[kind] = session.io_binding()
            self._cut[kind].bind_ortvalue_output("tiles", self._tiles)
        self._strips: dict[str, ort.OrtValue] = {}  # per kind, of the last strip's shape
        self._lut: ort.OrtValue | None = None
        self._model = self.model.session.io_binding()
        self._model.bind_ortvalue_input(self.model.input_name, self._tiles)
        self._model.bind_ortvalue_output(self.model.output_name, self._out)
        self._starts = np.zeros(n, dtype=np.int64)
        self.seconds = 0.0
        self.batches = 0

    def _buffer(self, shape: tuple[int, ...], dtype: type) -> ort.OrtValue:
        """A buffer on the model's device (one code path everywhere: the CPU's is the one
        CI runs)."""
        return ort.OrtValue.ortvalue_from_shape_and_type(shape, dtype, self.device, self.device_id)

    def new_strip(self, width: int, *, dn: bool = False) -> npt.NDArray[Any]:
        """A host strip buffer ``(bands, tile, width)``, to be filled and reused: float32
        model input, or with ``dn`` uint16 DN."""
        return np.zeros((self.bands, self.tile_size, width), np.uint16 if dn else np.float32)

    def set_lut(self, lut: F32) -> None:
        """The model input of every DN, ``(bands, entries)`` float32 (0 for nodata), for
        the DN strips of one scene: uploaded once."""
        lut = np.ascontiguousarray(lut, dtype=np.float32)
        if lut.ndim != 2 or lut.shape[0] != self.bands or lut.shape[1] > 1 << 16:
            raise ParameterError(
                f"a DN table must be (bands, entries) = ({self.bands}, <= 65536), not {lut.shape}"
            )
        if self._lut is None or tuple(self._lut.shape()) != lut.shape:
            self._lut = self._buffer(lut.shape, np.float32)
            self._cut["dn"].bind_ortvalue_input("lut", self._lut)
        self._lut.update_inplace(lut)

    def _bind_strip(self, strip: npt.NDArray[Any]) -> str:
        """Upload ``strip`` (the one upload of these rows); its kind."""
        if strip.ndim != 3 or strip.shape[:2] != (self.bands, self.tile_size):
            raise ParameterError(
                f"a strip must be (bands, tile, width) = ({self.bands}, {self.tile_size}, "
                f"width), not {strip.shape}"
            )
        kind = {np.dtype(np.float32): "values", np.dtype(np.uint16): "dn"}.get(strip.dtype)
        if kind is None or not strip.flags.c_contiguous:
            raise ParameterError("a strip must be a C-contiguous float32 or uint16 array")
        if kind == "dn" and self._lut is None:
            raise ParameterError("a DN strip needs the scene's DN table first (set_lut)")
        held = self._strips.get(kind)
        if held is None or tuple(held.shape()) != strip.shape:  # a buffer per strip width
            held = self._strips[kind] = self._buffer(strip.shape, strip.dtype.type)
            self._cut[kind].bind_ortvalue_input("strip", held)
        held.update_inplace(strip)
        return kind

    def run(self, strip: npt.NDArray[Any], starts: npt.NDArray[np.int64]) -> F32:
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
        if not n:
            return out
        kind = self._bind_strip(strip)
        cutter, binding = self.cutters[kind], self._cut[kind]
        size = self.batch_size
        for a in range(0, n, size):
            m = min(size, n - a)
            self._starts[:m] = starts[a : a + m]
            self._starts[m:] = starts[a + m - 1]  # one shape for every run
            binding.bind_cpu_input("starts", self._starts)
            cutter.run_with_iobinding(binding)
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
