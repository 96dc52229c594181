"""What this process may use of the machine, for every room (the ground floor).

:func:`usable_cores` sizes ONNX Runtime sessions and their threads, filler threads
(:mod:`pix2lst.runtime`), GDAL's and the final check's decoding threads
(:func:`gdal_threads`, :mod:`pix2lst.geo`) and local Dask workers
(:mod:`pix2lst.batch.runner`): one count, one rule.

The count is what the process may really use, not what the host has: the CPUs of its
affinity mask (``taskset``, ``docker --cpuset-cpus``), capped by a CPU quota of its
cgroup (``docker --cpus``, a Kubernetes CPU limit, a systemd ``CPUQuota=``), which
``os.cpu_count()`` and the affinity mask do not show. A container limited to 2 CPUs on
a 64-core host would otherwise start 16 ONNX Runtime sessions and have them throttled.
``PYTHON_CPU_COUNT`` overrides it (the variable Python 3.13 reads for
``os.process_cpu_count()``; honoured here on every version).

:func:`gpu_count` counts the NVIDIA GPUs this process may use (``CUDA_VISIBLE_DEVICES``,
else the driver's list), without loading CUDA: a batch on a GPU box runs one worker
per GPU, each with its own device id (0 .. n-1 as the process sees them).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "OVERRIDE",
    "affinity_cores",
    "cgroup_cpu_limit",
    "gdal_threads",
    "gpu_count",
    "usable_cores",
]

log = logging.getLogger(__name__)

OVERRIDE = "PYTHON_CPU_COUNT"


def usable_cores() -> int:
    """CPU cores this process may run on: its affinity mask, capped by its cgroup's CPU
    quota (rounded up), or ``PYTHON_CPU_COUNT`` where that is set to a positive integer."""
    override = os.environ.get(OVERRIDE, "").strip()
    if override:
        if override.isdigit() and int(override) > 0:
            return int(override)
        log.warning("%s=%r is not a positive integer; ignored", OVERRIDE, override)
    cores = affinity_cores()
    limit = cgroup_cpu_limit()
    return cores if limit is None else max(1, min(cores, limit))


def affinity_cores() -> int:
    """CPUs of the process's affinity mask (all of the host's where there is none): what
    libraries that do not read cgroups (ONNX Runtime, GDAL) size their thread pools by."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def gdal_threads(threads: str | int = "ALL_CPUS") -> str:
    """GDAL's ``NUM_THREADS`` with ``ALL_CPUS`` made :func:`usable_cores` (GDAL's own
    ``ALL_CPUS`` counts the host's CPUs, not a container's quota); a count as it is."""
    text = str(threads).strip()
    return str(usable_cores()) if text.upper() == "ALL_CPUS" else text


def gpu_count(proc: Path = Path("/proc")) -> int:
    """NVIDIA GPUs this process may use: the entries of ``CUDA_VISIBLE_DEVICES`` where it
    is set (empty or starting with ``-1``: none), else the GPUs the driver lists under
    ``proc/driver/nvidia/gpus``; 0 without a driver. CUDA is not loaded."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # CUDA stops at the first invalid (negative) entry
        count = 0
        for entry in (v.strip() for v in visible.split(",")):
            if not entry or entry.startswith("-"):
                break
            count += 1
        return count
    try:
        return sum(1 for entry in (proc / "driver" / "nvidia" / "gpus").iterdir() if entry.is_dir())
    except OSError:
        return 0


def cgroup_cpu_limit(proc: Path = Path("/proc/self")) -> int | None:
    """CPUs the process's cgroup quota allows (rounded up), or None without a quota.

    Reads the process's cgroups (``proc/cgroup``) where they are mounted
    (``proc/mountinfo``): cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us``, in the process's own group and every group above it up to the
    mount (a parent's quota binds its children too); the smallest one counts. Anything
    unreadable counts as no quota.
    """
    try:
        groups = (proc / "cgroup").read_text()
        mounts = (proc / "mountinfo").read_text()
    except OSError:
        return None
    limits = [
        cpus
        for directory in _cpu_cgroup_dirs(groups, mounts)
        for cpus in [_quota(directory)]
        if cpus is not None
    ]
    return min(limits) if limits else None


def _unescape(field: str) -> str:
    """A mountinfo path field (spaces and the like are written as ``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _cpu_cgroup_dirs(groups: str, mounts: str) -> list[Path]:
    """The directories of the process's CPU cgroups (v2, and v1's ``cpu`` controller), its
    own first, then each parent up to the mount point."""
    v1_path = v2_path = None
    for line in groups.splitlines():
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_path = path
    dirs: list[Path] = []
    for line in mounts.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        if len(after) < 3:
            continue
        fstype, options = after[0], after[2].split(",")
        if fstype == "cgroup2" and v2_path is not None:
            path = v2_path
        elif fstype == "cgroup" and "cpu" in options and v1_path is not None:
            path = v1_path
        else:
            continue
        root, mount = _unescape(fields[3]), Path(_unescape(fields[4]))
        dirs.extend(_up_to(mount, root, path))
    return dirs


def _up_to(mount: Path, root: str, path: str) -> list[Path]:
    """``path`` (a cgroup path) under ``mount`` (which shows the hierarchy from ``root``),
    then each parent up to ``mount``; only ``mount`` if ``path`` lies outside it (a
    cgroup namespace: the process's group is the mount itself)."""
    root = root.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return [mount]
    rel = path[len(root) :].strip("/")
    here = mount / rel if rel else mount
    if not here.is_dir():
        return [mount]
    chain = [here]
    while chain[-1] != mount:
        chain.append(chain[-1].parent)
    return chain


def _read(path: Path, parse: Callable[[str], tuple[int, int] | None]) -> tuple[int, int] | None:
    try:
        return parse(path.read_text())
    except (OSError, ValueError):
        return None


def _v2(text: str) -> tuple[int, int] | None:
    quota, _, period = text.strip().partition(" ")
    return None if quota == "max" else (int(quota), int(period or 100_000))


def _quota(directory: Path) -> int | None:
    """CPUs the quota of one cgroup directory allows (rounded up), None if it has none."""
    pair = _read(directory / "cpu.max", _v2)
    if pair is None:
        quota = _read(directory / "cpu.cfs_quota_us", lambda t: (int(t), 0))
        period = _read(directory / "cpu.cfs_period_us", lambda t: (int(t), 0))
        pair = (quota[0], period[0]) if quota and period else None
    if pair is None or pair[0] <= 0 or pair[1] <= 0:  # -1 (v1): no quota
        return None
    return max(1, math.ceil(pair[0] / pair[1]))
