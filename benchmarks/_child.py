"""Child-process entry point: ``python -m benchmarks._child SPEC.json RESULT.json``."""

from __future__ import annotations

import importlib
import json
import resource
import sys
from pathlib import Path


def vm_hwm_mib() -> float:
    """Peak resident set size of this process (``VmHWM``), in MiB.

    Read from ``/proc/self/status`` rather than ``ru_maxrss``: on Linux a child
    started with vfork/fork + exec inherits the parent's high-water mark into
    ``ru_maxrss`` at exec, so the harness's own memory would leak into the
    contender's figure. ``VmHWM`` belongs to the address space made at exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    module_name, func_name = spec["task"].split(":")
    module = importlib.import_module(f"benchmarks.{module_name}")
    func = getattr(module, func_name)
    import_rss = vm_hwm_mib()
    result = dict(func(**spec["params"]))
    result.setdefault("import_rss_mb", import_rss)
    result["vm_hwm_mb"] = vm_hwm_mib()
    Path(argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
