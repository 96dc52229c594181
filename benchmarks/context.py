"""What every part needs: where the cache and results go, quick or full, scenes and models."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import scenes
from benchmarks.models import ModelSpec, default_model

__all__ = ["BENCH_DIR", "Context"]

BENCH_DIR = Path(__file__).resolve().parent


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Context:
    """Options shared by the parts (``reps=None``: each part's own default).

    ``model`` replaces the shipped model. ``only`` narrows a part to some of its tables
    (``accuracy``: ``atmosphere``). ``provider`` and ``slice`` are the ``gpu`` part's: the provider it measures
    (``cuda`` on the GPU machine, ``cpu`` to try it anywhere) and which slice runs.
    """

    quick: bool = False
    reps: int | None = None
    cache: Path = BENCH_DIR / "cache"
    out: Path = BENCH_DIR / "results"
    progress: Callable[[str], None] = field(default=_stderr)
    command: str = ""
    cross_model: Path | None = None
    model: Path | None = None
    provider: str = "cuda"
    slice: int = 1
    only: tuple[str, ...] = ()

    def n_reps(self, full_default: int) -> int:
        """Repetitions: 1 under ``--quick``, else ``--reps`` or the part's default."""
        if self.quick:
            return 1
        return self.reps if self.reps is not None else full_default

    @property
    def work(self) -> Path:
        """Scratch folder for outputs of contenders (inside the cache, git-ignored)."""
        path = self.cache / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scene_shape(self, area: float = 1.0) -> tuple[int, int]:
        """(lines, samples) of a scene ``area`` times a full one (the tiny scene if quick)."""
        if self.quick:
            h, w = scenes.QUICK_SHAPE
            side = area**0.5
            return max(64, round(h * side)), max(64, round(w * side))
        return scenes.scale_shape(area)

    def scene(self, area: float = 1.0) -> Path:
        """The cached mirror-tiled scene folder of ``area`` (built on first use)."""
        return scenes.scene_folder(self.cache, self.scene_shape(area), progress=self.progress)

    def composite(self, folder: Path) -> Path:
        """The 8-band TOA composite of a scene folder, as ``pix2lst composite`` writes it."""
        dst = folder / "composite_toa.tif"
        if not dst.exists():
            from pix2lst.lst_physics import write_composite

            self.progress(f"  building {dst}")
            write_composite(folder, dst, units="toa")
        return dst

    def default_model(self) -> ModelSpec:
        """``--model``, else the shipped model (a stand-in where none is shipped)."""
        return default_model(self.cache, quick=self.quick, path=self.model)
