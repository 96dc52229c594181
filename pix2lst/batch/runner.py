"""Many scenes on Dask distributed: :func:`run`.

Without a scheduler a ``LocalCluster`` sized to the machine runs the scenes (one
worker process per two cores, memory permitting, each running one scene at a
time with ONNX Runtime threads for its share of the cores); with ``scheduler=``
any running Dask cluster does (``dask scheduler`` on one machine, ``dask worker
tcp://HOST:8786`` on each of the others; the workers need the inputs, the model
and the output folder at the same paths, e.g. on a shared file system).

Each scene is one task, retried on faults a retry may cure (network faults, not
bad input); a scene that still fails is recorded in the manifest with its one-line
error and never stops the others, and Dask's own log lines about it stay quiet
unless pix2lst's logger is verbose. A worker that dies mid-scene costs nothing:
Dask runs its scene again elsewhere and the atomic writer leaves no partial output.

Everything that can be refused is refused before any work: the options (as the
single commands check them: the model, tile and padding, creation options, the
atmosphere), the inputs, the cube path, and the outputs already in the folder that
are not this run's (:mod:`pix2lst.batch.resume`). Only temporary files whose writer
process is gone are removed, at the start and at the end (or interruption) of a run.
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
from pix2lst.batch.resume import expected_tags, output_mismatch
from pix2lst.batch.tasks import (
    DASK_LOGGERS,
    PLUGIN_NAME,
    LogLevels,
    PhysicsOptions,
    PredictOptions,
    PredictorPlugin,
    Task,
    check_creation_options,
    check_predict_options,
    run_scene,
    set_log_levels,
)
from pix2lst.batch.workers import WORKER_MEMORY, WorkerPlan, gpu_count, plan_workers
from pix2lst.errors import (
    OutputExistsError,
    OutputNotWritableError,
    ParameterError,
    Pix2LstError,
    SchedulerError,
)
from pix2lst.geo.atomic import remove_stale_temps, target_of, temporaries

__all__ = ["WORKER_MEMORY", "BatchRows", "default_workers", "run"]

log = logging.getLogger(__name__)

#: progress(done_scenes, total_scenes)
Progress = Callable[[int, int], None]


class BatchRows(list[ManifestRow]):
    """The manifest rows of a run, in input order; ``cube``: the cube it wrote (None: none)."""

    cube: Path | None = None


def default_workers(n_scenes: int) -> int:
    """Worker processes for a local run: one per two usable cores, memory permitting, at most
    one per scene. Both counts are a container's where it has limits: its CPU quota
    (:func:`~pix2lst._machine.usable_cores`) and its memory limit (Dask's
    ``memory_limit``: the host's memory, a cgroup limit, ``RLIMIT_RSS``)."""
    return _plan(None, n_scenes, "cpu").workers


def _plan(requested: int | None, n_scenes: int, providers: str) -> WorkerPlan:
    from distributed.system import memory_limit

    return plan_workers(
        requested, cores=usable_cores(), scenes=n_scenes, memory=int(memory_limit()),
        gpus=gpu_count(providers),
    )  # fmt: skip


def _remove_dead_writers_temps(folder: Path) -> None:
    """Remove the temporary files in ``folder`` whose writer process is gone (a killed
    run's); a live writer's, of this run or another, stays."""
    for target in sorted({target_of(p) for p in temporaries(folder)}):
        remove_stale_temps(target)


def _verbose() -> bool:
    return logging.getLogger("pix2lst").getEffectiveLevel() <= logging.INFO


@contextlib.contextmanager
def _dask_log_levels() -> Iterator[LogLevels]:
    """Dask's own log lines (a failed task's "Compute Failed" and traceback) stay quiet
    unless pix2lst's logger is verbose (-v), in this process for the block (the levels
    are put back after it); the plugin that does the same on the workers."""
    dask_level = logging.WARNING if _verbose() else logging.CRITICAL
    pix2lst_level = logging.getLogger("pix2lst").getEffectiveLevel()
    before = {name: logging.getLogger(name).level for name in [*DASK_LOGGERS, "pix2lst"]}
    set_log_levels(dask_level, pix2lst_level)
    try:
        yield LogLevels(dask_level, pix2lst_level)
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def _check_address(scheduler: str) -> None:
    """Refuse a scheduler address Dask cannot parse, in one line, before any work."""
    from distributed.comm.addressing import get_address_host_port

    try:
        get_address_host_port(scheduler)
    except (ValueError, TypeError) as exc:
        raise SchedulerError(
            f"--scheduler {scheduler!r} is not a Dask scheduler address ({exc}); give one "
            "such as tcp://HOST:8786, or drop --scheduler to run on this machine"
        ) from None


@contextlib.contextmanager
def _client(
    client: Any, scheduler: str | None, plan: WorkerPlan | None, timeout: float
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
            ) from None
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
    plan = plan or _plan(None, 1, "cpu")
    # each worker process counts only its share of the cores (PYTHON_CPU_COUNT, read by
    # pix2lst._machine): its readers, fillers and GDAL threads are sized for it. The
    # scheduler's HTTP server (always started) listens on loopback on a free port, not on
    # every interface's 8787: two local runs at once do not collide
    cluster = LocalCluster(
        n_workers=plan.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        silence_logs=logging.WARNING if _verbose() else logging.CRITICAL,
        env={OVERRIDE: str(plan.threads)},
    )  # fmt: skip
    try:
        with Client(cluster, set_as_default=False) as c:
            yield c, plan.threads
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


def _remote(item: BatchInput) -> bool:
    """Whether a scene is read over the network (an MTL URL, a STAC item's hrefs)."""
    from pix2lst.geo.scene import is_remote

    return item.item is not None or is_remote(item.source) or item.source.endswith(".json")


def _local_paths(items: Iterable[BatchInput]) -> list[str]:
    return [i.source for i in items if i.item is None and Path(i.source).exists()]


def _check_cube_layers(items: list[BatchInput]) -> None:
    """Refuse, before any work, scenes that cannot make one cube (several path/rows, CRSs,
    two of one time): :func:`pix2lst.batch.cube.check_layers` on the scenes' grids."""
    import rasterio

    from pix2lst.batch.cube import check_layers, scene_layer
    from pix2lst.geo.grid import grid_of
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_scene
    from pix2lst.geo.tags import scene_tags

    layers = []
    for item in items:
        try:
            if item.item is not None or is_scene(item.target):
                sc = find_scene(item.target)
                with rasterio.open(next(iter(sc.bands.values()))) as ds:
                    grid = grid_of(ds)
                tags = scene_tags(sc.mtl, sc.level)
            else:  # a composite GeoTIFF
                with rasterio.open(item.source) as ds:
                    grid, tags = grid_of(ds), ds.tags()
            layers.append(scene_layer(Path(f"{item.scene_id}.tif"), grid, tags))
        except (Pix2LstError, OSError, StopIteration) as exc:  # its own row will say why
            log.debug("%s left out of the cube check: %s", item.scene_id, exc)
    if layers:
        check_layers(layers)


def _previous_rows(manifest: Path) -> dict[str, ManifestRow]:
    """The rows of an earlier run's manifest by output path (none when there is none)."""
    from pix2lst.batch.manifest import read_manifest

    try:
        return {r.output: r for r in read_manifest(manifest) if r.status != "failed"}
    except (OSError, ValueError, KeyError):
        return {}


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
) -> BatchRows:
    """Process every scene of ``inputs`` into ``out_dir/<scene id>.tif``; the manifest rows.

    ``inputs``: see :func:`pix2lst.batch.inputs.expand_inputs`. ``task``: ``"predict"``
    (``options``: :class:`PredictOptions`) or ``"physics"`` (:class:`PhysicsOptions`).
    Runs on ``client`` (a ``distributed.Client``), else on the cluster at
    ``scheduler``, else on a new ``LocalCluster`` of ``workers`` processes (default:
    sized to the machine; more than the cores, scenes or memory allow are capped, with
    a warning). ``retries``: extra tries of a scene after a fault a retry may cure.

    ``resume``: keep an existing output that reads back whole and whose tags match the
    run (:mod:`pix2lst.batch.resume`; its earlier manifest row's seconds and provider
    stay); any other existing output (and every one without ``resume``) is recomputed
    with ``overwrite`` and refused without it (:class:`~pix2lst.errors.OutputExistsError`,
    naming the difference, before any work). A file that appears in ``out_dir`` after
    that check is never replaced. ``cube``: also stack the outputs into a Zarr
    time-series cube at this path (checked before any work:
    :func:`pix2lst.batch.cube.check_cube_output`; an existing cube is replaced only
    with ``overwrite``). ``progress(done, total)`` counts scenes.

    ``out_dir/manifest.csv`` holds the rows (input order). Raises
    :class:`~pix2lst.errors.BatchInputError` for bad inputs,
    :class:`~pix2lst.errors.OutputLockedError` when another run uses ``out_dir``,
    :class:`~pix2lst.errors.SchedulerError` when ``scheduler`` does not answer.
    """
    if task not in ("predict", "physics"):
        raise ParameterError(f"task must be 'predict' or 'physics', not {task!r}")
    if sum(x is not None for x in (client, scheduler, workers)) > 1:
        raise ParameterError("give at most one of client, scheduler (--scheduler) and workers")
    if scheduler is not None:
        _check_address(scheduler)
    if retries < 0:
        raise ParameterError(f"retries must be >= 0, not {retries}")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, not {workers}")
    expected = PredictOptions if task == "predict" else PhysicsOptions
    opts = options if options is not None else expected()
    if not isinstance(opts, expected):
        raise ParameterError(f"task {task!r} takes {expected.__name__}, not {type(opts).__name__}")
    check_creation_options(opts.creation_options, opts.cog)
    facts = check_predict_options(opts) if isinstance(opts, PredictOptions) else None
    items = expand_inputs(inputs)
    out = Path(out_dir)
    cube_path = Path(cube) if cube is not None else None
    if cube_path is not None:
        from pix2lst.batch.cube import check_cube_output

        check_cube_output(
            cube_path, overwrite=overwrite, inputs=[out, *_local_paths(items)], created=out
        )
        _check_cube_layers(items)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot create the output folder {out}: {exc}") from exc
    with folder_lock(out):
        _remove_dead_writers_temps(out)
        manifest = out / MANIFEST_NAME
        previous = _previous_rows(manifest)
        tags = expected_tags(opts, facts)
        rows: dict[str, ManifestRow] = {}
        todo: list[tuple[BatchInput, Path, bool]] = []
        differ: list[tuple[Path, str]] = []
        for item in items:
            dst = out / f"{item.scene_id}.tif"
            if not (dst.exists() or dst.is_symlink()):
                todo.append((item, dst, False))
                continue
            why = output_mismatch(dst, tags, opts.cog) if resume else "it exists (--no-resume)"
            if why is None:
                old = previous.get(str(dst))
                rows[item.scene_id] = ManifestRow(
                    item.source, str(dst), "skipped", old.seconds if old else 0.0,
                    old.provider if old else "",
                )  # fmt: skip
            else:
                differ.append((dst, why))
                todo.append((item, dst, True))
        if differ and not overwrite:
            dst, why = differ[0]
            if resume:
                raise OutputExistsError(
                    f"{len(differ)} output(s) in {out} are not what this run writes "
                    f"({dst.name}: {why}); pass --overwrite to recompute them, or choose "
                    "another -o/--output folder"
                )
            raise OutputExistsError(
                f"{len(differ)} output(s) already exist in {out} (e.g. {dst.name}); pass "
                "--overwrite (overwrite=True) to replace them, or --resume to keep the "
                "complete ones"
            )

        def save() -> None:
            write_manifest(manifest, [rows[i.scene_id] for i in items if i.scene_id in rows])

        save()
        if progress:
            progress(len(rows), len(items))
        result = BatchRows()
        try:
            if todo:
                plan = None
                if client is None and scheduler is None:
                    plan = _plan(workers, len(todo), getattr(opts, "providers", "cpu"))
                    if plan.note:
                        log.warning("%s", plan.note)
                _run_tasks(todo, task, opts, rows, save, progress, len(items),
                           client, scheduler, plan, retries, connect_timeout)  # fmt: skip
        except BaseException as exc:
            if client is None and scheduler is None:  # its workers are gone with its cluster
                _remove_dead_writers_temps(out)  # (another cluster's may still be writing)
            done = sum(r.status != "failed" for r in rows.values())
            left = sorted(p.name for p in temporaries(out))
            with contextlib.suppress(Exception):
                exc.left = (  # type: ignore[attr-defined]
                    f"{done} of {len(items)} scene(s) finished and kept in {out} (see "
                    f"{MANIFEST_NAME}); "
                    + (f"temporary files still being written: {', '.join(left)}" if left
                       else "no partial output was left")
                )  # fmt: skip
            raise
        _remove_dead_writers_temps(out)
        result.extend(rows[i.scene_id] for i in items)
        if cube_path is not None:
            from pix2lst.batch.cube import write_cube

            done_paths = [Path(r.output) for r in result if r.status != "failed"]
            if done_paths:
                write_cube(done_paths, cube_path, overwrite=overwrite,
                           inputs=[out, *_local_paths(items)])  # fmt: skip
                result.cube = cube_path
            else:
                log.warning("no scene succeeded, so the cube %s was not written", cube_path)
    return result


