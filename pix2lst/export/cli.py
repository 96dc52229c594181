"""``pix2lst tiles``, ``pix2lst train`` and ``pix2lst export``: thin click commands.

Imported only when one of these commands runs (see :mod:`pix2lst.cli`), so the
rest of the CLI works without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pix2lst._cli_options import (
    echo_result,
    output_option,
    overwrite_option,
    progress_bar,
    progress_callback,
    quiet,
)

__all__ = ["export", "tiles", "train"]


@click.command(
    help="Cut a composite and its LST into training tiles (images/, images2/, manifest.csv)."
)
@click.argument("composite", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("lst", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@output_option("Dataset folder (created; scenes are appended).", file_okay=False, legacy_out=True)
@click.option("--tile", default=256, show_default=True, help="Tile size in pixels.")
@click.option("--stride", default=128, show_default=True, help="Step between tiles in pixels.")
@click.option("--max-nodata", default=0.0, show_default=True,
              help="Largest nodata fraction a kept tile may have.")  # fmt: skip
@click.option("--scene", default=None, help="Scene name in tile names (default: from COMPOSITE).")
@overwrite_option("Replace this scene's tiles if present.")
def tiles(composite: Path, lst: Path, output: Path, tile: int, stride: int, max_nodata: float,
          scene: str | None, overwrite: bool) -> None:  # fmt: skip
    from pix2lst.export.tiles import export_tiles

    with progress_callback("tiles", "tile") as progress:
        r = export_tiles(composite, lst, output, tile=tile, stride=stride,
                         max_nodata=max_nodata, scene=scene, overwrite=overwrite,
                         progress=progress)  # fmt: skip
    echo_result(f"{r.scene}: {r.written} of {r.total} tiles written to {r.out_dir}, "
                f"{r.skipped_nodata} skipped (nodata > {max_nodata:.0%})")  # fmt: skip


@click.command(help="Train a Pix2Pix model on a tile folder and save the model folder.")
@click.argument("tiles_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@output_option("Model folder to write.", file_okay=False, legacy_out=True)
@click.option("--epochs", default=20, show_default=True)
@click.option("--lr", default=2e-4, show_default=True, help="Adam learning rate.")
@click.option(
    "--lr-find",
    "lr_find",
    is_flag=True,
    help="Run the lr finder first and train at its suggestion.",
)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--depth", default=None, type=int, help="U-Net depth (default log2(tile)).")
@click.option("--width", default=64, show_default=True, help="U-Net filters of the first layer.")
@click.option(
    "--disc-width", default=64, show_default=True, help="PatchGAN filters of the first layer."
)
@click.option("--head", default=0, show_default=True,
              help="Channels of a full-resolution per-pixel head (0: the pix2pix layout).")  # fmt: skip
@click.option("--ndvi/--no-ndvi", default=False, show_default=True,
              help="Derive NDVI from B4/B5 inside the generator as an extra channel.")  # fmt: skip
@click.option("--thermal-shift", nargs=2, type=float, default=None,
              help="Temperature augmentation: BT shift range in K, e.g. -30 50 (lst_minus_bt).")  # fmt: skip
@click.option("--spectral-jitter", is_flag=True,
              help="Reflectance-gain augmentation, targets recomputed (Sobrino LST - BT targets).")  # fmt: skip
@click.option("--target", type=click.Choice(["lst", "lst_minus_bt"]), default="lst_minus_bt",
              show_default=True)  # fmt: skip
@click.option(
    "--input-norm", type=click.Choice(["minmax", "fixed"]), default="fixed", show_default=True
)
@click.option("--target-range", nargs=2, type=float, default=None,
              help="Kelvin range mapped to [-1, 1] (default: fixed per target).")  # fmt: skip
@click.option(
    "--bands", default=None, help="Comma list of input bands (default: all in the tiles)."
)
@click.option("--scenes", default=None, help="Comma list of scenes to use (default: all).")
@click.option("--val-fraction", default=0.2, show_default=True)
@click.option(
    "--split", type=click.Choice(["auto", "scene", "blocks"]), default="auto", show_default=True
)
@click.option("--seed", default=42, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUTPUT/checkpoints/checkpoint.pt.")
@click.option(
    "--onnx/--no-onnx", default=True, show_default=True, help="Also write OUTPUT/model.onnx."
)
@overwrite_option("Write into a non-empty model folder, replacing its files.")
def train(tiles_dir: Path, output: Path, **kw: Any) -> None:
    out_dir = output
    from pix2lst.export.dataset import prepare_data
    from pix2lst.export.learner import Pix2Pix, TrainConfig, TrainEvent, format_history
    from pix2lst.export.norm import FIXED_TARGET_RANGES

    if out_dir.exists() and any(p.name != "checkpoints" for p in out_dir.iterdir()) \
            and not kw["overwrite"]:  # fmt: skip
        raise click.ClickException(f"{out_dir} is not empty; pass --overwrite")
    split = lambda s: s.split(",") if s else None  # noqa: E731
    data = prepare_data(
        tiles_dir, kw["batch_size"], val_fraction=kw["val_fraction"], split=kw["split"],
        bands=split(kw["bands"]), scenes=split(kw["scenes"]), target=kw["target"],
        input_norm=kw["input_norm"],
        target_range=kw["target_range"] or FIXED_TARGET_RANGES[kw["target"]], seed=kw["seed"],
        thermal_shift=kw["thermal_shift"], spectral_jitter=kw["spectral_jitter"],
    )  # fmt: skip
    model = Pix2Pix(data, depth=kw["depth"], width=kw["width"], head=kw["head"], ndvi=kw["ndvi"],
                    config=TrainConfig(disc_width=kw["disc_width"], seed=kw["seed"]))  # fmt: skip
    lr = kw["lr"]
    out_dir.mkdir(parents=True, exist_ok=True)
    if kw["lr_find"]:
        lr = model.lr_find(out=out_dir / "lr_find.png", overwrite=True).suggested
        echo_result(f"lr_find suggests {lr:.3g}")
    with progress_bar(unit="batch") as bar:
        started: list[bool] = []

        def say(text: str) -> None:  # above the bar; nothing under -q
            if not quiet():
                bar.write(text)

        def cb(ev: TrainEvent) -> None:
            if not started:  # the header and the epochs a resumed run already has, once
                started.append(True)
                say(format_history(model.history))
            bar.total = ev.total_steps
            bar.set_description(f"epoch {ev.epoch}")
            if ev.kind == "batch":
                bar.update(ev.step - bar.n)
            elif ev.stats is not None:
                say(format_history([ev.stats]).splitlines()[1])  # each epoch's row, once
                bar.reset()

        model.fit(kw["epochs"], lr, checkpoint_dir=out_dir / "checkpoints",
                  resume=kw["resume"], callback=cb)  # fmt: skip
    metrics = model.compute_metrics()
    model.save(out_dir, metrics=metrics, onnx=kw["onnx"], overwrite=True)
    echo_result(f"model written to {out_dir}; metrics: {metrics}")


@click.command(
    help="Export a trained model folder to a self-describing ONNX file (parity-checked)."
)
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@output_option("ONNX file to write.", dir_okay=False, legacy_out=True)
@click.option("--tile-size", default=None, type=int,
              help="Inference tile size (multiple of 2**depth; default: the training tile).")  # fmt: skip
@click.option(
    "--fp16", is_flag=True, help="Also write OUTPUT_fp16.onnx (float16 inside, float32 I/O)."
)
@overwrite_option("Replace the ONNX file(s) if they exist.")
def export(
    model_dir: Path, output: Path, tile_size: int | None, fp16: bool, overwrite: bool
) -> None:
    from pix2lst.export.onnx_export import export_model

    r = export_model(model_dir, output, tile_size=tile_size, fp16=fp16, overwrite=overwrite)
    echo_result(f"{r.path}: {r.size_bytes / 1e6:.2f} MB, tile {r.tile_size}, parity on "
                f"{r.n_parity_tiles} real tiles: max |ORT - torch| = {r.max_abs_diff_k:.2e} K")  # fmt: skip
    if r.fp16_path is not None:
        echo_result(f"{r.fp16_path}: {(r.fp16_size_bytes or 0) / 1e6:.2f} MB, "
                    f"max |fp16 - fp32| = {r.fp16_max_abs_diff_k:.3g} K")  # fmt: skip
