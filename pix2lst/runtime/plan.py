"""The layout of a prediction, decided once: :class:`Plan` and :func:`decide_plan`.

Everything that is not the data's own choice (model, tile, padding, blend, units)
but follows from the machine and the session that really loaded is decided here,
in one pure function of plain values: how many ONNX Runtime sessions and threads,
tiles per batch, where tiles are cut, how many readers, filler and blend threads,
the priority of the reader and writer threads. :class:`~pix2lst.runtime.LSTPredictor`
calls it once the first ONNX Runtime session has loaded (so the provider is the one that runs,
not the one asked for), logs the plan at ``-v``, and the pipeline executes it
without deciding anything of its own. ``pix2lst predict --explain`` prints it.

Mechanisms that no GPU has measured stay off unless asked: tiles are cut on the
host (``tiling="device"`` only when asked), fp16 only when asked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pix2lst.errors import ParameterError
from pix2lst.runtime.blending import BLENDS
from pix2lst.runtime.tiling import TileGrid, default_padding, resolve_tiling

__all__ = [
    "CORES_PER_SESSION",
    "GPU_PROVIDERS",
    "IO_PRIORITIES",
    "MAX_AUTO_SESSIONS",
    "MAX_BLEND_THREADS",
    "MAX_READERS",
    "MAX_READERS_GPU",
    "TILES_IN_FLIGHT",
    "Plan",
    "decide_plan",
    "resolve_io_priority",
]

CPU = "CPUExecutionProvider"
GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
"""Providers that run the model on a GPU: the host's cores are then free for its side."""

IO_PRIORITIES = ("auto", "idle", "normal")
"""``io_priority`` values: reader and writer threads at ``SCHED_IDLE``, or as any thread;
``"auto"``: idle when ORT runs on the CPU, normal when it runs on a GPU."""

CORES_PER_SESSION = 4
"""Intra-op threads per session that ``sessions="auto"`` aims for on a CPU; on a GPU, host
cores per filler and blend thread."""

MAX_AUTO_SESSIONS = 4
"""Sessions ``sessions="auto"`` takes at most on a CPU (each holds its own weights and
activation arena); above 16 cores the sessions get more threads instead."""

TILES_IN_FLIGHT = 8
"""Tiles of all sessions' batches together when ``batch_size`` is not given: each of N
sessions runs batches of ``8 // N`` tiles, so memory does not grow with N."""

MAX_READERS = 8
"""Parallel readers of an input at most where the model runs on the CPU (the sessions
take the cores)."""

MAX_READERS_GPU = 16
"""The same on a GPU, whose host cores are otherwise idle (a Landsat band's 15 columns
of 512 px blocks give work to 15)."""

MAX_BLEND_THREADS = 4
"""Threads that blend at once at most (on a GPU only: on a CPU the sessions take the
cores)."""


def resolve_io_priority(io_priority: str, provider: str | None = None) -> str:
    """``"idle"`` or ``"normal"``: ``io_priority`` validated, ``"auto"`` decided for the
    ONNX Runtime ``provider`` the model runs on (None: the CPU)."""
    if io_priority not in IO_PRIORITIES:
        raise ParameterError(
            f"io_priority must be one of {', '.join(IO_PRIORITIES)}, not {io_priority!r}"
        )
    if io_priority == "auto":
        return "normal" if provider in GPU_PROVIDERS else "idle"
    return io_priority