def _run_tasks(
    todo: list[tuple[BatchInput, Path, bool]],
    task: Task,
    opts: PredictOptions | PhysicsOptions,
    rows: dict[str, ManifestRow],
    save: Callable[[], None],
    progress: Progress | None,
    total: int,
    client: Any,
    scheduler: str | None,
    plan: WorkerPlan | None,
    retries: int,
    timeout: float,
) -> None:
    from distributed import as_completed

    with _dask_log_levels() as levels, _client(client, scheduler, plan, timeout) as (c, threads):
        if client is None:  # a cluster this run started or was pointed at: its workers too
            with contextlib.suppress(Exception):  # one that refuses plugins keeps its logging
                c.register_plugin(levels, name=LogLevels.name)
        if isinstance(opts, PredictOptions):
            if threads and not opts.threads:
                opts = replace(opts, threads=threads)
            devices = plan.devices if plan is not None else ()
            c.register_plugin(PredictorPlugin(opts, devices), name=PLUGIN_NAME)
        run_id = uuid.uuid4().hex[:8]
        futures = {
            c.submit(
                run_scene,
                item,
                str(dst),
                task,
                opts,
                again,
                key=f"pix2lst-{task}-{item.scene_id}-{run_id}",
                retries=retries,
                pure=False,
                # local scenes first: a remote one that stalls does not hold them up
                priority=0 if _remote(item) else 1,
            ): (item, dst)
            for item, dst, again in sorted(todo, key=lambda t: _remote(t[0]))  # local first
        }
        try:
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
        except BaseException:
            with contextlib.suppress(Exception):
                c.cancel(list(futures), force=True)
            raise
