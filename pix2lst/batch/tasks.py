"""What runs on a Dask worker: one scene in, one output GeoTIFF and one manifest row out.

The predictor is built once per worker by :class:`PredictorPlugin` (a Dask
``WorkerPlugin``: every worker, including one that joins or restarts mid-run,
builds its own), with ONNX Runtime's threads sized to the worker's share of the
cores. :func:`run_scene` is the task: it returns a :class:`ManifestRow` for a
scene that is done or that failed for good (any pix2lst error but a transient
:class:`~pix2lst.errors.RemoteError`: a missing band, bad input, a bad parameter,
a 404), and raises for a fault a retry may cure (a network error, a timeout), so
that Dask retries the task. What it raises carries its one-line message only (no
cause, no traceback): an HTTP response kept as a cause cannot cross to the client.
"""

from __future__ import annotations

import logging
import numbers
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from distributed.diagnostics.plugin import WorkerPlugin

from pix2lst._machine import OVERRIDE, usable_cores
from pix2lst.batch.inputs import BatchInput
from pix2lst.batch.manifest import ManifestRow
from pix2lst.errors import OutputExistsError, ParameterError, Pix2LstError, RemoteError

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereSpec

__all__ = [
    "DASK_LOGGERS",
    "PLUGIN_NAME",
    "LogLevels",
    "ModelFacts",
    "PhysicsOptions",
    "PredictOptions",
    "PredictorPlugin",
    "Task",
    "check_creation_options",
    "check_predict_options",
    "engine_cache",
    "is_transient",
    "run_scene",
    "set_log_levels",
    "worker_device",
]

log = logging.getLogger(__name__)

Task = Literal["predict", "physics"]
PLUGIN_NAME = "pix2lst-predictor"


@dataclass(frozen=True)
class PredictOptions:
    """How ``predict`` runs on every worker (see :class:`~pix2lst.runtime.LSTPredictor`).

    ``model=None`` is the shipped model; with a remote cluster the model path must
    exist on every worker. ``threads``: ONNX Runtime intra-op threads per worker
    (0: the worker's share of the cores). ``tile_size``: the tile each scene is cut
    into (``None``: the model's own; a larger one needs a model with symbolic
    height/width, see :class:`~pix2lst.runtime.LSTPredictor`). ``tiling``: where the
    tiles are cut (``"auto"``: on the device on CUDA workers, on the host elsewhere).
    ``atmosphere``: the atmospheric correction of every prediction (parsed once, by
    :func:`~pix2lst.lst_physics.atmosphere.parse_atmosphere`; ``None``: none).
    """

    model: str | None = None
    providers: str = "auto"
    batch_size: int = 8
    padding: int | None = None
    blend: str = "hann"
    units: str = "K"
    cog: bool = False
    threads: int = 0
    creation_options: tuple[tuple[str, str], ...] = ()
    tile_size: int | None = None
    tiling: str = "auto"
    atmosphere: AtmosphereSpec | None = None

    def __post_init__(self) -> None:
        from pix2lst.runtime.tiling import resolve_tiling

        resolve_tiling(self.tiling)  # one line naming the choices
        if self.tile_size is not None and (
            isinstance(self.tile_size, bool) or not isinstance(self.tile_size, numbers.Integral)
            or self.tile_size < 1
        ):  # fmt: skip
            raise ParameterError(
                f"tile_size must be a positive whole number of pixels or None (the model's "
                f"own tile), not {self.tile_size!r}"
            )


@dataclass(frozen=True)
class PhysicsOptions:
    """How ``physics`` runs (see :func:`pix2lst.lst_physics.write_lst`); ``atmosphere``
    as in :class:`PredictOptions`."""

    method: str = "planck"
    emissivity: str = "sobrino"
    units: str = "K"
    mask_clouds: bool = False
    cog: bool = False
    creation_options: tuple[tuple[str, str], ...] = ()
    atmosphere: AtmosphereSpec | None = None


