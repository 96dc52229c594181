"""The goals of the issues, checked against the latest results: ``results/summary.md``.

Reads the JSON files the parts wrote and states, per goal, the measured figure
and whether it is met. A part that has not run yet is reported as such.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.report import Table, fmt
from pix2lst.geo.atomic import atomic_output

__all__ = ["goals_table", "write_summary"]


def _load(out: Path, part: str) -> dict[str, Any] | None:
    path = out / f"{part}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _check(table: Table, goal: str, value: float | None, ok: bool | None, how: str) -> None:
    verdict = "not run" if value is None else ("met" if ok else "NOT MET")
    table.rows.append([goal, "-" if value is None else fmt(value), verdict, how])


def goals_table(out: Path) -> Table:
    """One row per goal: measured value, met or not, and where the figure comes from."""
    t = Table("Goals", ["goal", "measured", "verdict", "source"])
    phys = _load(out, "physics")
    s = (phys or {}).get("data", {}).get("summary", {})
    v = s.get("lst_kernel_mpx_per_s_numba")
    _check(t, "physics kernels >= 50 Mpx/s (Numba)", v, v is not None and v >= 50,
           "physics.md, LST chain in memory")  # fmt: skip
    v = s.get("write_lst_s")
    _check(t, "write_lst full scene < 15 s", v, v is not None and v < 15, "physics.md")
    v = s.get("write_lst_peak_rss_mb")
    _check(t, "write_lst full scene < 1 GB peak RSS (MB)", v, v is not None and v < 1024,
           "physics.md")  # fmt: skip
    e2e = _load(out, "e2e")
    if e2e:
        keys = sorted(k for k in e2e["data"] if k.startswith("summary_default"))
        # the default padding is the first (tile // 4) section
        pads = {k: int(k.rsplit("-p", 1)[1]) for k in keys}
        k = max(pads, key=lambda x: pads[x]) if pads else None
        d = e2e["data"][k] if k else {}
        v = d.get("e2e_over_ceiling")
        _check(t, f"e2e <= 1.10 x ORT ceiling (default model, padding {pads.get(k)})", v,
               v is not None and v <= 1.10, "e2e.md")  # fmt: skip
        v = d.get("ours_peak_rss_mb")
        _check(t, "e2e peak RSS < 1 GB (MB)", v, v is not None and v < 1024, "e2e.md")
        v = d.get("speedup_vs_baseline")
        _check(t, "faster than the torch-eager baseline (x)", v, v is not None and v > 1,
               "e2e.md")  # fmt: skip
        v = d.get("baseline_memory_ratio")
        _check(t, "less memory than the baseline (x)", v, v is not None and v > 1, "e2e.md")
    else:
        _check(t, "e2e <= 1.10 x ORT ceiling", None, None, "e2e.md")
    host = _load(out, "host")
    if host:
        h = host["data"]["summary"]["scene"]
        _check(t, "null model, full scene folder: <= 4 s wall (2 cores)", h["run_s"],
               h["run_s"] <= 4, "host.md")  # fmt: skip
        _check(t, "null model, full scene folder: <= 7 core-s (2 cores)", h["core_s"],
               h["core_s"] <= 7, "host.md")  # fmt: skip
    mach = _load(out, "machine")
    if mach:
        m = mach["data"]["summary"]
        v = m["ours"]["over_ceiling"]
        _check(t, "sessions=auto end to end <= 1.10 x ORT ceiling (2 cores)", v, v <= 1.10,
               "machine.md")  # fmt: skip
        v = m["ours"]["peak_rss_mb"]
        _check(t, "sessions=auto peak RSS <= 1 GB at full width (MB)", v, v <= 1024,
               "machine.md")  # fmt: skip
    gpu = _load(out, "gpu")
    if gpu and gpu["data"]["summary"].get("cuda"):
        g = gpu["data"]["summary"]
        _check(t, "GPU: scene folder end to end <= 1.5 s", g["cuda_scene_s"],
               g["cuda_scene_s"] <= 1.5, "gpu.md")  # fmt: skip
        _check(t, "GPU: end to end <= 1.3 x ORT-CUDA ceiling", g["over_ceiling"],
               g["over_ceiling"] <= 1.3, "gpu.md")  # fmt: skip
        _check(t, "GPU: CUDA vs CPU within 0.01 K", g["parity_max_abs_k"],
               g["parity_max_abs_k"] <= 0.01 and g["parity_same_nodata"], "gpu.md")  # fmt: skip
    sc = _load(out, "scaling")
    if sc:
        rows = {r[0]: r for r in sc["tables"][0]["rows"]}
        if "1 x" in rows and "4 x" in rows:
            lin = rows["4 x"][4] / rows["1 x"][4]
            _check(t, "prediction time linear in area (s/Mpx at 4x / at 1x, within 15 %)", lin,
                   abs(lin - 1) <= 0.15, "scaling.md")  # fmt: skip
        tall = [tb for tb in sc["tables"] if "scene height" in tb["columns"]]
        if tall:  # streaming: memory may grow with width (buffers are tile x width), not height
            rss = [r[5] for r in tall[0]["rows"]]
            flat = max(rss) / min(rss)
            _check(t, "prediction memory flat in scene height (max / min peak RSS, 1/4..2x "
                   "height at full width, <= 1.10)", flat, flat <= 1.10, "scaling.md")  # fmt: skip
    acc = _load(out, "accuracy")
    if acc:
        for entry in acc["data"].get("accuracy", []):
            for r in entry["rows"]:
                if r["in_training_set"] or not r["scene"].startswith("LC09_L1TP_063046"):
                    continue
                label = "cross-scene model, Maui held out"
                _check(t, f"{label}: PSNR > 20.97 dB", r["psnr"], r["psnr"] > 20.97, "accuracy.md")
                _check(t, f"{label}: SSIM > 0.945", r["ssim"], r["ssim"] > 0.945, "accuracy.md")
                _check(t, f"{label}: RMSE < 0.5 K", r["rmse_k"], r["rmse_k"] < 0.5, "accuracy.md")
    return t


def write_summary(out: Path) -> Path:
    """Write ``summary.md`` into the results folder; return its path."""
    table = goals_table(out)
    parts = sorted(p.stem for p in out.glob("*.json"))
    text = "\n".join([
        "# Benchmark summary", "",
        f"Parts with results here: {', '.join(parts) or 'none'}.", "", table.markdown(),
    ])  # fmt: skip
    dst = out / "summary.md"
    with atomic_output(dst, overwrite=True) as tmp:
        tmp.write_text(text.rstrip() + "\n")
    return dst
