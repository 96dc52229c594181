"""Worked example 3: train a (tiny) model on your own scenes and use it.

    python docs/examples/03_train_tiny_model.py [OUT_DIR] [SCENE ...]

Needs the train extra (``pip install torch==2.13.0 'pix2lst[cpu,train]'``). The
steps are those of a real training run, only small: a few epochs, 64 px tiles,
a narrow U-Net. It runs in well under a minute on two CPU cores on the embedded
sample; give your own scene folders (Landsat-8/9, with MTL) to train on them.
A useful model needs many scenes, 256 px tiles and tens of epochs: see the
README's model card for the shipped model's recipe.

1. per scene, the 8-band composite (model input) and the physics LST (target);
2. both cut into matching tiles (images/, images2/, manifest.csv);
3. the tiles loaded and normalised, a Pix2Pix model trained;
4. the model folder saved and exported to a self-describing ONNX file;
5. the ONNX model used by the torch-free runtime on a scene.

From the shell: ``pix2lst composite``, ``pix2lst physics``, ``pix2lst tiles``,
``pix2lst train`` and ``pix2lst export``, each with ``-o``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pix2lst.data import sample_scene_path
from pix2lst.export.dataset import prepare_data
from pix2lst.export.learner import Pix2Pix, TrainConfig, format_history
from pix2lst.export.onnx_export import export_model
from pix2lst.export.tiles import export_tiles
from pix2lst.lst_physics import write_composite, write_lst
from pix2lst.runtime import LSTPredictor

TILE = 64  # pixels; the shipped model uses 256
EPOCHS = 2


def main(out_dir: Path, scenes: list[Path]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tiles = out_dir / "tiles"
    for i, scene in enumerate(scenes):
        name = f"scene{i}_{scene.name}"
        composite = write_composite(scene, out_dir / f"{name}_composite.tif", overwrite=True)
        target = write_lst(scene, out_dir / f"{name}_lst.tif", overwrite=True)
        report = export_tiles(composite, target, tiles, tile=TILE, stride=TILE,
                              scene=name, overwrite=True)  # fmt: skip
        print(f"{name}: {report.written} tiles")

    # Targets as LST minus B10 brightness temperature, fixed input normalisation: the
    # shipped model's choices. Validation tiles are held out in spatial blocks.
    data = prepare_data(tiles, batch_size=8, target="lst_minus_bt", input_norm="fixed",
                        target_range=(-10.0, 25.0), split="blocks", seed=0)  # fmt: skip
    model = Pix2Pix(data, depth=3, width=8, config=TrainConfig(disc_width=8, seed=0))
    model.fit(EPOCHS, 2e-3)
    print(format_history(model.history))

    folder = model.save(out_dir / "model", onnx=False, overwrite=True)
    onnx = export_model(folder, out_dir / "model.onnx", overwrite=True)
    print(f"{onnx.path}: parity with torch {onnx.max_abs_diff_k:.1e} K")

    predictor = LSTPredictor(onnx.path, providers="cpu", batch_size=32)
    summary = predictor.predict_file(scenes[0], out_dir / "predicted_lst.tif", overwrite=True)
    print(summary.line())


if __name__ == "__main__":
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("example-output/03")
    scenes = [Path(p) for p in sys.argv[2:]] or [sample_scene_path()]
    main(out_dir, scenes)
