"""The usable-core count: affinity, cgroup CPU quotas (v1 and v2, nested), the override."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pix2lst import _machine
from pix2lst._machine import cgroup_cpu_limit, gdal_threads, gpu_count, usable_cores

V1_MOUNTS = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / {cpu} rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / {mem} rw,relatime - cgroup cgroup rw,memory\n"
)
V2_MOUNTS = "30 23 0:27 {root} {mount} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def _proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(mountinfo)
    return proc


def _v1_group(base: Path, quota: int, period: int = 100_000) -> None:
    base.mkdir(parents=True, exist_ok=True)
    (base / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (base / "cpu.cfs_period_us").write_text(f"{period}\n")


def test_v1_quota_of_the_group_and_of_its_parents(tmp_path: Path) -> None:
    cpu, mem = tmp_path / "cpu,cpuacct", tmp_path / "memory"
    _v1_group(cpu, -1)  # the root: no quota
    _v1_group(cpu / "kubepods", 600_000)  # 6 CPUs for every pod
    _v1_group(cpu / "kubepods" / "pod1", 250_000)  # 2.5 CPUs: 3 cores
    groups = "5:memory:/kubepods/pod1\n4:cpu,cpuacct:/kubepods/pod1\n0::/\n"
    proc = _proc(tmp_path, groups, V1_MOUNTS.format(cpu=cpu, mem=mem))
    assert cgroup_cpu_limit(proc) == 3
    _v1_group(cpu / "kubepods", 100_000)  # the parent's quota binds too
    assert cgroup_cpu_limit(proc) == 1
    _v1_group(cpu / "kubepods", -1)
    _v1_group(cpu / "kubepods" / "pod1", -1)
    assert cgroup_cpu_limit(proc) is None


def test_v2_quota_and_a_cgroup_namespace(tmp_path: Path) -> None:
    mount = tmp_path / "cg 2"  # mountinfo writes the space as \040
    (mount / "app").mkdir(parents=True)
    (mount / "cpu.max").write_text("max 100000\n")
    (mount / "app" / "cpu.max").write_text("150000 100000\n")
    info = V2_MOUNTS.format(root="/", mount=str(mount).replace(" ", "\\040"))
    assert cgroup_cpu_limit(_proc(tmp_path, "0::/app\n", info)) == 2
    # in a container's own namespace its group is the mount itself ("0::/"), and a path
    # outside the mounted part of the tree also means the mount
    (mount / "cpu.max").write_text("400000 100000\n")
    other = tmp_path / "other"
    other.mkdir()
    assert cgroup_cpu_limit(_proc(other, "0::/\n", info)) == 4
    moved = V2_MOUNTS.format(root="/sys.slice", mount=str(mount).replace(" ", "\\040"))
    third = tmp_path / "third"
    third.mkdir()
    assert cgroup_cpu_limit(_proc(third, "0::/user.slice/x\n", moved)) == 4


def test_no_quota_or_nothing_readable(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path / "absent") is None
    mount = tmp_path / "cg"
    mount.mkdir()
    (mount / "cpu.max").write_text("garbage\n")
    info = V2_MOUNTS.format(root="/", mount=mount)
    assert cgroup_cpu_limit(_proc(tmp_path, "0::/\n", info)) is None


def test_usable_cores_caps_affinity_by_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_CPU_COUNT", raising=False)
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(_machine, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == affinity
    monkeypatch.setattr(_machine, "cgroup_cpu_limit", lambda: 1)
    assert usable_cores() == 1 and gdal_threads() == "1" and gdal_threads("all_cpus") == "1"
    assert gdal_threads(3) == "3" and gdal_threads("2") == "2"
    monkeypatch.setattr(_machine, "cgroup_cpu_limit", lambda: affinity + 8)
    assert usable_cores() == affinity  # a quota above the mask changes nothing


def test_python_cpu_count_overrides(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PYTHON_CPU_COUNT", "16")
    assert usable_cores() == 16 and gdal_threads() == "16"
    monkeypatch.setenv("PYTHON_CPU_COUNT", "lots")
    monkeypatch.setattr(_machine, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert "PYTHON_CPU_COUNT='lots' is not a positive integer" in caplog.text


def _writable_cpu_cgroup() -> Path | None:
    """A place to create a v1 ``cpu`` or a v2 cgroup with a quota, if this process may."""
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").is_file() and os.access(v1, os.W_OK):
        return v1
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.subtree_control").is_file() and os.access(v2, os.W_OK):
        if "cpu" in (v2 / "cgroup.subtree_control").read_text().split():
            return v2
    return None


def test_a_real_cgroup_quota_sizes_the_runtime() -> None:
    """A child process in a real cgroup limited to 1 CPU sees 1 core and gets 1 session."""
    parent = _writable_cpu_cgroup()
    if parent is None:
        pytest.skip("no writable cgroup with the cpu controller here (needs root in a cgroup v1 "
                    "cpu hierarchy or a delegated v2 one)")  # fmt: skip
    group = parent / f"pix2lst-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup under {parent}: {exc}")
    try:
        if (group / "cpu.max").exists():
            (group / "cpu.max").write_text("100000 100000")
        else:
            (group / "cpu.cfs_quota_us").write_text("100000")
        code = (
            f"import os; open({str(group / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
            "from pix2lst._machine import usable_cores\n"
            "from pix2lst.runtime.plan import CPU, auto_sessions\n"
            "print(usable_cores(), auto_sessions(CPU, usable_cores()))\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_CPU_COUNT"}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.split() == ["1", "1"]
    finally:
        group.rmdir()


def test_gpu_count_from_the_driver_and_cuda_visible_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_count(tmp_path) == 0  # no driver
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (tmp_path / "driver" / "nvidia" / "gpus" / bus).mkdir(parents=True)
    assert gpu_count(tmp_path) == 2
    for visible, n in (("1", 1), ("0,1,2", 3), ("", 0), ("-1", 0), ("0,-1,1", 1), ("GPU-ab,1", 2)):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert gpu_count(tmp_path) == n, visible
