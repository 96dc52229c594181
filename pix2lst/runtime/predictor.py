"""The public entry point: :class:`LSTPredictor` (a model + a session + tiling settings)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio

from pix2lst._machine import affinity_cores
from pix2lst.errors import BandNotFoundError, EmptySceneError, ParameterError
from pix2lst.geo.bands import band_key
from pix2lst.geo.grid import Grid
from pix2lst.geo.plausible import lst_range_count
from pix2lst.geo.scene import Scene
from pix2lst.geo.sources import ArraySource, Source, open_source
from pix2lst.geo.tags import SCENE_TAGS, product_tags
from pix2lst.geo.units import KELVIN_OFFSET, kelvin_shift, parse_temperature_units
from pix2lst.geo.writer import BLOCK, check_raster_output, raster_writer
from pix2lst.lst_physics.scene_calibration import scene_calibrator
from pix2lst.runtime.blending import BLENDS
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.model import BatchRunner, LoadedModel, load_model
from pix2lst.runtime.pipeline import ArraySink, PipelineStats, Progress, run_pipeline
from pix2lst.runtime.priority import io_threads, resolve_io_priority
from pix2lst.runtime.session import (
    GPU_PROVIDERS,
    SessionConfig,
    resolve_providers,
    resolve_sessions,
    usable_cores,
)
from pix2lst.runtime.strips import StripRunner
from pix2lst.runtime.tiling import TileGrid, default_padding, resolve_tiling

__all__ = ["UNITS", "LSTPredictor", "PredictionSummary"]

log = logging.getLogger(__name__)

UNITS = {"K": 0.0, "C": -KELVIN_OFFSET}
"""Output units and the shift from kelvin (``"degC"`` is accepted for ``"C"``)."""


@dataclass(frozen=True)
class PredictionSummary:
    """What :meth:`LSTPredictor.predict_file` did."""

    output: Path
    height: int
    width: int
    tiles: int
    tiles_run: int
    seconds: float
    inference_seconds: float
    provider: str

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    @property
    def mpx_per_s(self) -> float:
        """Throughput, end to end."""
        return self.megapixels / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        return (
            f"{self.output}: {self.width} x {self.height} px, {self.tiles} tiles "
            f"({self.tiles - self.tiles_run} nodata skipped), {self.seconds:.2f} s "
            f"({self.inference_seconds:.2f} s in the model), {self.mpx_per_s:.2f} Mpx/s, "
            f"provider {self.provider}"
        )


def gdal_cache_bytes(block_row_bytes: int, width: int) -> int:
    """GDAL's block cache while a scene streams through :meth:`LSTPredictor.predict_file`
    (GDAL's default is 5 % of RAM): a row of input blocks twice over (each block decoded
    once), two rows of the output's float32 blocks across ``width`` px (GDAL compresses
    blocks as they leave the cache) and 8 MB."""
    return 2 * block_row_bytes + 2 * BLOCK * width * 4 + (8 << 20)


def _source_name(src: str | os.PathLike[str] | Scene) -> str:
    """The input's name for the ``SOURCE`` tag: a file/folder name, a URL's last part."""
    if isinstance(src, Scene):
        return src.scene_id
    return os.fspath(src).rstrip("/").rsplit("/", 1)[-1]


class LSTPredictor:
    """Predict LST with a self-describing ONNX model, tile by tile, in bounded memory.

    ``model=None`` loads the shipped default. ``providers`` is ``"auto"``
    (TensorRT -> CUDA -> CPU), a short name (``cpu``, ``cuda``, ``tensorrt``,
    ``openvino``), a comma list or a list. ``padding`` (ArcGIS meaning; default
    a quarter of the model's own tile, 64 px for the shipped model, whatever the
    run tile) and ``blend`` (``hann``, ``linear``, ``crop``) set the tiling.
    ``tile_size`` is the tile the scene is cut into (``None``: the tile the model
    was made for, ``metadata.tile_size``); a larger one (a multiple of
    ``2**depth``, for a model exported with symbolic height/width) recomputes
    fewer overlapping pixels, e.g. 1.8x the scene's pixels at 512 px, padding 64
    against 4x at 256 px, but the model sees more context than it was trained
    with, so its output changes (see the README for the measured cost).
    ``batch_size`` counts tiles: a 512 px tile is 4x the pixels (and memory) of a
    256 px tile, so a smaller ``batch_size`` may suit larger tiles.
    One predictor runs one prediction at a time (its batch runner reuses device
    buffers); use one predictor per thread. ``io_priority="idle"`` lets
    reading and writing use only CPU time inference leaves unused (Linux
    ``SCHED_IDLE`` threads, see :mod:`pix2lst.runtime.priority`); ``"normal"``
    gives them the same priority as inference, e.g. when other busy programs
    share the machine; ``"auto"`` (default): idle when the model runs on the CPU,
    normal on a GPU (CUDA, TensorRT), where the cores are free for decoding and
    compression (GDAL then compresses the output on every core).

    ``sessions`` (``"auto"`` or a count): ONNX Runtime sessions that run batches in
    parallel, each with ``cores / sessions`` intra-op threads unless
    ``session.intra_op_threads`` says otherwise. ``"auto"`` takes one per 4 usable
    cores on a CPU, at least two (two one-thread sessions on 2 cores), and one per GPU
    (:func:`~pix2lst.runtime.session.auto_sessions`). The mosaic is the same for any
    number of sessions. ``batch_size=None``: :data:`TILES_IN_FLIGHT` tiles shared by
    the sessions (8 // sessions per batch), so more sessions do not take more memory.
    Scene and composite files are read by one thread per usable core (at most 8),
    each decoding its own range of columns. Usable cores: the affinity mask capped by a
    cgroup CPU quota (a container's CPU limit), :func:`pix2lst._machine.usable_cores`.

    ``tiling``: where the overlapping tiles are cut. ``"host"``: filler threads copy
    them (4x the scene's pixels at the default padding) into batches that ORT runs
    from host memory. ``"device"``: each strip of rows is copied once and uploaded
    once, and a small ONNX graph cuts its tiles on the model's device, chained to the
    model by IO binding (:mod:`pix2lst.runtime.strips`); on a GPU batches are then
    :data:`DEVICE_BATCH` tiles unless ``batch_size`` says otherwise. ``"auto"``
    (default): device on CUDA, host elsewhere (on the CPU ORT's tile gather costs
    more than the host's copies). The mosaic is the same either way.
    """

    TILES_IN_FLIGHT = 8
    """Tiles of all sessions' batches together when ``batch_size`` is not given: each of
    N sessions then runs batches of ``8 // N`` tiles, so memory does not grow with N."""

    DEVICE_BATCH = 32
    """Tiles per batch with device tiling on a GPU when ``batch_size`` is not given: the host
    buffers are strips whatever the batch, so only the device's memory grows with it
    (half a strip of a full-width Landsat scene, 61 tiles at 256 px, per run)."""

    @classmethod
    def default_batch_size(cls, tiling: str, provider: str, sessions: int) -> int:
        """Tiles per batch when ``batch_size`` is not given: :data:`DEVICE_BATCH` with
        device tiling on a GPU, else :data:`TILES_IN_FLIGHT` shared by the sessions."""
        if provider in GPU_PROVIDERS and resolve_tiling(tiling, provider) == "device":
            return cls.DEVICE_BATCH  # device memory, not host memory
        return max(1, cls.TILES_IN_FLIGHT // sessions)  # memory stays flat

    MAX_READERS = 8
    """Parallel readers of an input file at most on a CPU (one per usable core below
    that): there the sessions take the cores, and each reader holds a few MB more (about 7
    measured on 2026-11-29 when readers kept two block rows of decoded buffers; now one)."""

    MAX_READERS_GPU = 16
    """The same on a GPU, whose host cores are otherwise idle: decoding is then the host's
    slowest stage (the busiest of 8 readers of a full scene took 0.74-0.94 s, of 15 readers
    0.43-0.47 s, the main thread 0.6-0.7 s; measured with the CPU provider standing in for
    the GPU, 2026-11-29): a Landsat band's 15 columns of 512 px blocks give work to 15."""

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        providers: str | list[str] = "auto",
        batch_size: int | None = None,
        padding: int | None = None,
        blend: str = "hann",
        *,
        tile_size: int | None = None,
        session: SessionConfig | None = None,
        io_priority: str = "auto",
        sessions: int | str = "auto",
        tiling: str = "auto",
    ) -> None:
        if blend not in BLENDS:
            raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, not {blend!r}")
        resolve_io_priority(io_priority)  # validates; "auto" is decided once the model is open
        resolve_tiling(tiling)  # validates, likewise
        if batch_size is not None and batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
        config = replace(session or SessionConfig(), providers=providers)
        cores = usable_cores()
        provider = resolve_providers(config.providers)[0]
        n_sessions = resolve_sessions(sessions, provider, cores)
        if batch_size is None:
            batch_size = self.default_batch_size(tiling, provider, n_sessions)
        # ORT sizes its own pool by the affinity mask: say how many where there are more
        # sessions, or where a cgroup quota leaves fewer cores than the mask shows
        if config.intra_op_threads == 0 and (n_sessions > 1 or cores < affinity_cores()):
            config = replace(config, intra_op_threads=max(1, cores // n_sessions))
        self.models: list[LoadedModel] = [
            load_model(model, config, batch_size=batch_size, tile_size=tile_size)
            for _ in range(n_sessions)
        ]
        self.model: LoadedModel = self.models[0]
        # "idle" or "normal": "auto" decided for the provider the model runs on
        self.io_priority = resolve_io_priority(io_priority, self.model.provider)
        most = self.MAX_READERS_GPU if self.model.provider in GPU_PROVIDERS else self.MAX_READERS
        self.readers = max(1, min(cores, most))
        self.runners = [BatchRunner(m, batch_size, tile_size) for m in self.models]
        self.runner = self.runners[0]
        # "host" or "device": where tiles are cut ("auto": on the device on CUDA)
        self.tiling = resolve_tiling(tiling, self.model.provider)
        self.strip_runners = (
            [StripRunner(r, config) for r in self.runners] if self.tiling == "device" else []
        )
        tile = self.runner.tile_size  # validated by the runner (run_tile_size)
        # padding is context at the tile border: it follows the model's tile, not the run tile
        meta = self.model.metadata
        self.padding = default_padding(meta.tile_size) if padding is None else int(padding)
        TileGrid(tile, tile, tile, self.padding)  # validate padding now, not mid-run
        self.blend = blend
        self.batch_size = batch_size
        if n_sessions > 1:
            log.info(
                "%d ONNX Runtime sessions of %s intra-op threads run batches in parallel",
                n_sessions,
                config.intra_op_threads,
            )
        if config.warmup:
            self._warm_up()

    def _warm_up(self) -> None:
        """Run everything once so that the first real prediction runs at full speed.

        A small zero raster through the pipeline (the first call of each Numba kernel
        in a process loads it from the cache, about 0.2 s in all; the raster is two
        tiles high so that both array layouts the kernels see are loaded), then one
        full batch of zeros through ORT (TensorRT engines, cuDNN tuning, caches).
        """
        tile = self.tile_size
        zeros = ArraySource(
            np.zeros((len(self.metadata.bands), 2 * tile, tile + 1), np.float32),
            len(self.metadata.bands),
        )
        grid = TileGrid(zeros.height, zeros.width, tile, default_padding(tile))  # a few tiles
        run_pipeline(
            zeros,
            ArraySink(zeros.height, zeros.width),
            self._pipeline_runners,
            grid,
            blend=self.blend,
            io_priority=self.io_priority,
        )
        for runner in self._pipeline_runners:  # last: it also zeroes their time and batch counts
            runner.warmup()

    # -- introspection ------------------------------------------------------
    @property
    def metadata(self) -> ModelMetadata:
        return self.model.metadata

    @property
    def _pipeline_runners(self) -> list[BatchRunner] | list[StripRunner]:
        """What the pipeline runs: batch runners, or with device tiling strip runners."""
        return self.strip_runners or self.runners

    @property
    def sessions(self) -> int:
        """ONNX Runtime sessions running batches in parallel."""
        return len(self.runners)

    @property
    def provider(self) -> str:
        """The execution provider the session really uses."""
        return self.model.provider

    @property
    def tile_size(self) -> int:
        """The tile the scene is cut into (the model's own unless ``tile_size=`` said otherwise)."""
        return self.runner.tile_size

    def grid(self, height: int, width: int) -> TileGrid:
        """The tile grid for a ``height`` x ``width`` raster (``.n_tiles`` etc.)."""
        return TileGrid(height, width, self.tile_size, self.padding)

    def run_batch(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run ONNX Runtime alone on a normalised ``(n, bands, tile, tile)`` batch."""
        n = batch.shape[0]
        if n > self.batch_size:
            raise ParameterError(f"batch of {n} tiles is larger than batch_size {self.batch_size}")
        full = batch
        if self.runner._binding is not None and n < self.batch_size:
            full = self.runner.new_batch()
            full[:n] = batch
        return self.runner.run(np.ascontiguousarray(full, dtype=np.float32), n)

    # -- prediction ---------------------------------------------------------
    def _shift(self, units: str) -> float:
        return kelvin_shift(units)

    def predict_array(
        self, array: npt.ArrayLike, *, units: str = "K", progress: Progress | None = None
    ) -> npt.NDArray[np.float32]:
        """Predict a ``(n_bands, h, w)`` float32 array in the model's band order (NaN nodata).

        Input units are the model's (:attr:`ModelMetadata.input_units`); returns
        ``(h, w)`` float32 LST in ``units``, NaN where the input is nodata.
        """
        shift = self._shift(units)
        source = ArraySource(array, len(self.metadata.bands))
        sink = ArraySink(source.height, source.width)
        run_pipeline(
            source,
            sink,
            self._pipeline_runners,
            self.grid(source.height, source.width),
            blend=self.blend,
            shift=shift,
            progress=progress,
            io_priority=self.io_priority,
        )
        return sink.array

    def predict_xarray(self, composite: Any, *, units: str = "K") -> Any:
        """Predict a composite ``xarray.DataArray`` ``(band, y, x)``; LST as a ``(y, x)`` DataArray.

        Bands are taken by the ``band`` coordinate's names in the model's order (an
        array without one must be in that order already); the result keeps the
        input's ``x``/``y`` coordinates and its CRS/transform (rioxarray's
        ``spatial_ref``) and its other coordinates (``time``), NaN where the input is
        nodata. A dask-backed composite gives a dask-backed result, predicted lazily
        strip by strip (:func:`pix2lst.runtime.lazy.predict_lazy`: the same values as
        an eager prediction). xarray and dask are imported by the caller, never here.
        """
        dims = tuple(getattr(composite, "dims", ()))
        if "band" not in dims or not hasattr(composite, "transpose"):
            raise ParameterError(
                f"expected a composite DataArray (band, y, x), got a {type(composite).__name__} "
                f"with dims {dims}; for a Dataset of bands (odc.stac.load) use "
                "pix2lst.batch.predict_xarray"
            )
        bands = list(self.metadata.bands)
        if "band" in composite.coords and composite.sizes.get("band") is not None:
            names = [band_key(str(b)) for b in composite["band"].values]
            missing = [b for b in bands if band_key(b) not in names]
            if missing:
                raise BandNotFoundError(
                    f"the composite's band coordinate {names} lacks {missing}, which the model "
                    f"needs (in order {bands}); build it with pix2lst.batch.composite_xarray"
                )
            composite = composite.isel(band=[names.index(band_key(b)) for b in bands])
        stack = composite.transpose("band", "y", "x")
        if stack.chunks is not None:  # dask-backed: a lazy result
            from pix2lst.runtime.lazy import predict_lazy

            values = predict_lazy(self, stack.data, units)
        else:
            values = self.predict_array(stack.values, units=units)
        out = composite.isel(band=0, drop=True).copy(data=values)
        out.name = "lst"
        out.attrs = {
            **{k: v for k, v in composite.attrs.items() if k in SCENE_TAGS},
            "units": parse_temperature_units(units), "standard_name": "surface_temperature",
            "long_name": "land surface temperature", "METHOD": "model",
            "MODEL": self.model.path.name, "MODEL_SHA256": self.model.sha256,
        }  # fmt: skip
        return out

    def predict_file(
        self,
        src: str | os.PathLike[str] | Scene,
        dst: str | os.PathLike[str],
        *,
        units: str = "K",
        cog: bool = False,
        overwrite: bool = False,
        progress: Progress | None = None,
        creation_options: Sequence[str] | Mapping[str, str] | None = None,
        check_range: bool = True,
    ) -> PredictionSummary:
        """Predict a composite GeoTIFF or a scene folder / MTL into the GeoTIFF ``dst``.

        ``dst`` is checked before any work and written atomically (verified, with
        overviews, or a COG with ``cog=True``; ``creation_options`` over the default
        GeoTIFF profile): an interrupted run leaves neither a partial file nor a
        temporary one. The output carries the input's scene tags (scene id,
        spacecraft, acquisition date), the model and its hash, ``MODEL_TARGET``. An input without a
        single valid pixel raises :class:`~pix2lst.errors.EmptySceneError` (and
        writes nothing); :meth:`predict_array` returns all NaN for it instead. ``dst``
        must not be the input or the model, nor a band of the input scene; LST outside
        :data:`~pix2lst.geo.plausible.LST_RANGE_K` on more than 1 % of the valid pixels is refused
        (:class:`~pix2lst.errors.ImplausibleDataError`) unless ``check_range=False``; a
        checked LST gets its QGIS style beside it (``.qml``, :mod:`pix2lst.geo.qml`).
        """
        started = time.perf_counter()
        shift = self._shift(units)
        check_raster_output(dst, overwrite=overwrite, inputs=[src, self.model.path])
        meta = self.metadata
        threads = io_threads(self.io_priority)

        def reopen() -> Source:
            return open_source(
                src, meta.bands, meta.input_units,
                calibrate=scene_calibrator(meta.input_units), threads=threads,  # type: ignore[arg-type]
            )  # fmt: skip

        source = reopen()
        sources = [source]
        try:
            if hasattr(source, "read"):  # more handles: columns decoded in parallel
                more = getattr(source, "reopen", reopen)  # shares what was parsed and checked
                sources += [more() for _ in range(self.readers - 1)]
            grid = self.grid(source.height, source.width)
            unit_name = parse_temperature_units(units)
            tags = product_tags(
                "lst", source.tags, method="model", units=unit_name, model=self.model.path.name,
                model_sha256=self.model.sha256, model_target=meta.target, provider=self.provider,
                tile_size=self.tile_size, padding=self.padding, blend=self.blend,
                source=_source_name(src),
            )  # fmt: skip
            with (
                rasterio.Env(GDAL_CACHEMAX=gdal_cache_bytes(source.block_row_bytes, source.width)),
                raster_writer(
                    dst,
                    Grid(source.crs, source.transform, source.width, source.height),
                    units=(unit_name,),
                    tags=tags,
                    cog=cog,
                    overwrite=overwrite,
                    threads=threads,
                    creation_options=creation_options,
                    inputs=[src, self.model.path],
                    check=lst_range_count(unit_name) if check_range else None,
                    style=check_range,
                ) as sink,
            ):
                stats: PipelineStats = run_pipeline(
                    sources,
                    sink,
                    self._pipeline_runners,
                    grid,
                    blend=self.blend,
                    shift=shift,
                    progress=progress,
                    io_priority=self.io_priority,
                )
                if stats.tiles_run == 0:  # raised inside the sink: nothing is written
                    raise EmptySceneError(
                        f"every pixel of {src} is nodata (0 of {stats.tiles} tiles has a valid "
                        "pixel in all the model's bands); nothing written. Check the input "
                        "and its nodata value"
                    )
        finally:
            for each in sources:
                each.close()
        return PredictionSummary(
            Path(dst),
            source.height,
            source.width,
            stats.tiles,
            stats.tiles_run,
            time.perf_counter() - started,
            stats.inference_seconds,
            self.provider,
        )
