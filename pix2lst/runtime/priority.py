"""How the pipeline's reader and writer threads share the machine with inference.

On a CPU, inference and everything else share the same cores, and ONNX Runtime's
threads wait at barriers between operators, so some CPU time is left over while it
runs; but a thread that preempts one of ORT's stalls the whole operator. With
``io_priority="idle"`` (what ``"auto"``, the default, means on a CPU) the reader
threads (decoding, calibration) after the first strip and the writer thread
(compression) run at Linux's ``SCHED_IDLE`` policy: they get only CPU time that no
other thread wants, so they fill ORT's gaps instead of preempting it. They then decode and compress themselves
(GDAL ``NUM_THREADS=1``): GDAL's process-wide worker pool would otherwise run that
work at normal priority, or inherit the idle one for later, unrelated GDAL work. The
policy belongs to those threads, which end with the run; the caller's threads are
untouched. Elsewhere than on Linux the policy does not exist and the threads run as
any other.

On a GPU (CUDA, TensorRT) the cores are not ORT's: ``"auto"`` means ``"normal"``
there, and GDAL compresses the output on every core. The choice is a field of the
:class:`~pix2lst.runtime.plan.Plan` (``io_priority``), not a command-line option.
"""

from __future__ import annotations

import logging
import os
import sys

from pix2lst.runtime.plan import IO_PRIORITIES, resolve_io_priority

__all__ = [
    "IO_PRIORITIES",
    "idle_priority_available",
    "io_threads",
    "resolve_io_priority",
    "runs_idle",
    "to_idle_priority",
]

log = logging.getLogger(__name__)


def idle_priority_available() -> bool:
    """Whether threads can be moved to ``SCHED_IDLE`` here (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "SCHED_IDLE")


def runs_idle(io_priority: str, provider: str | None = None) -> bool:
    """Whether reader and writer go to ``SCHED_IDLE`` for ``io_priority`` here."""
    return resolve_io_priority(io_priority, provider) == "idle" and idle_priority_available()


def io_threads(io_priority: str, provider: str | None = None) -> str:
    """GDAL's ``NUM_THREADS`` for the input and the streamed output at ``io_priority``
    (``"auto"`` decided for ``provider``, None: the CPU)."""
    return "1" if runs_idle(io_priority, provider) else "ALL_CPUS"


def to_idle_priority() -> None:
    """Move the calling thread (only it: Linux schedules threads) to ``SCHED_IDLE``."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:  # e.g. a seccomp filter; the run goes on at normal priority
        log.debug("could not move an I/O thread to SCHED_IDLE: %s", exc)
