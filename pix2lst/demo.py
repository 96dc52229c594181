"""``pix2lst demo``: the main job on the embedded sample scene, end to end.

Physics LST, model LST (the shipped default ONNX model through the torch-free
runtime), how far apart they are, and the pictures: quicklooks, the physics vs
model comparison and the offline viewer. Needs only the light install
(``pip install 'pix2lst[cpu]'``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import rasterio

from pix2lst.data import sample_scene_path
from pix2lst.errors import GridMismatchError

__all__ = ["DemoResult", "agreement", "demo", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    """Paths the demo wrote and how far the model is from the physics (kelvin)."""

    outputs: dict[str, Path]
    rmse_k: float
    bias_k: float
    valid_pixels: int
    seconds: float


def agreement(reference: Path, predicted: Path) -> tuple[float, float, int]:
    """RMSE and mean bias (predicted - reference) in the rasters' units over common valid pixels."""
    with rasterio.open(reference) as a, rasterio.open(predicted) as b:
        ref = a.read(1, masked=False).astype(np.float64)
        pred = b.read(1, masked=False).astype(np.float64)
    if ref.shape != pred.shape:
        raise GridMismatchError(
            f"{reference} and {predicted} differ in size: {ref.shape} vs {pred.shape}"
        )
    ok = np.isfinite(ref) & np.isfinite(pred)
    n = int(ok.sum())
    if n == 0:
        return math.nan, math.nan, 0
    diff = pred[ok] - ref[ok]
    return float(np.sqrt(np.mean(diff**2))), float(diff.mean()), n


def run_demo(out_dir: Path, *, overwrite: bool = False) -> DemoResult:
    """Run physics, prediction and figures on the embedded sample into ``out_dir``."""
    from pix2lst.lst_physics import write_lst
    from pix2lst.runtime import LSTPredictor
    from pix2lst.viz import compare, quicklook, rgb_quicklook, write_viewer

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = sample_scene_path()
    paths = {
        "physics LST": out_dir / "lst_physics.tif",
        "model LST": out_dir / "lst_model.tif",
        "physics quicklook": out_dir / "lst_physics.png",
        "model quicklook": out_dir / "lst_model.png",
        "true colour": out_dir / "true_colour.png",
        "comparison": out_dir / "compare_physics_vs_model.png",
        "viewer": out_dir / "viewer.html",
    }
    write_lst(scene, paths["physics LST"], overwrite=overwrite)
    predictor = LSTPredictor(None)  # the shipped default model
    predictor.predict_file(scene, paths["model LST"], overwrite=overwrite)
    rmse, bias, n = agreement(paths["physics LST"], paths["model LST"])
    quicklook(paths["physics LST"], paths["physics quicklook"], overwrite=overwrite,
              title="Physics LST (single channel, Sobrino emissivity)")  # fmt: skip
    quicklook(paths["model LST"], paths["model quicklook"], overwrite=overwrite,
              title=f"Model LST ({predictor.model.path.name})")  # fmt: skip
    rgb_quicklook(scene, paths["true colour"], overwrite=overwrite)
    compare(paths["physics LST"], paths["model LST"], paths["comparison"], rgb=scene,
            overwrite=overwrite)  # fmt: skip
    write_viewer([paths["physics LST"], paths["model LST"]], paths["viewer"], rgb=scene,
                 overwrite=overwrite, title="pix2lst demo: physics vs model")  # fmt: skip
    return DemoResult(paths, rmse, bias, n, time.perf_counter() - started)


@click.command(name="demo")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True, help="Folder for the outputs.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace outputs left by an earlier run.")
def demo(output: Path, overwrite: bool) -> None:
    """Run the main job on the embedded sample scene and say where the outputs are."""
    click.echo(f"pix2lst demo on the embedded sample: {sample_scene_path()}")
    result = run_demo(output, overwrite=overwrite)  # errors: pix2lst.cli.LazyGroup says them
    width = max(len(k) for k in result.outputs)
    for label, path in result.outputs.items():
        click.echo(f"  {label:<{width}}  {path}")
    click.echo(
        f"model vs physics over {result.valid_pixels} valid pixels: RMSE {result.rmse_k:.3f} K, "
        f"bias {result.bias_k:+.3f} K  ({result.seconds:.1f} s)"
    )
    click.echo(f"open {result.outputs['viewer']} in a browser to compare them side by side")
