"""What runs on a Dask worker: one scene in, one output GeoTIFF and one manifest row out.

The predictor is built once per worker by :class:`PredictorPlugin` (a Dask
``WorkerPlugin``: every worker, including one that joins or restarts mid-run,
builds its own), with ONNX Runtime's threads sized to the worker's share of the
cores. :func:`run_scene` is the task: it returns a :class:`ManifestRow` for a
scene that is done or that failed for good (bad input: a missing band, a 404),
and raises for a fault a retry may cure (an ``OSError``: a network error, a
timeout), so that Dask retries the task.
"""

from __future__ import annotations

import logging
import numbers
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from distributed.diagnostics.plugin import WorkerPlugin

from pix2lst._machine import OVERRIDE, usable_cores
from pix2lst.batch.inputs import BatchInput
from pix2lst.batch.manifest import ManifestRow
from pix2lst.errors import ParameterError, Pix2LstError

__all__ = [
    "PLUGIN_NAME",
    "PhysicsOptions",
    "PredictOptions",
    "PredictorPlugin",
    "Task",
    "check_predict_options",
    "is_transient",
    "run_scene",
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
    """How ``physics`` runs (see :func:`pix2lst.lst_physics.write_lst`)."""

    method: str = "planck"
    emissivity: str = "sobrino"
    units: str = "K"
    mask_clouds: bool = False
    cog: bool = False
    creation_options: tuple[tuple[str, str], ...] = ()


class PredictorPlugin(WorkerPlugin):
    """A Dask worker plugin holding one :class:`~pix2lst.runtime.LSTPredictor` per worker.

    Built in ``setup`` (once per worker process); a lock makes the tasks of a
    multi-threaded worker take turns on it (one predictor runs one prediction at a
    time).
    """

    name = PLUGIN_NAME

    def __init__(self, options: PredictOptions) -> None:
        self.options = options
        self.predictor: Any = None
        self.lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"])  # type: ignore[misc]

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
        self.predictor = LSTPredictor(
            o.model, providers=o.providers, batch_size=o.batch_size, padding=o.padding,
            blend=o.blend, session=session, sessions=1,  # the workers are the parallelism
            tile_size=o.tile_size, tiling=o.tiling,
        )  # fmt: skip
        log.info(
            "worker predictor ready: %s, %d ORT threads, sized for %d cores",
            self.predictor.provider,
            threads,
            usable_cores(),
        )

    def teardown(self, worker: Any = None) -> None:
        self.predictor = None


def check_predict_options(options: PredictOptions) -> None:
    """Refuse a ``tile_size`` or ``padding`` the model cannot run, here, before any worker
    or scene starts.

    The model is opened on the CPU (no warm-up) when this machine has it, and its
    graph and metadata checked as :class:`~pix2lst.runtime.LSTPredictor` does (a
    one-line :class:`~pix2lst.errors.ParameterError`: a run tile not a multiple of
    ``2**depth``, smaller than the model's tile, or on a model exported for fixed
    tiles; a padding that leaves no stride). A model path that exists only on the
    workers of a remote cluster is checked there.
    """
    if options.tile_size is None and options.padding is None:
        return
    from pix2lst.runtime.model import load_model
    from pix2lst.runtime.session import SessionConfig
    from pix2lst.runtime.tiling import TileGrid

    if options.model is None:
        from pix2lst.data import default_model_path

        path = default_model_path()
    else:
        path = Path(options.model)
    if not path.is_file():
        log.info("model %s is not on this machine: the workers check its tile and padding", path)
        return
    config = SessionConfig(providers="cpu", graph_optimization="disable", warmup=False)
    model = load_model(path, config, batch_size=1, tile_size=options.tile_size)
    if options.padding is not None:
        tile = options.tile_size or model.metadata.tile_size
        TileGrid(tile, tile, tile, int(options.padding))  # one line if it does not fit


def _worker_share(worker: Any) -> int:
    """The worker's share of the cores: its Dask thread count (``dask worker --nthreads``)."""
    n = getattr(getattr(worker, "state", None), "nthreads", None) or getattr(worker, "nthreads", 0)
    return max(1, int(n or usable_cores()))


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure ``exc``: I/O and network faults, unless marked permanent."""
    if isinstance(exc, Pix2LstError) and not isinstance(exc, OSError):
        return False  # bad input: the same again fails the same way
    return isinstance(exc, (OSError, TimeoutError)) and getattr(exc, "transient", True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, Pix2LstError) else f"{type(exc).__name__}: {text}"


def _plugin() -> PredictorPlugin:
    from distributed import get_worker

    worker = get_worker()
    plugin: Any = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:  # pragma: no cover - the runner registers it before submitting
        raise RuntimeError("the pix2lst predictor plugin is not registered on this worker")
    if plugin.predictor is None:
        plugin.setup(worker)
    return plugin  # type: ignore[no-any-return]


def _predict(item: BatchInput, dst: Path, options: PredictOptions) -> str:
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_scene

    plugin = _plugin()
    src = find_scene(item.target) if is_scene(item.target) else item.source
    with plugin.lock:
        plugin.predictor.predict_file(
            src, dst, units=options.units, cog=options.cog, overwrite=True,
            creation_options=dict(options.creation_options) or None,
        )  # fmt: skip
        return str(plugin.predictor.provider)


def _physics(item: BatchInput, dst: Path, options: PhysicsOptions) -> str:
    from pix2lst.geo.inputs import find_scene
    from pix2lst.lst_physics.lst import write_lst

    write_lst(
        find_scene(item.target), dst, method=options.method, emissivity=options.emissivity,  # type: ignore[arg-type]
        units=options.units, mask_clouds=options.mask_clouds, overwrite=True,  # type: ignore[arg-type]
        cog=options.cog, creation_options=dict(options.creation_options) or None,
    )  # fmt: skip
    return "numba"


def run_scene(
    item: BatchInput, dst: str, task: Task, options: PredictOptions | PhysicsOptions
) -> ManifestRow:
    """Process one scene into ``dst`` (atomically); the manifest row that says how it went.

    Raises only what a retry may cure (see :func:`is_transient`).
    """
    started = time.perf_counter()
    try:
        if task == "predict":
            provider = _predict(item, Path(dst), options)  # type: ignore[arg-type]
        else:
            provider = _physics(item, Path(dst), options)  # type: ignore[arg-type]
    except Exception as exc:
        if is_transient(exc):
            log.warning("scene %s: %s (retrying if retries are left)", item.scene_id, exc)
            raise
        return ManifestRow(
            item.source, dst, "failed", time.perf_counter() - started, "", _one_line(exc)
        )
    return ManifestRow(item.source, dst, "ok", time.perf_counter() - started, provider)