class PredictorPlugin(WorkerPlugin):
    """A Dask worker plugin holding one :class:`~pix2lst.runtime.LSTPredictor` per worker.

    Built in ``setup`` (once per worker process); a lock makes the tasks of a
    multi-threaded worker take turns on it (one predictor runs one prediction at a
    time).
    """

    name = PLUGIN_NAME

    def __init__(self, options: PredictOptions, devices: tuple[int, ...] = ()) -> None:
        self.options = options
        self.devices = tuple(devices)
        self.predictor: Any = None
        self.lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "devices": self.devices}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"], state.get("devices", ()))  # type: ignore[misc]

    def setup(self, worker: Any = None) -> None:
        from dataclasses import replace

        from pix2lst.runtime.predictor import LSTPredictor
        from pix2lst.runtime.session import SessionConfig

        o = self.options
        threads = o.threads or _worker_share(worker)
        if getattr(worker, "nanny", None):
            # a worker process of its own (behind a nanny: ``dask worker --nthreads N``,
            # a job queue's) counts only its share of the cores, as the local cluster's
            # workers do from their start: its readers, fillers and GDAL threads are then
            # sized for it, not for the whole machine. A PYTHON_CPU_COUNT its owner set
            # stays; a worker inside the client's own process leaves the process alone
            os.environ.setdefault(OVERRIDE, str(threads))
        session = replace(SessionConfig(), intra_op_threads=threads)
        device = worker_device(getattr(worker, "name", None), self.devices)
        if device is not None:  # one GPU per worker, each with its own engine cache
            session = replace(session, device_id=device, trt_cache_dir=engine_cache(device))
        self.predictor = LSTPredictor(
            o.model, providers=o.providers, batch_size=o.batch_size, padding=o.padding,
            blend=o.blend, session=session, sessions=1,  # the workers are the parallelism
            tile_size=o.tile_size, tiling=o.tiling,
        )  # fmt: skip
        log.info(
            "worker predictor ready: %s%s, %d ORT threads, sized for %d cores",
            self.predictor.provider,
            "" if device is None else f" on GPU {device}",
            threads,
            usable_cores(),
        )

    def teardown(self, worker: Any = None) -> None:
        self.predictor = None


@dataclass(frozen=True)
class ModelFacts:
    """What a prediction's tags will say about the model: its hash, run tile and padding."""

    sha256: str
    tile_size: int
    padding: int


def check_creation_options(creation_options: tuple[tuple[str, str], ...], cog: bool) -> None:
    """Refuse ``--co`` options the writer refuses, here, before any worker or scene starts.

    The writer's own check (:func:`pix2lst.geo.writer.check_creation_options`, which
    every scene's :func:`~pix2lst.geo.writer.raster_writer` makes too), run once for the
    whole run; what it refuses is refused in one line
    (:class:`~pix2lst.errors.ParameterError`).
    """
    from pix2lst.geo.writer import check_creation_options as writer_accepts

    given = " ".join(f"--co {k.upper()}={v}" for k, v in creation_options)
    try:
        writer_accepts(dict(creation_options), cog)
    except ParameterError as exc:
        raise ParameterError(
            f"{given} is refused by the GeoTIFF writer ({exc}); fix or drop it (names and "
            "values as in GDAL's GTiff/COG driver docs)"
        ) from None


def worker_device(name: Any, devices: tuple[int, ...]) -> int | None:
    """The GPU of the local worker ``name`` (a local cluster names them 0, 1, ...): one
    device each, in turn; None without devices."""
    if not devices:
        return None
    try:
        index = int(name)
    except (TypeError, ValueError):
        index = sum(str(name).encode())
    return devices[index % len(devices)]


def engine_cache(device: int) -> Path:
    """The TensorRT engine cache folder of GPU ``device``: workers never share one."""
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "pix2lst" / "tensorrt" / f"gpu{device}"


def check_predict_options(options: PredictOptions) -> ModelFacts | None:
    """Load the model here, before any worker or scene starts, as ``predict`` does; what
    its outputs' tags will say about it.

    The model is opened on the CPU (no warm-up) when this machine has it, and its graph
    and metadata checked as :class:`~pix2lst.runtime.LSTPredictor` does: a file that is
    no model is a one-line :class:`~pix2lst.errors.ModelError`; a run tile not a
    multiple of ``2**depth``, smaller than the model's tile, or on a model exported for
    fixed tiles, and a padding that leaves no stride, a one-line
    :class:`~pix2lst.errors.ParameterError`. A model path that exists only on the
    workers of a remote cluster is checked there (None).
    """
    from pix2lst.runtime.model import load_model, run_tile_size
    from pix2lst.runtime.session import SessionConfig
    from pix2lst.runtime.tiling import TileGrid, default_padding

    if options.model is None:
        from pix2lst.data import default_model_path

        path = default_model_path()
    else:
        path = Path(options.model)
    if not path.is_file():
        log.info("model %s is not on this machine: the workers check it", path)
        return None
    config = SessionConfig(providers="cpu", graph_optimization="disable", warmup=False)
    model = load_model(path, config, batch_size=1, tile_size=options.tile_size)
    meta = model.metadata
    tile = run_tile_size(meta, model.session, options.tile_size, str(path))
    padding = default_padding(meta.tile_size) if options.padding is None else int(options.padding)
    TileGrid(tile, tile, tile, padding)  # one line if it does not fit
    return ModelFacts(model.sha256, tile, padding)


class LogLevels(WorkerPlugin):
    """Sets the levels of Dask's and pix2lst's loggers on every worker, as on the client:
    a task's failure ("Compute Failed" and its traceback) is said once, in the manifest
    and on the terminal, not again by the workers, unless the run is verbose."""

    name = "pix2lst-log-levels"

    def __init__(self, dask_level: int, pix2lst_level: int) -> None:
        self.dask_level = dask_level
        self.pix2lst_level = pix2lst_level

    def setup(self, worker: Any = None) -> None:
        set_log_levels(self.dask_level, self.pix2lst_level)


