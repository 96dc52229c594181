"""Run contenders in subprocesses, alternating, and summarise them by medians and ratios.

A contender is a task function (``"module:function"`` under ``benchmarks``) with
JSON parameters. :func:`run_task` runs it in a fresh Python process
(``python -m benchmarks._child``); the child reports its own peak resident set
size (``VmHWM`` of its address space, read at the end), so memory figures are
per contender and include the interpreter and its imports (reported separately
as ``import_rss_mb``). ``ru_maxrss`` from ``os.wait4`` is kept only as a
fallback: Linux carries the parent's high-water mark into it at exec, so it
would count the harness's own memory. The task measures its own timings (work
only, not interpreter start-up) and returns them in a dict.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BenchmarkError",
    "Contender",
    "Run",
    "compare",
    "median_of",
    "run_task",
]

REPO = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """A contender failed; the message carries the tail of its stderr."""


@dataclass(frozen=True)
class Contender:
    """One thing being measured: a task function and its parameters."""

    name: str
    task: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One repetition of one contender."""

    contender: str
    rep: int
    process_s: float
    peak_rss_mb: float
    result: Mapping[str, Any]

    def value(self, key: str) -> float:
        """A numeric figure of this run: ``peak_rss_mb``, ``process_s`` or a result key."""
        if key == "peak_rss_mb":
            return self.peak_rss_mb
        if key == "process_s":
            return self.process_s
        return float(self.result[key])


def run_task(
    task: str,
    params: Mapping[str, Any],
    *,
    timeout_s: float = 3600.0,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], float, float]:
    """Run ``task`` in a fresh interpreter; return (its result, process seconds, peak RSS MB)."""
    with tempfile.TemporaryDirectory(prefix="pix2lst-bench-") as tmp:
        spec = Path(tmp) / "spec.json"
        out = Path(tmp) / "result.json"
        err = Path(tmp) / "stderr.txt"
        spec.write_text(json.dumps({"task": task, "params": dict(params)}))
        child_env = dict(os.environ)
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), child_env.get("PYTHONPATH", "")) if p
        )
        if env:
            child_env.update(env)
        t0 = time.perf_counter()
        with open(err, "wb") as err_fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks._child", str(spec), str(out)],
                cwd=REPO,
                env=child_env,
                stdout=subprocess.DEVNULL,
                stderr=err_fh,
            )
            timer = threading.Timer(timeout_s, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)
        process_s = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            tail = err.read_text(errors="replace")[-3000:]
            raise BenchmarkError(
                f"task {task} failed (exit {proc.returncode}) with {dict(params)}:\n{tail}"
            )
        result = json.loads(out.read_text())
    # VmHWM from the child itself; ru_maxrss (KiB on Linux) only if that is missing.
    peak = float(result.get("vm_hwm_mb") or usage.ru_maxrss / 1024.0)
    return result, process_s, peak


def compare(
    contenders: Sequence[Contender],
    reps: int,
    *,
    progress: Callable[[str], None] | None = None,
    timeout_s: float = 3600.0,
    keep_going: bool = False,
) -> dict[str, list[Run]]:
    """Run every contender ``reps`` times, alternating, the order rotated each repetition.

    ``keep_going``: a contender whose task fails is recorded as a run whose result is
    ``{"error": ...}`` (its figures then read as missing) and the others go on; for a
    measurement that cannot be repeated at will (the GPU part's few device minutes).
    """
    runs: dict[str, list[Run]] = {c.name: [] for c in contenders}
    n = len(contenders)
    for rep in range(reps):
        order = [contenders[(i + rep) % n] for i in range(n)]
        for c in order:
            if progress:
                progress(f"  rep {rep + 1}/{reps}: {c.name}")
            try:
                result, process_s, rss = run_task(c.task, c.params, timeout_s=timeout_s)
            except BenchmarkError as exc:
                if not keep_going:
                    raise
                result, process_s, rss = {"error": str(exc)}, float("nan"), float("nan")
                if progress:
                    progress(f"    FAILED: {str(exc).splitlines()[0]}")
                runs[c.name].append(Run(c.name, rep, process_s, rss, result))
                continue
            runs[c.name].append(Run(c.name, rep, process_s, rss, result))
            if progress:
                secs = result.get("wall_s", process_s)
                progress(f"    {float(secs):.2f} s, peak RSS {rss:.0f} MB")
    return runs


def median_of(runs: Sequence[Run], key: str) -> float:
    """The median of one figure over repetitions (``nan`` when absent)."""
    values = []
    for r in runs:
        try:
            values.append(r.value(key))
        except (KeyError, TypeError, ValueError):
            continue
    return statistics.median(values) if values else float("nan")
