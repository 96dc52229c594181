"""One part's results as JSON (everything) and markdown (the tables people read), and the
machine they were measured on: CPU, cores, memory, GPU, library versions, commit."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import Run

__all__ = ["Report", "Table", "fmt", "machine_info", "runs_json"]

_LIBRARIES = ("pix2lst", "numpy", "numba", "rasterio", "onnxruntime", "onnxruntime-gpu", "torch")
_REPO = Path(__file__).resolve().parents[1]


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant figures (no exponent for ordinary sizes)."""
    if value is None:
        return "-"
    if isinstance(value, (str, bool)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    x = float(value)
    if math.isnan(x):
        return "-"
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


@dataclass
class Table:
    """One markdown table with its notes."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        lines += ["", *(f"- {n}" for n in self.notes)]
        return "\n".join(lines).rstrip() + "\n"


def runs_json(runs: Mapping[str, Sequence[Run]]) -> dict[str, list[dict[str, Any]]]:
    """Every repetition of every contender, JSON-ready."""
    return {name: [asdict(r) for r in rs] for name, rs in runs.items()}


def _first_line(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _run(*cmd: str) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=_REPO, capture_output=True, text=True, timeout=20,
                             check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def machine_info() -> dict[str, Any]:
    """Describe this machine and software stack as a JSON-ready mapping."""
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import onnxruntime

        providers = list(onnxruntime.get_available_providers())
    except ImportError:
        providers = []
    mem = _first_line("/proc/meminfo", "MemTotal")
    gpu = None
    if shutil.which("nvidia-smi"):
        gpu = _run("nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                   "--format=csv,noheader")  # fmt: skip
    commit = _run("git", "rev-parse", "--short", "HEAD")
    if commit and _run("git", "status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    return {
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_gib": round(int(mem.split()[0]) / 1024**2, 1) if mem else None,
        "gpu": gpu,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "ort_providers": providers,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "git_commit": commit,
    }  # fmt: skip


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    tmp.replace(path)


@dataclass
class Report:
    """The results of one part."""

    part: str
    title: str
    quick: bool
    params: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def write(self, out_dir: Path, command: str) -> tuple[Path, Path]:
        """Write ``<part>.json`` and ``<part>.md`` into ``out_dir``; return both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        machine = machine_info()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started))
        duration = time.time() - self.started
        doc = {"part": self.part, "title": self.title, "quick": self.quick, "command": command,
               "started_utc": stamp, "duration_s": round(duration, 1), "machine": machine,
               "params": self.params, "tables": [asdict(t) for t in self.tables],
               "notes": self.notes, "data": self.data}  # fmt: skip
        json_path, md_path = out_dir / f"{self.part}.json", out_dir / f"{self.part}.md"
        _write(json_path, json.dumps(doc, indent=1, default=str) + "\n")
        versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
        head = [
            f"## {self.title}" + (" (quick run)" if self.quick else ""),
            "",
            f"- command: `{command}`",
            f"- when: {stamp}, took {duration:.0f} s; commit {machine['git_commit']}",
            f"- machine: {machine['cpu']}, {machine['usable_cores']} usable cores, "
            f"{machine['ram_gib']} GiB RAM, GPU: {machine['gpu'] or 'none'}; "
            f"ORT providers: {', '.join(machine['ort_providers'])}; load average at the end "
            f"(1, 5, 15 min): {', '.join(map(str, machine['load_average']))}",
            f"- versions: {versions}",
            "",
        ]
        body = [t.markdown() for t in self.tables]
        _write(md_path, "\n".join([*head, *body, *(f"- {n}" for n in self.notes)]).rstrip() + "\n")
        return json_path, md_path