DASK_LOGGERS = (
    "distributed", "distributed.worker", "distributed.core", "distributed.nanny",
    "distributed.scheduler", "distributed.client", "distributed.utils_perf",
)  # fmt: skip
"""Dask's loggers that speak of a failed task (``distributed.worker``: "Compute Failed")."""


def set_log_levels(dask_level: int, pix2lst_level: int) -> None:
    """The levels of ``distributed``'s loggers and of ``pix2lst``'s, in this process."""
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(dask_level)
    logging.getLogger("pix2lst").setLevel(pix2lst_level)


def _worker_share(worker: Any) -> int:
    """The worker's share of the cores: its Dask thread count (``dask worker --nthreads``)."""
    n = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 0)
    return max(1, int(n or usable_cores()))


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure ``exc``: network and I/O faults outside pix2lst, and a
    :class:`~pix2lst.errors.RemoteError` marked transient; every other pix2lst error (a
    missing band, bad input, a bad parameter, a full disk) fails the same way again."""
    if isinstance(exc, Pix2LstError):
        return isinstance(exc, RemoteError) and bool(getattr(exc, "transient", True))
    return isinstance(exc, (OSError, TimeoutError)) and getattr(exc, "transient", True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, Pix2LstError) else f"{type(exc).__name__}: {text}"


def _shippable(exc: BaseException) -> BaseException:
    """``exc`` as a new exception of the same kind holding only its one-line message: no
    cause, context or traceback to pickle (an HTTP response kept as a cause cannot be)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, RemoteError):
        return RemoteError(text, transient=True)
    try:
        clean = type(exc)(text)
        if str(clean) == text:
            return clean
    except Exception:  # a constructor of its own signature: fall back below
        pass
    return OSError(_one_line(exc))


def _plugin() -> PredictorPlugin:
    from distributed import get_worker

    worker = get_worker()
    plugin: Any = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:  # pragma: no cover - the runner registers it before submitting
        raise RuntimeError("the pix2lst predictor plugin is not registered on this worker")
    if plugin.predictor is None:
        plugin.setup(worker)
    return plugin  # type: ignore[no-any-return]


def _predict(item: BatchInput, dst: Path, options: PredictOptions, overwrite: bool) -> str:
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_scene

    plugin = _plugin()
    src = find_scene(item.target) if is_scene(item.target) else item.source
    with plugin.lock:
        plugin.predictor.predict_file(
            src, dst, units=options.units, cog=options.cog, overwrite=overwrite,
            creation_options=dict(options.creation_options) or None,
            atmosphere=options.atmosphere,
        )  # fmt: skip
        return str(plugin.predictor.provider)


def _physics(item: BatchInput, dst: Path, options: PhysicsOptions, overwrite: bool) -> str:
    from pix2lst.geo.inputs import find_scene
    from pix2lst.lst_physics.lst import write_lst

    write_lst(
        find_scene(item.target), dst, method=options.method, emissivity=options.emissivity,  # type: ignore[arg-type]
        units=options.units, mask_clouds=options.mask_clouds, overwrite=overwrite,  # type: ignore[arg-type]
        cog=options.cog, creation_options=dict(options.creation_options) or None,
        atmosphere=options.atmosphere,
    )  # fmt: skip
    return "numba"


def run_scene(
    item: BatchInput,
    dst: str,
    task: Task,
    options: PredictOptions | PhysicsOptions,
    overwrite: bool = False,
) -> ManifestRow:
    """Process one scene into ``dst`` (atomically); the manifest row that says how it went.

    ``overwrite``: replace an output that is there (only for one the run's start check
    assigned for recompute: a file that appeared since is never replaced). Raises only
    what a retry may cure (see :func:`is_transient`), as its one-line message.
    """
    started = time.perf_counter()
    try:
        if task == "predict":
            provider = _predict(item, Path(dst), options, overwrite)  # type: ignore[arg-type]
        else:
            provider = _physics(item, Path(dst), options, overwrite)  # type: ignore[arg-type]
    except Exception as exc:
        if not is_transient(exc):
            text = _one_line(exc)
            if isinstance(exc, OutputExistsError) and not overwrite:
                text = (
                    f"{dst} appeared after the run checked its folder and was left as it is; "
                    "run again to check it (resume) or to replace it (--overwrite)"
                )
            return ManifestRow(item.source, dst, "failed", time.perf_counter() - started, "", text)
        log.info("scene %s: %s (retrying if retries are left)", item.scene_id, exc)
        error = _shippable(exc)
    else:
        return ManifestRow(item.source, dst, "ok", time.perf_counter() - started, provider)
    raise error  # outside the handler: no context chained to it
