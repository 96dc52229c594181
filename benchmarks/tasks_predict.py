"""Child tasks around the runtime: the ORT ceiling, a provider probe, end-to-end prediction.

* :func:`ort_ceiling`: ONNX Runtime alone on as many tiles as the pipeline would
  run for a scene (:class:`~pix2lst.runtime.tiling.TileGrid`), already batched in
  memory: a pool of real, calibrated, normalised tiles of the benchmark scene,
  cycled. No I/O, no blending: the time the pipeline cannot go below.
* :func:`provider_probe`: session creation, first run and steady-state tiles/s
  of one execution provider.
* :func:`predict_e2e`: :class:`pix2lst.runtime.LSTPredictor` on a scene folder or
  composite, written to a GeoTIFF: what a user runs.

All use the runtime's own session factory and batch runner, so the session
options (threads, graph optimisation) are the pipeline's.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.thread_clock import ThreadClock
from pix2lst._machine import OVERRIDE
from pix2lst.geo.sources import open_source
from pix2lst.lst_physics import scene_calibrator
from pix2lst.runtime.model import BatchRunner, load_model
from pix2lst.runtime.session import SessionConfig
from pix2lst.runtime.tiling import TileGrid

__all__ = [
    "core_seconds",
    "ort_ceiling",
    "predict_e2e",
    "provider_probe",
    "steal_seconds",
    "tile_pool",
]


def core_seconds() -> float:
    """CPU time of this process so far, all threads, user + system (``getrusage``)."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def steal_seconds() -> float:
    """CPU time the hypervisor gave elsewhere while this machine's CPUs wanted it, summed over
    them since boot (``/proc/stat``'s steal; NaN where there is none): what a busy host takes
    from a VM's figures."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def tile_pool(src: str, meta: Any, n: int) -> np.ndarray:
    """``n`` real tiles (normalised model input) from the top rows of ``src``."""
    tile = meta.tile_size
    source = open_source(
        src, tuple(meta.bands), meta.input_units, calibrate=scene_calibrator(meta.input_units)
    )
    try:
        rows = source.read_rows(0, min(tile, source.height))
    finally:
        source.close()
    scale = np.asarray(meta.input_scale, np.float32)[:, None, None]
    offset = np.asarray(meta.input_offset, np.float32)[:, None, None]
    norm = np.nan_to_num(rows * scale + offset, nan=0.0)
    norm = np.pad(
        norm, ((0, 0), (0, tile - norm.shape[1]), (0, max(0, tile - norm.shape[2]))),
        mode="reflect",
    )  # fmt: skip
    width = norm.shape[2]
    starts = [(i * tile // 2) % max(1, width - tile + 1) for i in range(n)]
    return np.stack([norm[:, :, s : s + tile] for s in starts]).astype(np.float32)


def ort_ceiling(
    model: str, src: str, height: int, width: int, padding: int, batch_size: int = 8,
    providers: str = "auto", sessions: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """ORT on the tiles of a ``height`` x ``width`` scene, in memory; return the run time.

    ``sessions`` > 1: that many sessions (each with cores / sessions intra-op threads)
    run the batches in parallel, one thread each, as the pipeline does.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pix2lst.runtime.session import usable_cores

    t0 = time.perf_counter()
    config = SessionConfig(providers=providers)
    if sessions > 1:
        config = SessionConfig(
            providers=providers, intra_op_threads=max(1, usable_cores() // sessions)
        )
    runners = [
        BatchRunner(load_model(model, config, batch_size=batch_size), batch_size)
        for _ in range(sessions)
    ]
    loaded = runners[0].model
    meta = loaded.metadata
    grid = TileGrid(height, width, meta.tile_size, padding)
    pool = tile_pool(src, meta, 2 * batch_size)
    for runner in runners:
        runner.warmup()

    def work(k: int) -> None:
        batches = [pool[:batch_size].copy(), pool[batch_size:].copy()]
        n_batches = -(-grid.n_tiles // batch_size)
        for i in range(k, n_batches, sessions):
            n = min(batch_size, grid.n_tiles - i * batch_size)
            runners[k].run(batches[i % 2], n)

    t_setup = time.perf_counter()
    c0, s0 = core_seconds(), steal_seconds()
    with ThreadPoolExecutor(sessions) as ex:
        list(ex.map(work, range(sessions)))
    run_s = time.perf_counter() - t_setup
    cpu_s = core_seconds() - c0
    steal_s = steal_seconds() - s0
    mpx = height * width / 1e6
    return {
        "sessions": sessions,
        "core_s": cpu_s,
        "steal_s": steal_s,
        "wall_s": run_s,
        "run_s": run_s,
        "setup_s": t_setup - t0,
        "tiles": grid.n_tiles,
        "tiles_per_s": grid.n_tiles / run_s,
        "ms_per_tile": 1000 * run_s / grid.n_tiles,
        "mpx": mpx,
        "mpx_per_s": mpx / run_s,
        "provider": loaded.provider,
    }


def provider_probe(
    model: str, src: str, provider: str, batch_size: int = 8, n_batches: int = 10,
    height: int = 0, width: int = 0, padding: int = 64,
) -> dict[str, Any]:  # fmt: skip
    """Session creation, first run and steady-state throughput of ``provider``."""
    t0 = time.perf_counter()
    loaded = load_model(
        model, SessionConfig(providers=provider, warmup=False), batch_size=batch_size
    )
    t_create = time.perf_counter()
    runner = BatchRunner(loaded, batch_size)
    pool = tile_pool(src, loaded.metadata, batch_size)
    t1 = time.perf_counter()
    runner.run(pool, batch_size)
    first_s = time.perf_counter() - t1
    runner.seconds = 0.0
    t2 = time.perf_counter()
    for _ in range(n_batches):
        runner.run(pool, batch_size)
    steady_s = time.perf_counter() - t2
    tiles_per_s = n_batches * batch_size / steady_s
    out: dict[str, Any] = {
        "wall_s": steady_s,
        "create_s": t_create - t0,
        "first_run_s": first_s,
        "steady_s": steady_s,
        "tiles_per_s": tiles_per_s,
        "ms_per_tile": 1000 / tiles_per_s,
        "provider": loaded.provider,
        "providers_used": list(loaded.providers),
    }
    if height and width:
        n = TileGrid(height, width, loaded.metadata.tile_size, padding).n_tiles
        out["scene_tiles"] = n
        out["scene_infer_s_est"] = n / tiles_per_s
    return out


def _summary_dict(summary: Any) -> dict[str, Any]:
    if summary is None:
        return {}
    if is_dataclass(summary) and not isinstance(summary, type):
        raw = asdict(summary)
    elif isinstance(summary, dict):
        raw = dict(summary)
    else:
        raw = {k: getattr(summary, k) for k in dir(summary) if not k.startswith("_")}
    return {k: v for k, v in raw.items() if isinstance(v, (int, float, str, bool)) or v is None}


def _lean_output() -> None:
    """Patch the writer (this process) for ``predict_e2e(output="lean")``."""
    from pix2lst.geo import writer

    profile = writer.creation_profile

    def without_predictor(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**profile(*args, **kwargs), "predictor": 1}

    writer.creation_profile = without_predictor  # type: ignore[assignment]
    writer.verify_raster = writer.check_complete  # type: ignore[assignment]


def predict_e2e(
    model: str, src: str, dst: str, padding: int, blend: str = "hann",
    batch_size: int | None = None,
    providers: str = "auto", keep: bool = False, kernels: str = "numba",
    io_priority: str = "auto", sessions: int | str = "auto", readers: int | None = None,
    decoder: str = "auto", tile_size: int | None = None, tiling: str = "auto",
    upload_dn: bool | None = None, cores: int | None = None, as_gpu: bool = False,
    output: str = "product",
) -> dict[str, Any]:  # fmt: skip
    """``LSTPredictor(...).predict_file(src, dst)``: setup and run seconds, Mpx/s.

    ``decoder="gdal"``: input blocks decoded by GDAL instead of geo.decode (in this
    process only: the predictor's ``open_source`` gets ``decoder="gdal"``).
    ``kernels="numpy"`` swaps the pipeline's Numba strip kernels for their numpy
    twins (same signatures) in this process, to show what the kernels earn end to end.
    ``readers``: parallel readers of the input (default: the predictor's, one per core);
    ``core_s``: CPU time of the whole process (all threads) during the run.
    ``upload_dn``: with device tiling, hand the strip runners a scene's DN (True) or its
    float32 model input (False) instead of their default (DN on a GPU only).
    ``cores``: size everything as on a machine with this many usable cores
    (``PYTHON_CPU_COUNT``, this process only): its sessions, threads, readers and memory,
    not its speed.
    ``as_gpu``: the CPU provider stands in for a GPU in the runtime's sizing (this
    process only): up to 16 readers, filler threads and blend helpers by the cores
    (pipeline and predictor; give ``tiling``, ``io_priority`` and ``upload_dn`` as a GPU
    gets them). ORT still computes on the CPU, so the run's wall time says nothing; its
    threads' CPU times say which host stage a GPU box would wait on.
    """
    if cores is not None:
        os.environ[OVERRIDE] = str(cores)
    from pix2lst.runtime import LSTPredictor

    if as_gpu:
        from pix2lst.runtime import pipeline as pipeline_mod
        from pix2lst.runtime import predictor as predictor_mod
        from pix2lst.runtime.session import CPU

        pipeline_mod.GPU_PROVIDERS = predictor_mod.GPU_PROVIDERS = frozenset({CPU})  # type: ignore[misc]

    if kernels == "numpy":
        from pix2lst.runtime import kernels as nb
        from pix2lst.runtime import kernels_ref as ref

        for name in nb.__all__:
            setattr(nb, name, getattr(ref, f"{name}_np"))

    if decoder != "auto":
        import functools

        from pix2lst.geo.sources import open_source
        from pix2lst.runtime import predictor as predictor_mod

        predictor_mod.open_source = functools.partial(open_source, decoder=decoder)  # type: ignore[assignment]

    if output == "lean":
        _lean_output()
    elif output != "product":
        raise ValueError(f"output must be 'product' or 'lean', not {output!r}")

    t0 = time.perf_counter()
    predictor = LSTPredictor(
        model=model, providers=providers, batch_size=batch_size, padding=padding, blend=blend,
        io_priority=io_priority, sessions=sessions, tile_size=tile_size, tiling=tiling,
    )  # fmt: skip
    if readers is not None:
        predictor.readers = readers
    if upload_dn is not None:
        for strips in predictor.strip_runners:
            strips.upload_dn = upload_dn
    t1 = time.perf_counter()
    c1, s1 = core_seconds(), steal_seconds()
    with ThreadClock() as clock:
        summary = predictor.predict_file(src, dst, overwrite=True)
    t2 = time.perf_counter()
    cpu_s = core_seconds() - c1
    steal_s = steal_seconds() - s1
    import rasterio

    with rasterio.open(dst) as ds:
        h, w = ds.height, ds.width
    if not keep:
        Path(dst).unlink(missing_ok=True)
    mpx = h * w / 1e6
    return {
        "wall_s": t2 - t0,
        "setup_s": t1 - t0,
        "run_s": t2 - t1,
        "core_s": cpu_s,
        "steal_s": steal_s,
        "cores_busy": cpu_s / (t2 - t1),
        "sessions": predictor.sessions,
        "readers": predictor.readers,
        "mpx": mpx,
        "mpx_per_s": mpx / (t2 - t1),
        "summary": _summary_dict(summary),
        "threads": clock.roles(cpu_s),
    }
