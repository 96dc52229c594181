"""Write one part's results as JSON (everything) and markdown (the tables people read)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Run
from benchmarks.machine import command_line, machine_info
from pix2lst.geo.atomic import atomic_output

__all__ = ["STEAL_NOTE", "Report", "Table", "fmt", "runs_json"]

STEAL_NOTE = (
    "steal s: CPU time the hypervisor gave to others while this machine's CPUs wanted it, "
    "over the run, all CPUs (/proc/stat; - where there is none): on a shared VM, what the "
    "host took from the figures"
)


def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant figures (no exponent for ordinary sizes)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    x = float(value)
    if math.isnan(x):
        return "-"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


@dataclass
class Table:
    """One markdown table with its notes."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
        lines.append("")
        lines.extend(f"- {n}" for n in self.notes)
        if self.notes:
            lines.append("")
        return "\n".join(lines)


def runs_json(runs: Mapping[str, Sequence[Run]]) -> dict[str, list[dict[str, Any]]]:
    """Every repetition of every contender, JSON-ready."""
    return {name: [asdict(r) for r in rs] for name, rs in runs.items()}


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

    def write(self, out_dir: Path, command: str = "") -> tuple[Path, Path]:
        """Write ``<part>.json`` and ``<part>.md`` into ``out_dir``; return both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        machine = machine_info()
        command = command or command_line()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started))
        duration = time.time() - self.started
        doc = {
            "part": self.part,
            "title": self.title,
            "quick": self.quick,
            "command": command,
            "started_utc": stamp,
            "duration_s": round(duration, 1),
            "machine": machine,
            "params": self.params,
            "tables": [asdict(t) for t in self.tables],
            "notes": self.notes,
            "data": self.data,
        }
        json_path = out_dir / f"{self.part}.json"
        md_path = out_dir / f"{self.part}.md"
        with atomic_output(json_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
        head = [
            f"## {self.title}" + (" (quick run)" if self.quick else ""),
            "",
            f"- command: `{command}`",
            f"- when: {stamp}, took {duration:.0f} s; commit {machine['git_commit']}",
            f"- machine: {machine['cpu']}, {machine['usable_cores']} usable cores, "
            f"{machine['ram_gib']} GiB RAM, GPU: {machine['gpu'] or 'none'}; "
            f"ORT providers: {', '.join(machine['ort_providers'])}",
            f"- versions: {versions}",
            "",
        ]
        body = [t.markdown() for t in self.tables]
        tail = [f"- {n}" for n in self.notes]
        with atomic_output(md_path, overwrite=True) as tmp:
            tmp.write_text("\n".join([*head, *body, *tail]).rstrip() + "\n")
        return json_path, md_path
