"""The public entry point: :class:`LSTPredictor` (a model, its sessions and one plan)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from pix2lst._machine import affinity_cores, usable_cores
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
from pix2lst.runtime.model import (
    BatchRunner,
    Fp32Check,
    LoadedModel,
    load_model,
    run_tile_size,
)
from pix2lst.runtime.pipeline import (
    BELOW_BT_MARGIN_K,
    ArraySink,
    Correction,
    PipelineStats,
    Progress,
    run_pipeline,
)
from pix2lst.runtime.plan import Plan, decide_plan, parse_sessions, resolve_io_priority
from pix2lst.runtime.priority import io_threads
from pix2lst.runtime.session import (
    OPENVINO,
    TRT,
    SessionConfig,
    resolve_providers,
)
from pix2lst.runtime.strips import StripRunner
from pix2lst.runtime.summary import PredictionSummary
from pix2lst.runtime.tiling import TileGrid, default_padding, resolve_tiling

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereCorrection, AtmosphereSpec

__all__ = ["UNITS", "LSTPredictor", "PredictionSummary"]

log = logging.getLogger(__name__)

UNITS = {"K": 0.0, "C": -KELVIN_OFFSET}
"""Output units and the shift from kelvin (``"degC"`` is accepted for ``"C"``)."""

BELOW_BT_SHARE = 0.5
"""Share of the valid pixels below band 10's BT above which the band order is suspect."""


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

    ``model=None`` loads the shipped default. ``providers`` is ``"auto"`` (CUDA, then
    OpenVINO where installed, then CPU; TensorRT only when asked), a short name
    (``cpu``, ``cuda``, ``tensorrt``, ``openvino``), a comma list or a list.
    ``padding`` (ArcGIS meaning; default a quarter of the model's own tile, 64 px for
    the shipped model, whatever the run tile) and ``blend`` (``hann``, ``linear``,
    ``crop``) set the tiling. ``tile_size`` is the tile the scene is cut into
    (``None``: the tile the model was made for); a larger one (a multiple of
    ``2**depth``, for a model exported with symbolic height/width) recomputes fewer
    overlapping pixels, but the model sees more context than it was trained with, so
    its output changes; a raster smaller than the tile is cut into the smallest tile
    that covers it. ``batch_size`` counts tiles (None: 8 shared by the sessions).
    ``sessions`` (``"auto"`` or a count, at most the usable cores): ONNX Runtime
    sessions that run batches in parallel; the mosaic is the same for any number.

    Everything else is decided once, in :attr:`plan` (:func:`~pix2lst.runtime.plan.decide_plan`),
    from the model, the session that really loaded and the machine, and logged at
    INFO. Expert fields of the plan: ``io_priority`` (``"auto"``: reader and writer
    threads at ``SCHED_IDLE`` when the model runs on the CPU, :mod:`pix2lst.runtime.priority`),
    ``tiling`` (``"device"``: strips uploaded once and tiles cut where the model runs,
    :mod:`pix2lst.runtime.strips`; default host), ``readers`` (parallel decoders of
    the input), ``session`` (:class:`~pix2lst.runtime.session.SessionConfig`: threads,
    device id, TensorRT fp16 and cache, warm-up). Reduced precision is checked against
    fp32 on the first batch and refused beyond :data:`FP16_TOLERANCE_K`.

    One predictor runs one prediction at a time (its batch runners reuse buffers);
    use one predictor per thread, and one per GPU (``session.device_id``).
    """

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
        readers: int | None = None,
    ) -> None:
        if blend not in BLENDS:
            raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, not {blend!r}")
        resolve_io_priority(io_priority)  # validates; "auto" is decided in the plan
        resolve_tiling(tiling)  # validates, likewise
        parse_sessions(sessions)
        if batch_size is not None and batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
        if readers is not None and readers < 1:
            raise ParameterError(f"readers must be at least 1, not {readers}")
        config = replace(session or SessionConfig(), providers=providers)
        cores = usable_cores()
        requested = resolve_providers(config.providers)
        asked: dict[str, Any] = {
            "blend": blend, "sessions": sessions, "threads": config.intra_op_threads,
            "affinity": affinity_cores(), "batch_size": batch_size, "tiling": tiling,
            "io_priority": io_priority, "fp16": config.reduced_precision,
            "warmup": config.warmup, "readers": readers,
        }  # fmt: skip
        # the first ONNX Runtime session loads with the layout of the provider asked for first; the
        # plan is then decided from the provider that really loaded
        guess = decide_plan(requested[0], requested, cores, model_tile=1, padding=0, **asked)
        first = load_model(
            model, replace(config, intra_op_threads=guess.threads),
            batch_size=guess.batch_size, tile_size=tile_size,
        )  # fmt: skip
        meta = first.metadata
        tile = run_tile_size(meta, first.session, tile_size, str(first.path))
        plan = decide_plan(
            first.provider, first.providers, cores, model_tile=meta.tile_size, tile=tile,
            padding=padding, **asked,
        )  # fmt: skip
        config = replace(config, intra_op_threads=plan.threads)
        if plan.threads != guess.threads or (
            first.provider == TRT and plan.batch_size != guess.batch_size
        ):
            first = load_model(model, config, batch_size=plan.batch_size, tile_size=tile_size)
        self.plan: Plan = plan
        self.models: list[LoadedModel] = [first] + [
            load_model(model, config, batch_size=plan.batch_size, tile_size=tile_size)
            for _ in range(plan.sessions - 1)
        ]
        self.model: LoadedModel = first
        self._config = config
        self._check = check = self._fp32_check(model, config, plan, tile_size)
        self.runners = [BatchRunner(m, plan.batch_size, tile, check=check) for m in self.models]
        self.runner = self.runners[0]
        self.strip_runners = (
            [StripRunner(r, config) for r in self.runners] if plan.tiling == "device" else []
        )
        self._at_tile: dict[int, list[BatchRunner] | list[StripRunner]] = {
            tile: self.strip_runners or self.runners
        }
        for note in plan.notes:
            log.warning("%s", note)
        log.info("plan: %s", "; ".join(plan.lines()))
        if plan.warmup:
            self._warm_up()

    def _fp32_check(
        self, model: str | os.PathLike[str] | None, config: SessionConfig, plan: Plan,
        tile_size: int | None,
    ) -> Fp32Check | None:  # fmt: skip
        """The fp32 comparison of the first batch, where reduced precision really runs."""
        reduced = (plan.provider == TRT and config.trt_fp16) or (
            plan.provider == OPENVINO and (config.openvino_precision or "").lower() == "bf16"
        )
        if not reduced:
            return None
        cpu = SessionConfig(providers="cpu", intra_op_threads=plan.threads, warmup=False)
        return Fp32Check(load_model(model, cpu, batch_size=plan.batch_size, tile_size=tile_size))

    def _warm_up(self) -> None:
        """Run everything once, at the model's own tile, so that the first real prediction
        runs at full speed: a small zero raster through the pipeline (loads each Numba
        kernel from its cache; two tiles high, so both array layouts the kernels see are
        loaded), then one batch of zeros through each session. A larger run tile is not
        warmed up: it would allocate what the raster to come may not need."""
        tile = self.metadata.tile_size
        runners = self._runners_at(tile)
        zeros = ArraySource(
            np.zeros((len(self.metadata.bands), 2 * tile, tile + 1), np.float32),
            len(self.metadata.bands),
        )
        grid = TileGrid(zeros.height, zeros.width, tile, default_padding(tile))  # a few tiles
        run_pipeline(
            zeros, ArraySink(zeros.height, zeros.width), runners, grid, blend=self.blend,
            io_priority=self.plan.io_priority, fillers=self.plan.fillers,
            blend_threads=self.plan.blend_threads,
        )  # fmt: skip
        for runner in runners:  # last: it also zeroes their time and batch counts
            runner.warmup()

    # -- introspection ------------------------------------------------------
    @property
    def metadata(self) -> ModelMetadata:
        return self.model.metadata

    @property
    def sessions(self) -> int:
        """ONNX Runtime sessions running batches in parallel."""
        return self.plan.sessions

    @property
    def provider(self) -> str:
        """The execution provider the session really uses."""
        return self.model.provider

    @property
    def tile_size(self) -> int:
        """The tile the scene is cut into (the model's own unless ``tile_size=`` said otherwise)."""
        return self.plan.tile

    @property
    def padding(self) -> int:
        return self.plan.padding

    @property
    def blend(self) -> str:
        return self.plan.blend

    @property
    def batch_size(self) -> int:
        return self.plan.batch_size

    @property
    def readers(self) -> int:
        """Parallel readers of an input file."""
        return self.plan.readers

    @property
    def tiling(self) -> str:
        return self.plan.tiling

    @property
    def io_priority(self) -> str:
        return self.plan.io_priority

    def explain(self) -> str:
        """The plan, one ``name: value`` per line (``pix2lst predict --explain``)."""
        return "\n".join(self.plan.lines())

    def grid(self, height: int, width: int) -> TileGrid:
        """The tile grid for a ``height`` x ``width`` raster (``.n_tiles`` etc.)."""
        return TileGrid(height, width, self._plan_for(height, width).tile, self.padding)

    def _plan_for(self, height: int, width: int) -> Plan:
        """The plan for one raster: the tile no larger than the raster needs."""
        meta = self.metadata
        plan = self.plan.for_raster(
            height, width, step=2**meta.depth if meta.depth else 1, minimum=meta.tile_size
        )
        if plan is not self.plan:
            log.info("%s", plan.notes[-1])
        return plan

    def _runners_at(self, tile: int) -> list[BatchRunner] | list[StripRunner]:
        """The sessions' runners for ``tile`` px tiles (made once per tile)."""
        runners = self._at_tile.get(tile)
        if runners is None:
            batch = [BatchRunner(m, self.batch_size, tile, check=self._check) for m in self.models]
            runners = [StripRunner(r, self._config) for r in batch] if self.strip_runners else batch
            self._at_tile[tile] = runners
        return runners

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

    def _run(
        self, sources: Sequence[Source], sink: Any, height: int, width: int, *, shift: float,
        progress: Progress | None, correction: Correction | None, plan: Plan | None = None,
    ) -> PipelineStats:  # fmt: skip
        """Execute the plan for one raster (``plan``: already made for it)."""
        plan = plan or self._plan_for(height, width)
        stats = run_pipeline(
            sources, sink, self._runners_at(plan.tile),
            TileGrid(height, width, plan.tile, plan.padding), blend=plan.blend, shift=shift,
            progress=progress, io_priority=plan.io_priority, fillers=plan.fillers,
            blend_threads=plan.blend_threads, correction=correction,
        )  # fmt: skip
        if stats.bt_checked and stats.below_bt_fraction > BELOW_BT_SHARE:
            log.warning(
                "the prediction is more than %g K below band 10's brightness temperature on "
                "%.0f %% of the valid pixels, which single-channel physics cannot give (LST >= "
                "BT for any emissivity <= 1): the model's metadata probably lists its bands in "
                "the wrong order (it says %s), or its input normalisation is wrong",
                BELOW_BT_MARGIN_K, 100 * stats.below_bt_fraction, ",".join(self.metadata.bands),
            )  # fmt: skip
        return stats

    def predict_array(
        self,
        array: npt.ArrayLike,
        *,
        units: str = "K",
        progress: Progress | None = None,
        atmosphere: AtmosphereSpec | AtmosphereCorrection | None = None,
        scene: Scene | str | os.PathLike[str] | None = None,
        check_range: bool = True,
    ) -> npt.NDArray[np.float32]:
        """Predict a ``(n_bands, h, w)`` float32 array in the model's band order (NaN nodata).

        Input units are the model's (:attr:`ModelMetadata.input_units`); returns
        ``(h, w)`` float32 LST in ``units``, NaN where the input is nodata. LST outside
        :data:`~pix2lst.geo.plausible.LST_RANGE_K` on more than 1 % of the valid pixels is refused
        (:class:`~pix2lst.errors.ImplausibleDataError`, as for files) unless
        ``check_range=False``. ``atmosphere``: a spec
        (:func:`~pix2lst.lst_physics.atmosphere.parse_atmosphere`; ``scene`` gives the
        band-10 constants, rasters are read on an ungeoreferenced grid of the array's
        size) or an already opened correction; None: no correction.
        """
        shift = self._shift(units)
        source = ArraySource(array, len(self.metadata.bands))
        sink = ArraySink(source.height, source.width)
        correction, opened = self._open_atmosphere(
            atmosphere, scene, Grid(None, Affine.identity(), source.width, source.height)
        )
        try:
            self._run([source], sink, source.height, source.width, shift=shift,
                      progress=progress, correction=correction)  # fmt: skip
        finally:
            if opened is not None:
                opened.close()
        if check_range:
            count = lst_range_count(parse_temperature_units(units))
            if count is not None:
                count.update(sink.array)
                count.check("predict_array's LST")
        return sink.array

    @staticmethod
    def _open_atmosphere(
        atmosphere: AtmosphereSpec | AtmosphereCorrection | None,
        scene: Scene | str | os.PathLike[str] | None,
        grid: Grid,
    ) -> tuple[Correction | None, AtmosphereCorrection | None]:
        """``(correction to apply or None, correction this call opened and must close)``."""
        if atmosphere is None:
            return None, None
        if hasattr(atmosphere, "correct_rows"):  # opened by the caller
            return (atmosphere if atmosphere.applied else None), None  # type: ignore[union-attr]
        opened = atmosphere.open(scene, grid)  # type: ignore[union-attr]
        return (opened if opened.applied else None), opened

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
        atmosphere: AtmosphereSpec | None = None,
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
        :data:`~pix2lst.geo.plausible.LST_RANGE_K` on more than 1 % of the valid pixels is
        refused (:class:`~pix2lst.errors.ImplausibleDataError`) unless ``check_range=False``;
        a checked LST gets its QGIS style beside it (``.qml``, :mod:`pix2lst.geo.qml`).
        ``atmosphere`` (:func:`~pix2lst.lst_physics.atmosphere.parse_atmosphere`): the
        finished rows are corrected in kelvin with band 10's brightness temperature,
        and the correction's tags (``ATMOSPHERIC_CORRECTION``...) go into the output;
        None: no correction (and the output as without one).
        """
        started = time.perf_counter()
        shift = self._shift(units)
        check_raster_output(dst, overwrite=overwrite, inputs=[src, self.model.path])
        meta = self.metadata
        threads = io_threads(self.plan.io_priority)

        def reopen() -> Source:
            return open_source(
                src, meta.bands, meta.input_units,
                calibrate=scene_calibrator(meta.input_units), threads=threads,  # type: ignore[arg-type]
            )  # fmt: skip

        source = reopen()
        sources = [source]
        opened: AtmosphereCorrection | None = None
        try:
            if hasattr(source, "read"):  # more handles: columns decoded in parallel
                more = getattr(source, "reopen", reopen)  # shares what was parsed and checked
                sources += [more() for _ in range(self.readers - 1)]
            grid = Grid(source.crs, source.transform, source.width, source.height)
            correction, opened = self._open_atmosphere(atmosphere, src, grid)
            unit_name = parse_temperature_units(units)
            plan = self._plan_for(source.height, source.width)
            tags = product_tags(
                "lst", source.tags, method="model", units=unit_name, model=self.model.path.name,
                model_sha256=self.model.sha256, model_target=meta.target, provider=self.provider,
                tile_size=plan.tile, padding=plan.padding, blend=plan.blend,
                source=_source_name(src),
            )  # fmt: skip
            if opened is not None:
                tags = {**tags, **opened.tags}
            with (
                rasterio.Env(GDAL_CACHEMAX=gdal_cache_bytes(source.block_row_bytes, source.width)),
                raster_writer(
                    dst,
                    grid,
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
                stats = self._run(
                    sources, sink, source.height, source.width, shift=shift, progress=progress,
                    correction=correction, plan=plan,
                )  # fmt: skip
                if stats.tiles_run == 0:  # raised inside the sink: nothing is written
                    raise EmptySceneError(
                        f"every pixel of {src} is nodata (0 of {stats.tiles} tiles has a valid "
                        "pixel in all the model's bands); nothing written. Check the input "
                        "and its nodata value"
                    )
        finally:
            for each in sources:
                each.close()
            if opened is not None:
                opened.close()
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
