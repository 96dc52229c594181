"""``pix2lst demo``: the main job on the embedded sample scene, end to end.

Physics LST (clouds, shadows and cirrus masked with the scene's BQA band),
model LST (the shipped default ONNX model through the torch-free runtime), how
far apart they are over the clear pixels, and the pictures: quicklooks, the
physics vs model comparison and the offline viewer, all with the cloud mask
applied and said so. Needs only the light install (``pip install 'pix2lst[cpu]'``).

The sample's MTL is borrowed from another acquisition (2015-08-04) while its
pixels are from 2015-01-22 (see the README's Data section); every figure says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import rasterio

from pix2lst._cli_options import echo_result, output_option, overwrite_option
from pix2lst.data import sample_scene_path
from pix2lst.errors import GridMismatchError, OutputNotWritableError
from pix2lst.geo.atomic import check_output

__all__ = ["SAMPLE_CAVEAT", "DemoResult", "agreement", "demo", "run_demo"]

#: What every demo figure says about the sample's dates.
SAMPLE_CAVEAT = (
    "Sample caveat: the pixels are from 2015-01-22; the MTL, and so the date in the titles "
    "(2015-08-04), is borrowed from another acquisition."
)
#: What every demo LST figure says about clouds.
CLOUD_NOTE = "Clouds, cloud shadows and cirrus (BQA) masked: transparent."


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
    from pix2lst.viz.mapaxes import world_file_paths

    started = time.perf_counter()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputNotWritableError(
            f"cannot create the output folder {out_dir} ({exc.strerror}); choose a folder you "
            "can write to with -o"
        ) from exc
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
    sidecars = [side for key in ("physics quicklook", "model quicklook", "true colour")
                for side in world_file_paths(paths[key])]  # fmt: skip
    for path in [*paths.values(), *sidecars]:  # every output checked before the first is written
        check_output(path, overwrite=overwrite, inputs=[scene])
    write_lst(scene, paths["physics LST"], mask_clouds=True, overwrite=overwrite)
    predictor = LSTPredictor(None)  # the shipped default model
    predictor.predict_file(scene, paths["model LST"], overwrite=overwrite)
    rmse, bias, n = agreement(paths["physics LST"], paths["model LST"])  # clear pixels only
    clouds = paths["physics LST"]  # its nodata is the cloud mask: hide the same pixels everywhere
    note = f"{CLOUD_NOTE} {SAMPLE_CAVEAT}"
    quicklook(paths["physics LST"], paths["physics quicklook"], overwrite=overwrite, note=note)
    quicklook(paths["model LST"], paths["model quicklook"], overwrite=overwrite, mask=clouds,
              note=note)  # fmt: skip
    rgb_title = "True colour: pixels 2015-01-22 (MTL date 2015-08-04 borrowed)"
    rgb_quicklook(scene, paths["true colour"], overwrite=overwrite, title=rgb_title,
                  note=SAMPLE_CAVEAT)  # fmt: skip
    compare(paths["physics LST"], paths["model LST"], paths["comparison"], rgb=scene,
            overwrite=overwrite, mask=clouds, rgb_title=rgb_title, note=note)  # fmt: skip
    write_viewer([paths["physics LST"], paths["model LST"]], paths["viewer"], rgb=scene,
                 overwrite=overwrite, title="pix2lst demo: physics vs model", mask=clouds,
                 rgb_title=rgb_title, note=note)  # fmt: skip
    return DemoResult(paths, rmse, bias, n, time.perf_counter() - started)


@click.command(name="demo")
@output_option("Folder for the outputs.", required=False, default=Path("demo-output"),
               file_okay=False, show_default=True)  # fmt: skip
@overwrite_option("Replace outputs left by an earlier run.")
def demo(output: Path, overwrite: bool) -> None:
    """Run the main job on the embedded sample scene and say where the outputs are."""
    echo_result(f"pix2lst demo on the embedded sample: {sample_scene_path()}")
    result = run_demo(output, overwrite=overwrite)  # errors: pix2lst.cli.LazyGroup says them
    width = max(len(k) for k in result.outputs)
    for label, path in result.outputs.items():
        echo_result(f"  {label:<{width}}  {path}")
    echo_result(
        f"model vs physics over {result.valid_pixels} clear pixels: RMSE {result.rmse_k:.3f} K, "
        f"bias {result.bias_k:+.3f} K  ({result.seconds:.1f} s)"
    )
    echo_result(f"open {result.outputs['viewer']} in a browser to compare them side by side")
