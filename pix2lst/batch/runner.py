"""Many scenes on Dask distributed: :func:`run`.

Without a scheduler a ``LocalCluster`` sized to the machine runs the scenes (one
worker process per two cores, memory permitting, each running one scene at a
time with ONNX Runtime threads for its share of the cores); with ``scheduler=``
any running Dask cluster does (``dask scheduler`` on one machine, ``dask worker
tcp://HOST:8786`` on each of the others; the workers need the inputs, the model
and the output folder at the same paths, e.g. on a shared file system).

Each scene is one task, retried on faults a retry may cure; a scene that still
fails is recorded in the manifest with its error and never stops the others. A
worker that dies mid-scene costs nothing: Dask runs its scene again elsewhere and
the atomic writer leaves no partial output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pix2lst._machine import OVERRIDE, usable_cores
from pix2lst.batch.inputs import BatchInput, expand_inputs
from pix2lst.batch.manifest import MANIFEST_NAME, ManifestRow, folder_lock, write_manifest
from pix2lst.batch.tasks import (
    PLUGIN_NAME,
    PhysicsOptions,
    PredictOptions,
    PredictorPlugin,
    Task,
    check_predict_options,
    run_scene,
)
from pix2lst.errors import (
    OutputExistsError,
    OutputNotWritableError,
    ParameterError,
    SchedulerError,
)
from pix2lst.geo.atomic import temporaries

__all__ = ["default_workers", "is_complete", "run"]

log = logging.getLogger(__name__)

#: progress(done_scenes, total_scenes)
Progress = Callable[[int, int], None]

WORKER_MEMORY = 2 << 30
"""Memory one worker may need (a full-scene prediction peaks below 1 GB)."""


def default_workers(n_scenes: int) -> int:
    """Worker processes for a local run: one per two usable cores, memory permitting, at most
    one per scene. Both counts are a container's where it has limits: its CPU quota
    (:func:`~pix2lst._machine.usable_cores`) and its memory limit (Dask's
    ``memory_limit``: the host's memory, a cgroup limit, ``RLIMIT_RSS``)."""
    from distributed.system import memory_limit

    by_memory = int(memory_limit() // WORKER_MEMORY)
    return max(1, min(usable_cores() // 2, by_memory, n_scenes))


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished pix2lst LST raster (outputs appear only when complete)."""
    if not path.is_file():
        return False
    import rasterio

    try:
        with rasterio.open(path) as ds:
            return ds.count == 1 and ds.tags().get("PIX2LST_PRODUCT") == "lst"
    except rasterio.errors.RasterioIOError:
        return False


def _clean_partials(folder: Path) -> None:
    """Remove temporaries (of :func:`pix2lst.geo.atomic.temp_name`) a killed writer left."""
    for leftover in temporaries(folder):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            log.info("removed the partial output %s of an interrupted run", leftover)


@contextlib.contextmanager
def _client(
    client: Any, scheduler: str | None, workers: int | None, n_scenes: int, timeout: float
) -> Iterator[tuple[Any, int]]:
    """The Dask client to use and the ORT threads per worker (0: each worker's own share)."""
    if client is not None:
        yield client, 0
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            c = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(
                f"no Dask scheduler answers at {scheduler} ({' '.join(str(exc).split())}); "
                f"start one with `dask scheduler` and workers with `dask worker {scheduler}`, "
                "or drop --scheduler to run on this machine"
            ) from exc
        try:
            try:
                c.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(
                    f"the Dask scheduler at {scheduler} has no workers after {timeout:g} s; "
                    f"start some with `dask worker {scheduler}`"
                ) from exc
            yield c, 0
        finally:
            c.close()
        return
    n = workers or default_workers(n_scenes)
    threads = max(1, usable_cores() // n)
    # each worker process counts only its share of the cores (PYTHON_CPU_COUNT, read by
    # pix2lst._machine): its readers, fillers and GDAL threads are sized for it. The
    # scheduler's HTTP server (always started) listens on loopback on a free port, not on
    # every interface's 8787: two local runs at once do not collide
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        silence_logs=logging.WARNING, env={OVERRIDE: str(threads)},
    )  # fmt: skip
    try:
        with Client(cluster, set_as_default=False) as c:
            yield c, threads
    finally:
        cluster.close()


def _failure(item: BatchInput, dst: Path, exc: BaseException, retries: int) -> ManifestRow:
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name == "KilledWorker":
        text = (
            "the workers running this scene died repeatedly (out of memory? killed?); "
            f"Dask gave up on it ({text})"
        )
    else:
        text = f"{name}: {text} (after {retries} retries)"
    return ManifestRow(item.source, str(dst), "failed", 0.0, "", text)


def run(
    inputs: Iterable[Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    task: Task = "predict",
    *,
    client: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    resume: bool = True,
    cube: str | os.PathLike[str] | None = None,
    options: PredictOptions | PhysicsOptions | None = None,
    progress: Progress | None = None,
    connect_timeout: float = 10.0,
    overwrite: bool = False,
) -> list[ManifestRow]:
    """Process every scene of ``inputs`` into ``out_dir/<scene id>.tif``; the manifest rows.

    ``inputs``: see :func:`pix2lst.batch.inputs.expand_inputs`. ``task``: ``"predict"``
    (``options``: :class:`PredictOptions`) or ``"physics"`` (:class:`PhysicsOptions`).
    Runs on ``client`` (a ``distributed.Client``), else on the cluster at
    ``scheduler``, else on a new ``LocalCluster`` of ``workers`` processes (default:
    sized to the machine). ``retries``: extra tries of a scene after a fault a
    retry may cure. ``resume``: skip scenes whose output is complete; an existing
    output is otherwise replaced only with ``overwrite`` (without it the run is
    refused before any work, :class:`~pix2lst.errors.OutputExistsError`). ``cube``:
    also stack the outputs into a Zarr time-series cube at this path (an existing
    cube is replaced only with ``overwrite``). ``progress(done, total)`` counts scenes.

    ``out_dir/manifest.csv`` holds the rows (input order). Raises
    :class:`~pix2lst.errors.BatchInputError` for bad inputs,
    :class:`~pix2lst.errors.OutputLockedError` when another run uses ``out_dir``,
    :class:`~pix2lst.errors.SchedulerError` when ``scheduler`` does not answer.
    """
    if task not in ("predict", "physics"):
        raise ParameterError(f"task must be 'predict' or 'physics', not {task!r}")
    if sum(x is not None for x in (client, scheduler, workers)) > 1:
        raise ParameterError("give at most one of client, scheduler (--scheduler) and workers")
    if retries < 0:
        raise ParameterError(f"retries must be >= 0, not {retries}")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, not {workers}")
    expected = PredictOptions if task == "predict" else PhysicsOptions
    opts = options if options is not None else expected()
    if not isinstance(opts, expected):
        raise ParameterError(f"task {task!r} takes {expected.__name__}, not {type(opts).__name__}")
    if isinstance(opts, PredictOptions):
        check_predict_options(opts)  # a tile the model cannot run: one line, before any work
    items = expand_inputs(inputs)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot create the output folder {out}: {exc}") from exc
    with folder_lock(out):
        _clean_partials(out)
        rows: dict[str, ManifestRow] = {}
        todo: list[tuple[BatchInput, Path]] = []
        for item in items:
            dst = out / f"{item.scene_id}.tif"
            if resume and is_complete(dst):
                rows[item.scene_id] = ManifestRow(item.source, str(dst), "skipped")
            else:
                todo.append((item, dst))
        existing = [dst for _, dst in todo if dst.exists()]
        if existing and not overwrite:
            how = "pass --overwrite (overwrite=True) to replace them"
            if not resume:
                how += ", or --resume to keep the complete ones"
            raise OutputExistsError(
                f"{len(existing)} output(s) already exist in {out} (e.g. {existing[0].name}); {how}"
            )
        if cube is not None and Path(cube).exists() and not overwrite:
            raise OutputExistsError(
                f"the cube {cube} already exists; pass --overwrite to replace it or give another path"
            )
        manifest = out / MANIFEST_NAME

        def save() -> None:
            write_manifest(manifest, [rows[i.scene_id] for i in items if i.scene_id in rows])

        save()
        if progress:
            progress(len(rows), len(items))
        if todo:
            _run_tasks(todo, task, opts, rows, save, progress, len(items),
                       client, scheduler, workers, retries, connect_timeout)  # fmt: skip
        _clean_partials(out)
        result = [rows[i.scene_id] for i in items]
        if cube is not None:
            from pix2lst.batch.cube import write_cube

            done = [Path(r.output) for r in result if r.status != "failed"]
            if done:
                write_cube(done, cube, overwrite=overwrite)
    return result


def _run_tasks(
    todo: list[tuple[BatchInput, Path]],
    task: Task,
    opts: PredictOptions | PhysicsOptions,
    rows: dict[str, ManifestRow],
    save: Callable[[], None],
    progress: Progress | None,
    total: int,
    client: Any,
    scheduler: str | None,
    workers: int | None,
    retries: int,
    timeout: float,
) -> None:
    from distributed import as_completed

    with _client(client, scheduler, workers, len(todo), timeout) as (c, threads):
        if isinstance(opts, PredictOptions):
            if threads and not opts.threads:
                opts = replace(opts, threads=threads)
            c.register_plugin(PredictorPlugin(opts), name=PLUGIN_NAME)
        run_id = uuid.uuid4().hex[:8]
        futures = {
            c.submit(
                run_scene,
                item,
                str(dst),
                task,
                opts,
                key=f"pix2lst-{task}-{item.scene_id}-{run_id}",
                retries=retries,
                pure=False,
            ): (item, dst)
            for item, dst in todo
        }
        for future in as_completed(futures, loop=c.loop):
            item, dst = futures[future]
            try:
                row = future.result()
            except Exception as exc:
                row = _failure(item, dst, exc, retries)
            rows[item.scene_id] = row
            save()
            log.info("%s: %s %s", item.scene_id, row.status, row.error)
            if progress:
                progress(len(rows), total)