def auto_sessions(provider: str, cores: int) -> int:
    """Sessions for ``sessions="auto"``: one on a GPU or OpenVINO (one device; OpenVINO runs
    its own streams); on the CPU one per :data:`CORES_PER_SESSION` cores up to
    :data:`MAX_AUTO_SESSIONS`, at least two where there are two cores (the small U-Net
    scales by batches run side by side, not by intra-op threads)."""
    if provider != CPU:
        return 1
    return 1 if cores < 2 else min(MAX_AUTO_SESSIONS, max(2, cores // CORES_PER_SESSION))


def parse_sessions(sessions: int | str) -> int | None:
    """``"auto"`` (None) or a positive count (int or digits), validated."""
    if isinstance(sessions, str):
        text = sessions.strip().lower()
        if text == "auto":
            return None
        if not text.isdigit():
            raise ParameterError(f"sessions must be 'auto' or a positive integer, not {sessions!r}")
        sessions = int(text)
    if isinstance(sessions, bool) or not isinstance(sessions, int) or sessions < 1:
        raise ParameterError(f"sessions must be 'auto' or a positive integer, not {sessions!r}")
    return sessions


@dataclass(frozen=True)
class Plan:
    """How one predictor runs: decided once by :func:`decide_plan`, executed by the pipeline.

    ``provider``/``providers``: what the session really uses. ``sessions`` ONNX Runtime
    sessions of ``threads`` intra-op threads each (0: ORT's own count) run batches of
    ``batch_size`` tiles in parallel. ``tile``/``padding``/``blend``: the tiling (the
    tile may shrink for a raster smaller than it, :meth:`for_raster`). ``tiling``:
    where tiles are cut (``host`` or ``device``). ``readers`` threads decode the input,
    ``fillers`` cut tiles, ``blend_threads`` blend. ``io_priority``: ``idle`` runs the
    reader and writer threads at ``SCHED_IDLE`` (GDAL then uses one thread for them).
    ``fp16``: reduced precision asked for (checked against fp32 on the first batch).
    ``warmup``: the constructor runs the pipeline and one batch once. ``notes``: why
    something differs from what was asked.
    """

    provider: str
    providers: tuple[str, ...]
    sessions: int
    threads: int
    batch_size: int
    tile: int
    padding: int
    blend: str
    tiling: str
    readers: int
    fillers: int
    blend_threads: int
    io_priority: str
    fp16: bool = False
    warmup: bool = True
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.blend not in BLENDS:
            raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, not {self.blend!r}")
        if self.tiling not in ("host", "device"):
            raise ParameterError(f"tiling must be host or device, not {self.tiling!r}")
        if self.io_priority not in ("idle", "normal"):
            raise ParameterError(f"io_priority must be idle or normal, not {self.io_priority!r}")
        for name in ("sessions", "batch_size", "readers", "fillers", "blend_threads"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, not {getattr(self, name)}")
        TileGrid(self.tile, self.tile, self.tile, self.padding)  # validates the padding

    @property
    def on_gpu(self) -> bool:
        return self.provider in GPU_PROVIDERS

    def for_raster(self, height: int, width: int, *, step: int, minimum: int) -> Plan:
        """This plan for a ``height`` x ``width`` raster: the tile shrunk to the smallest
        multiple of ``step`` (``2**depth``) that covers the raster, never below ``minimum``
        (the model's own tile), so a small raster at a large ``tile_size`` allocates no
        more than it needs. The plan itself where the tile is not larger than that."""
        side = max(height, width, 2 * self.padding + 1)
        need = max(minimum, math.ceil(side / max(1, step)) * max(1, step))
        if need >= self.tile:
            return self
        return replace(
            self,
            tile=need,
            notes=(
                *self.notes,
                f"tile {self.tile} px shrunk to {need} px for a {height} x {width} px raster",
            ),
        )

    def lines(self) -> list[str]:
        """The plan as ``name: value`` lines (``pix2lst predict --explain``, ``-v``)."""
        threads = str(self.threads) if self.threads else "ONNX Runtime's default"
        rows = [
            ("provider", f"{self.provider} (session providers: {', '.join(self.providers)})"),
            ("sessions", f"{self.sessions} x {threads} intra-op threads"),
            ("batch size", f"{self.batch_size} tiles"),
            ("tile", f"{self.tile} px, padding {self.padding} px, blend {self.blend}"),
            ("tiles cut on", self.tiling),
            ("readers", str(self.readers)),
            ("filler threads", str(self.fillers)),
            ("blend threads", str(self.blend_threads)),
            ("reader/writer priority", self.io_priority),
            (
                "precision",
                "fp16 (checked against fp32 on the first batch)" if self.fp16 else "fp32",
            ),
            ("warm-up in the constructor", "yes" if self.warmup else "no"),
        ]
        out = [f"{name}: {value}" for name, value in rows]
        out += [f"note: {note}" for note in self.notes]
        return out


def decide_plan(
    provider: str,
    providers: Sequence[str],
    cores: int,
    *,
    model_tile: int,
    tile: int | None = None,
    padding: int | None = None,
    blend: str = "hann",
    sessions: int | str = "auto",
    threads: int = 0,
    affinity: int | None = None,
    batch_size: int | None = None,
    tiling: str = "host",
    io_priority: str = "auto",
    fp16: bool = False,
    warmup: bool | None = None,
    readers: int | None = None,
) -> Plan:
    """The :class:`Plan` for a model whose session runs on ``provider`` (the one that
    loaded, ``providers`` all of them) on a machine with ``cores`` usable cores.

    ``model_tile``: the tile the model was made for (padding defaults to a quarter of
    it); ``tile``: the run tile (validated by the caller; None: the model's).
    ``sessions`` (``"auto"`` or a count) is capped by ``cores`` (each session needs a
    core; a note says so). ``threads``: intra-op threads asked for (0: one share of
    the cores per session where there are several sessions or where ``affinity``, the
    CPUs ORT sees, exceeds ``cores``; else ORT's own). ``batch_size`` (None:
    :data:`TILES_IN_FLIGHT` shared by the sessions). ``tiling``: ``host`` (also for
    ``"auto"``) or ``device``. ``warmup`` (None: on the CPU yes, on a GPU no: building
    engines is not the constructor's job unless asked). ``readers``: parallel decoders
    of the input (None: one per core, at most :data:`MAX_READERS`, or
    :data:`MAX_READERS_GPU` on a GPU).
    """
    if blend not in BLENDS:
        raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, not {blend!r}")
    if batch_size is not None and batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
    notes: list[str] = []
    cores = max(1, cores)
    asked = parse_sessions(sessions)
    n = auto_sessions(provider, cores) if asked is None else asked
    if n > cores:
        notes.append(f"{n} sessions capped at {cores}, the usable cores")
        n = cores
    if threads == 0 and (n > 1 or cores < (affinity or cores)):
        threads = max(1, cores // n)
    on_gpu = provider in GPU_PROVIDERS
    spare = cores // CORES_PER_SESSION if on_gpu else 0
    where = resolve_tiling(tiling, provider)
    fillers = max(n, spare)
    if where == "device":  # a strip is a plain copy of 2x its tiles' pixels: fewer suffice
        fillers = min(fillers, n + 1)
    return Plan(
        provider=provider,
        providers=tuple(providers),
        sessions=n,
        threads=threads,
        batch_size=batch_size or max(1, TILES_IN_FLIGHT // n),
        tile=tile or model_tile,
        padding=default_padding(model_tile) if padding is None else int(padding),
        blend=blend,
        tiling=where,
        readers=readers or max(1, min(cores, MAX_READERS_GPU if on_gpu else MAX_READERS)),
        fillers=fillers,
        blend_threads=min(MAX_BLEND_THREADS, max(1, spare)),
        io_priority=resolve_io_priority(io_priority, provider),
        fp16=fp16,
        warmup=(not on_gpu) if warmup is None else warmup,
        notes=tuple(notes),
    )
