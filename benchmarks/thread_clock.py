"""Where a run's CPU time goes, thread by thread: the serial floor of each stage.

The pipeline's stages run on named threads (``pix2lst-read``, ``pix2lst-fill``,
``pix2lst-infer``, ``pix2lst-write``; the main thread blends), started for each run
and ended with it. On a machine with cores to spare the run cannot be shorter than its
busiest single thread, so a stage's busiest thread says which one a faster box (the
GPU machine's 16 cores) would wait on; a stage's total says what it costs.

:class:`ThreadClock` records, for each Python thread that ends within its span, the
thread's CPU time (``time.thread_time`` as its ``run`` returns) and the main thread's
CPU time over the span; threads without a Python object (ONNX Runtime's and GDAL's own
pools, a numba or BLAS pool) are the process's CPU time less those, as ``native``.
While a clock is open, ``threading.Thread.run`` is wrapped (threads started then are
timed); it is put back when the clock closes.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

__all__ = ["ROLE_LABELS", "ThreadClock", "roles_table"]

_lock = threading.Lock()
_ended: list[tuple[str, float, float]] = []  # (name, perf_counter at its end, CPU s)


def _timed(run: Any) -> Any:
    def timed_run(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            with _lock:
                _ended.append((self.name, time.perf_counter(), time.thread_time()))

    timed_run.untimed = run  # type: ignore[attr-defined]
    return timed_run


def _role(name: str) -> str:
    """``pix2lst-read_3`` -> ``pix2lst-read``; ``ThreadPoolExecutor-2_0`` -> ``ThreadPoolExecutor``."""
    return re.sub(r"(-\d+)?_\d+$", "", name)


class ThreadClock:
    """``with ThreadClock() as clock: ...``; then ``clock.roles(process_core_s)``.

    Start it before the threads to be measured start (they must start and end inside
    the span to be counted by name).
    """

    def __init__(self) -> None:
        self.start = self.stop = 0.0
        self.main_s = 0.0
        self._wrapped = False

    def __enter__(self) -> ThreadClock:
        if not hasattr(threading.Thread.run, "untimed"):  # threads started from now on
            threading.Thread.run = _timed(threading.Thread.run)  # type: ignore[method-assign]
            self._wrapped = True
        self.start = time.perf_counter()
        self._main0 = time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.main_s = time.thread_time() - self._main0
        self.stop = time.perf_counter()
        if self._wrapped:  # threads still running keep their timed run
            threading.Thread.run = threading.Thread.run.untimed  # type: ignore[attr-defined,method-assign]

    def roles(self, process_core_s: float) -> dict[str, dict[str, Any]]:
        """Per role: ``core_s`` (all its threads), ``busiest_s`` (its busiest thread),
        ``threads``; ``main`` is the calling thread, ``native`` the rest of
        ``process_core_s`` (threads without a Python object, and Python threads that
        outlive the span)."""
        out: dict[str, dict[str, Any]] = {
            "main": {"core_s": self.main_s, "busiest_s": self.main_s, "threads": 1}
        }
        with _lock:
            ended = [(n, s) for n, t, s in _ended if self.start <= t <= self.stop]
        for name, cpu in ended:
            r = out.setdefault(_role(name), {"core_s": 0.0, "busiest_s": 0.0, "threads": 0})
            r["core_s"] += cpu
            r["busiest_s"] = max(r["busiest_s"], cpu)
            r["threads"] += 1
        named = sum(r["core_s"] for r in out.values())
        rest = max(0.0, process_core_s - named)
        out["native"] = {"core_s": rest, "busiest_s": float("nan"), "threads": 0}
        return out


ROLE_LABELS = {
    "main": "main (blends, finishes rows)",
    "pix2lst-read": "readers (decode, look up)",
    "pix2lst-blend": "blend helpers (on a GPU: bands of rows)",
    "pix2lst-fill": "fillers (cut tiles or strips)",
    "pix2lst-infer": "inference (ORT calls)",
    "pix2lst-write": "writer (GDAL compresses)",
    "pix2lst-count": "writer's helper (range count, overviews; with GDAL threads)",
    "pix2lst-verify": "final check (decompress every block)",
    "ThreadPoolExecutor": "other pools (tifffile's overview compression)",
    "native": "native pools (ORT's, GDAL's) and the rest",
}


def roles_table(title: str, runs: dict[str, Any], labels: dict[str, str]) -> Any:
    """A table of where each contender's core-seconds went, by thread role, from the
    run with the median ``run_s`` of each (``runs``: contender -> its repetitions)."""
    from benchmarks.report import Table

    table = Table(title, ["contender", "run s", "stage", "threads", "core s", "busiest thread s"])
    for name, reps in runs.items():
        done = sorted((r for r in reps if "threads" in r.result), key=lambda r: r.value("run_s"))
        if not done:
            continue
        run = done[len(done) // 2]
        roles = run.result["threads"]
        first = True
        for role in [*ROLE_LABELS, *sorted(set(roles) - set(ROLE_LABELS))]:
            if role not in roles:
                continue
            r = roles[role]
            table.rows.append([
                labels.get(name, name) if first else "", run.value("run_s") if first else "",
                ROLE_LABELS.get(role, role), r["threads"] or "-", r["core_s"], r["busiest_s"],
            ])  # fmt: skip
            first = False
    table.notes.append(
        "busiest thread s: the CPU time of the stage's busiest single thread, the least "
        "wall time the stage needs however many cores there are (in this design); core s: "
        "all of the stage's threads. Python threads are timed as they end "
        "(benchmarks/thread_clock.py); native = the process's CPU time less theirs."
    )
    return table
