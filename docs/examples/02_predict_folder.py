"""Worked example 2: predict LST for every scene in a folder with an ONNX model (no torch).

    python docs/examples/02_predict_folder.py [SCENES_DIR] [OUT_DIR] [MODEL.onnx]

SCENES_DIR holds Landsat-8/9 scene folders (each with its MTL) and/or 8-band
composites written by ``pix2lst composite`` (``*.tif``). Without it, a folder with
the embedded sample scene is made, so the example runs as it is. MODEL defaults
to the model shipped inside pix2lst. For each input, OUT_DIR gets
``<name>_lst.tif`` (kelvin, tagged with scene, date, model and its SHA-256) and a
``<name>_lst.png`` map; a summary line per scene is printed.

One predictor serves every scene: the ONNX session is built once. From the shell:

    for s in scenes/*/; do pix2lst predict "$s" -o "out/$(basename "$s")_lst.tif"; done
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from pix2lst.data import sample_scene_path
from pix2lst.runtime import LSTPredictor
from pix2lst.viz import quicklook


def scene_inputs(folder: Path) -> list[Path]:
    """Scene folders (with an MTL file) and composite GeoTIFFs directly under ``folder``."""
    found = [p for p in sorted(folder.iterdir()) if p.is_dir() and any(p.glob("*MTL*"))]
    return found + sorted(folder.glob("*.tif"))


def main(scenes_dir: Path, out_dir: Path, model: Path | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    predictor = LSTPredictor(model, providers="auto")  # GPU if there is one, else CPU
    print(f"model {predictor.model.path.name} on {predictor.provider}")
    for src in scene_inputs(scenes_dir):
        dst = out_dir / f"{src.stem}_lst.tif"
        summary = predictor.predict_file(src, dst, overwrite=True)
        print(f"{src.name}: {summary.line()}")
        quicklook(dst, dst.with_suffix(".png"), overwrite=True)


def sample_folder() -> Path:
    """A folder holding (a link to) the embedded sample scene, for a run without arguments."""
    folder = Path(tempfile.mkdtemp(prefix="pix2lst-scenes-"))
    (folder / "sample").symlink_to(sample_scene_path(), target_is_directory=True)
    return folder


if __name__ == "__main__":
    scenes_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_folder()
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("example-output/02")
    model = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    main(scenes_dir, out_dir, model)
