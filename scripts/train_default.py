#!/usr/bin/env python
"""Reproduce pix2lst's shipped default model end to end from ../shared/data.

Stages (each records into WORK/results.json; run them together or one by one):

* ``prepare``: per scene, the composite (``units="toa"``) and the physics LST
  (single channel, Planck inversion, Sobrino NDVI emissivity, no cloud mask) via
  :mod:`pix2lst.lst_physics`; then 128 px tiles (stride 64, max 25 % nodata) of
  every scene into one dataset, and, for the record, the 256 px tile counts.
* ``cross``: train without Maui (mobile + greenland), export ONNX, predict the
  whole Maui scene through the runtime, score against the physics LST.
* ``optical``: the same with B1-B7 only (no B10), target LST in a fixed range.
* ``ship``: train on every usable scene, export ``pix2lst/data/models/pix2lst_default.onnx``
  and write its figures (``pix2lst_default.json``) beside it and the model card's
  tables (``WORK/model_card.md``), from which ``docs/model-card.md`` takes them.
* ``widths``: parameters, file size and CPU ms/tile for candidate widths.

Example (what produced the shipped model)::

    .venv/bin/python scripts/train_default.py --stages prepare,widths,cross,optical,ship
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pix2lst.export.dataset import prepare_data
from pix2lst.export.evaluate import evaluate_scene
from pix2lst.export.learner import Pix2Pix, TrainConfig, TrainEvent, format_history
from pix2lst.export.metrics import evaluate_lst
from pix2lst.export.networks import GeneratorConfig, UNetGenerator, count_parameters
from pix2lst.export.norm import FIXED_TARGET_RANGES
from pix2lst.export.onnx_export import export_model
from pix2lst.export.tiles import export_tiles

REPO = Path(__file__).resolve().parents[1]
SCENES = {
    "mobile": "LC08_p020r039_20150122_cloudy_603x627",
    "greenland": "LC08_L2SP_005009_20150710_fullscene_515m",
    "maui": "LC09_L1TP_063046_20230714_20230714_02_T1",
}
SYNTH_SCENES = {"liverpool_synth": "LC08_L2SP_204023_20200927_20201006_02_T1"}
"""L2 bundles without ST_TRAD: B10 rebuilt from ST_B10 (see synth_l2_pair), used with --synthetic."""
HELD_OUT = "maui"
ALL_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
OPTICAL = ALL_BANDS[:7]
PHYSICS = "planck single-channel, sobrino NDVI emissivity, no cloud mask (pix2lst.lst_physics)"


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class Results:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=2, default=str))


def prepare(args: argparse.Namespace, res: Results) -> None:
    from pix2lst.lst_physics.composite import write_composite
    from pix2lst.lst_physics.lst import write_lst

    scenes_dir = args.work / "scenes"
    scenes_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name, folder in {**SCENES, **SYNTH_SCENES}.items():
        comp, lst = scenes_dir / f"{name}_composite.tif", scenes_dir / f"{name}_lst.tif"
        if name in SYNTH_SCENES:
            synth_l2_pair(args.data / folder, comp, lst)
        else:
            write_composite(args.data / folder, comp, units="toa", overwrite=True)
            write_lst(args.data / folder, lst, method="planck", emissivity="sobrino",
                      overwrite=True)  # fmt: skip
        for tile, stride, sub in ((128, 64, "tiles128"), (256, 128, "tiles256")):
            r = export_tiles(comp, lst, args.work / sub, tile=tile, stride=stride,
                             max_nodata=args.max_nodata, scene=name, overwrite=True)  # fmt: skip
            counts[f"{name}_{tile}"] = {"total": r.total, "written": r.written,
                                        "skipped_nodata": r.skipped_nodata}  # fmt: skip
            log(f"{name} {tile}px: {r.written}/{r.total} tiles ({r.skipped_nodata} skipped)")
    res.put("tiles", {"counts": counts, "max_nodata": args.max_nodata,
                      "seconds": time.perf_counter() - t0})  # fmt: skip


def synth_l2_pair(folder: Path, comp_out: Path, lst_out: Path) -> None:
    """A training pair from a C2 L2 bundle without ST_TRAD (SR_B1-B7 + ST_B10 only).

    B1-B7: surface reflectance (DN * 2.75e-5 - 0.2). B10: the brightness temperature
    that the physics chain's single-channel equation maps onto the USGS ST_B10 with the
    chain's own (Sobrino) emissivity, BT = LST / (1 - (lambda LST / rho) ln eps); the
    target is the chain's LST of that BT (equal to ST_B10 to rounding). So the pair
    lies exactly on the physics mapping the model learns; only B10 is synthetic.
    """
    import rasterio

    from pix2lst.lst_physics.constants import LAMBDA_B10_UM, RHO_UM_K
    from pix2lst.lst_physics.equations import emissivity_sobrino, single_channel_lst

    def band(name: str) -> tuple[np.ndarray, dict[str, Any]]:
        path = next(folder.glob(f"*_{name}.TIF"))
        with rasterio.open(path) as src:
            dn = src.read(1).astype(np.float64)
            return np.where(dn == 0, np.nan, dn), dict(src.profile)

    sr = []
    for i in range(1, 8):
        dn, profile = band(f"SR_B{i}")
        sr.append(dn * 2.75e-5 - 0.2)
    st_dn, profile = band("ST_B10")
    st = st_dn * 0.00341802 + 149.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (sr[4] - sr[3]) / (sr[4] + sr[3])
    ln_eps = np.log(emissivity_sobrino(ndvi))
    bt = st / (1.0 - (LAMBDA_B10_UM / RHO_UM_K) * st * ln_eps)
    lst = single_channel_lst(bt, np.exp(ln_eps))
    stack = np.stack([*sr, bt]).astype(np.float32)
    bad = ~np.isfinite(stack).all(axis=0) | ~np.isfinite(lst)
    stack[:, bad] = np.nan
    lst = np.where(bad, np.nan, lst).astype(np.float32)
    profile.update(driver="GTiff", dtype="float32", nodata=float("nan"), count=8)
    with rasterio.open(comp_out, "w", **profile) as dst:
        dst.write(stack)
        for i, name in enumerate(ALL_BANDS, start=1):
            dst.set_band_description(i, name)
    profile.update(count=1)
    with rasterio.open(lst_out, "w", **profile) as dst:
        dst.write(lst, 1)


def widths(args: argparse.Namespace, res: Results) -> None:
    import onnxruntime as ort

    from pix2lst.export.onnx_export import _to_onnx_bytes

    rows = []
    for width in (8, 12, 16, 20, 24, 32):
        gen = UNetGenerator(GeneratorConfig(8, 1, 7, width)).eval()
        n = count_parameters(gen)
        row: dict[str, Any] = {"width": width, "depth": 7, "params": n, "mb_fp32": n * 4 / 1e6}
        if width <= 24:
            for tile in (128, 256):
                data = _to_onnx_bytes(gen, torch.zeros(1, 8, tile, tile))
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 2
                sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
                x = np.random.default_rng(0).standard_normal((4, 8, tile, tile)).astype(np.float32)
                sess.run(None, {"x": x[:1]})
                t0 = time.perf_counter()
                for _ in range(3):
                    sess.run(None, {"x": x})
                row[f"ms_per_tile_{tile}"] = (time.perf_counter() - t0) / 12 * 1e3
                row["onnx_mb"] = len(data) / 1e6
        rows.append(row)
        log(f"width {row}")
    res.put("widths", rows)


def train(args: argparse.Namespace, name: str, scenes: list[str], bands: tuple[str, ...],
          target: str) -> tuple[Pix2Pix, dict[str, Any]]:  # fmt: skip
    thermal = target == "lst_minus_bt" and args.thermal_shift[0] < args.thermal_shift[1]
    data = prepare_data(
        args.work / "tiles128", args.batch_size, scenes=scenes, bands=bands, split="blocks",
        val_fraction=0.2, target=target, input_norm="fixed",
        target_range=FIXED_TARGET_RANGES[target], seed=args.seed,
        thermal_shift=tuple(args.thermal_shift) if thermal else None,
        spectral_jitter=args.spectral_jitter and target == "lst_minus_bt",
    )  # fmt: skip
    ckpt = args.work / f"{name}_ckpt"
    if not args.resume and ckpt.is_dir():
        shutil.rmtree(ckpt)
    physics_in = target == "lst_minus_bt"  # NDVI stem and pixel head for the LST - BT models
    model = Pix2Pix(data, depth=7, width=args.width, head=args.head if physics_in else 0,
                    ndvi=args.ndvi and physics_in,
                    config=TrainConfig(disc_width=args.disc_width, seed=args.seed))  # fmt: skip
    lr_res = model.lr_find(steps=60, out=args.work / f"{name}_lr_find.png", overwrite=True)
    log(f"[{name}] {len(data.train_idx)} train / {len(data.valid_idx)} valid tiles; "
        f"lr_find suggests {lr_res.suggested:.2e}, training at {args.lr:.2e}")  # fmt: skip

    def cb(ev: TrainEvent) -> None:
        if ev.kind == "epoch" and ev.stats is not None:
            s = ev.stats
            log(f"[{name}] epoch {s.epoch} train {s.train_loss:.4f} valid {s.valid_loss:.4f} "
                f"l1 {s.l1_loss:.4f} D {s.D_loss:.4f} {s.time:.1f}s")  # fmt: skip

    # pix2pix's "linear" policy on the time budget: constant for the first half,
    # then linear decay towards 0 (the budget, not the epoch count, is fixed here)
    t0 = time.perf_counter()
    budget = args.max_minutes * 60
    for epoch in range(1, args.epochs + 1):
        frac = (time.perf_counter() - t0) / budget
        lr = args.lr * max(0.02, min(1.0, 2.0 * (1.0 - max(frac, epoch / args.epochs))))
        model.fit(epoch, lr, checkpoint_dir=ckpt, resume=True, callback=cb)
        if time.perf_counter() - t0 > budget:
            log(f"[{name}] time budget reached after {epoch} epochs")
            break
    seconds = time.perf_counter() - t0
    info = {
        "scenes": scenes, "bands": list(bands), "target": target,
        "target_range": FIXED_TARGET_RANGES[target],
        "thermal_shift": list(args.thermal_shift) if thermal else None,
        "spectral_jitter": data.spectral_jitter, "train_tiles": len(data.train_idx),
        "valid_tiles": len(data.valid_idx), "epochs": len(model.history),
        "train_seconds": seconds, "lr": args.lr, "lr_policy": "constant, then linear decay over the 2nd half", "lr_find_suggested": lr_res.suggested,
        "width": args.width, "depth": 7, "disc_width": args.disc_width,
        "head": model.gconfig.head, "ndvi_input": model.gconfig.ndvi is not None,
        "params": count_parameters(model.G), "history_table": format_history(model.history),
    }  # fmt: skip
    return model, info


def score_on_maui(args: argparse.Namespace, model_dir: Path, name: str) -> dict[str, Any]:
    scenes_dir = args.work / "scenes"
    out: dict[str, Any] = {}
    for tile in (128, 256):
        onnx_path = model_dir / f"model_{tile}.onnx"
        rep = export_model(model_dir, onnx_path, tile_size=tile, overwrite=True)
        ev = evaluate_scene(onnx_path, scenes_dir / f"{HELD_OUT}_composite.tif",
                            scenes_dir / f"{HELD_OUT}_lst.tif", padding=tile // 4)  # fmt: skip
        out[str(tile)] = {**ev.metrics.to_dict(), "padding": ev.padding, "blend": ev.blend,
                          "predict_seconds": ev.seconds, "parity_max_abs_diff_k": rep.max_abs_diff_k,
                          "onnx_bytes": rep.size_bytes}  # fmt: skip
        log(f"[{name}] {HELD_OUT} via ONNX tile {tile} pad {ev.padding}: {ev.metrics}")
    return out


def run(args: argparse.Namespace, res: Results, name: str, scenes: list[str],
        bands: tuple[str, ...], target: str) -> tuple[Pix2Pix, Path, dict[str, Any]]:  # fmt: skip
    model, info = train(args, name, scenes, bands, target)
    model_dir = args.work / f"model_{name}"
    model.save(model_dir, onnx=False, physics_method=PHYSICS, overwrite=True)
    info["valid_metrics"] = json.loads((model_dir / "model.json").read_text())["metrics"]
    # per scene: validation tiles of one scene on that scene's own [-1, 1] range (notebook-like)
    data = model.data
    per_scene = {}
    for scene in sorted({data.records[i].scene for i in data.valid_idx}):
        idx = [i for i in data.valid_idx if data.records[i].scene == scene]
        batches = [(model.predict_lst(data.x[idx[s : s + 8]]), data.lst[idx[s : s + 8]])
                   for s in range(0, len(idx), 8)]  # fmt: skip
        per_scene[scene] = {**evaluate_lst(batches).to_dict(), "tiles": len(idx)}
        log(f"[{name}] validation tiles of {scene}: {per_scene[scene]}")
    info["valid_metrics_per_scene"] = per_scene
    info[f"{HELD_OUT}_full_scene"] = score_on_maui(args, model_dir, name)
    res.put(name, info)
    return model, model_dir, info


def ship(args: argparse.Namespace, res: Results) -> None:
    extra = list(SYNTH_SCENES) if args.synthetic else []
    run(args, res, "ship", list(SCENES) + extra, ALL_BANDS, "lst_minus_bt")
    ship_export(args, res)


def ship_export(args: argparse.Namespace, res: Results) -> None:
    """Export the trained ship model into the package (tile 256 when the cross check allows)."""
    model_dir, info = args.work / "model_ship", res.data["ship"]
    tile = args.ship_tile
    if tile == 0:  # 256 when the cross-scene check at 256 holds up against 128
        cross = res.data.get("cross", {}).get(f"{HELD_OUT}_full_scene", {})
        ok = cross and cross["256"]["rmse_k"] <= max(0.5, 1.1 * cross["128"]["rmse_k"])
        tile = 256 if ok else 128
    dst = args.model_out
    dst.parent.mkdir(parents=True, exist_ok=True)
    rep = export_model(model_dir, dst, tile_size=tile, fp16=True, overwrite=True)
    fp16 = rep.fp16_path
    info["shipped"] = {**rep.to_dict(), "tile_size": tile}
    if fp16 is not None:  # keep the fp16 variant out of the package, next to the work files
        fp16.replace(args.work / fp16.name)
        info["shipped"]["fp16_path"] = str(args.work / fp16.name)
    res.put("ship", info)
    log(
        f"shipped {dst} ({rep.size_bytes / 1e6:.2f} MB, tile {tile}, parity {rep.max_abs_diff_k:.2e} K)"
    )


def _metric_row(label: str, m: dict[str, Any]) -> str:
    return (f"| {label} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['rmse_k']:.3f} | {m['mae_k']:.3f} "
            f"| {m['bias_k']:+.3f} |")  # fmt: skip


def maui_analysis(args: argparse.Namespace) -> dict[str, Any]:
    """Baselines on Maui, and the cross-scene model's error by surface type (NDVI classes)."""
    import rasterio

    from pix2lst.export.evaluate import read_composite

    sd = args.work / "scenes"
    x = read_composite(sd / f"{HELD_OUT}_composite.tif", ALL_BANDS)
    with rasterio.open(sd / f"{HELD_OUT}_lst.tif") as src:
        target = src.read(1, out_dtype="float32", masked=True).filled(np.nan)
    bt = x[7]
    out: dict[str, Any] = {"baseline_lst_eq_bt": evaluate_lst([(bt, target)]).to_dict()}
    # the constant correction a model could take from the training scenes' mean
    train_resid = []
    for s in SCENES:
        if s != HELD_OUT:
            xs = read_composite(sd / f"{s}_composite.tif", ("B10",))[0]
            with rasterio.open(sd / f"{s}_lst.tif") as src:
                train_resid.append((src.read(1) - xs)[np.isfinite(xs)])
    c = float(np.nanmean(np.concatenate(train_resid)))
    out["baseline_bt_plus_train_mean"] = {**evaluate_lst([(bt + c, target)]).to_dict(), "c_k": c}
    onnx_path = args.work / "model_cross" / "model_256.onnx"
    if onnx_path.is_file():
        ev = evaluate_scene(onnx_path, sd / f"{HELD_OUT}_composite.tif", sd / f"{HELD_OUT}_lst.tif",
                            padding=64)  # fmt: skip
        err = ev.prediction - target
        ndvi = (x[4] - x[3]) / (x[4] + x[3])
        classes = {"water (NDVI < 0)": ndvi < 0, "sparse/bare (0 <= NDVI < 0.5)": (ndvi >= 0) & (ndvi < 0.5),
                   "vegetated (NDVI >= 0.5)": ndvi >= 0.5}  # fmt: skip
        out["cross_error_by_class"] = {
            k: {"fraction": float(np.nanmean(m)), "bias_k": float(np.nanmean(err[m])),
                "rmse_k": float(np.sqrt(np.nanmean(err[m] ** 2)))}
            for k, m in classes.items() if m.any()
        }  # fmt: skip
    return out


def card(args: argparse.Namespace, res: Results) -> None:
    """Write the model's figures (JSON, beside the shipped model) and the card's tables
    (``WORK/model_card.md``; ``docs/model-card.md`` is the card users read)."""
    d = res.data
    shipped = d["ship"]["shipped"]
    tile = int(shipped["tile_size"])
    out_json = args.model_out.with_suffix(".json")
    keep = ("tiles", "widths", "cross", "optical", "ship", "maui_analysis")
    out_json.write_text(json.dumps({k: d[k] for k in keep if k in d}, indent=2, default=str))
    t = d["tiles"]["counts"]
    n128 = sum(v["written"] for k, v in t.items() if k.endswith("_128"))
    n256 = sum(v["written"] for k, v in t.items() if k.endswith("_256"))
    lines = [
        "# pix2lst default model card",
        "",
        f"`{args.model_out.name}`: a Pix2Pix U-Net generator (depth 7, width {d['ship']['width']}, "
        f"{d['ship']['params']:,} parameters, {shipped['size_bytes'] / 1e6:.2f} MB fp32 ONNX, "
        f"opset 17, dynamic batch, inference tile {tile} px) that predicts LST - BT "
        "(the correction to the B10 brightness temperature, fixed range -2..8 K) from the "
        "8-band `toa` composite (B1-B7 TOA/surface reflectance, B10 BT in K, fixed physical "
        "input normalisation: reflectance 0..1 and BT 240..340 K to -1..1).",
        *(
            [
                "",
                "Two physics-informed additions to the pix2pix U-Net (see "
                "`pix2lst.export.networks`): the generator derives NDVI from its B4/B5 inputs "
                "inside the graph as a ninth input channel (a ratio is what ReLU convolutions "
                "approximate worst, and the emissivity depends on NDVI alone), and a "
                f"full-resolution per-pixel head ({d['ship']['head']} channels, 1x1 convolutions "
                "over the last up-convolution's features, the inputs and NDVI) replaces the "
                "outermost tanh, because the pix2pix layout has no full-resolution skip and "
                "blurs the water/soil emissivity step at NDVI 0 over 2x2 pixels. The ONNX file "
                "still takes the plain 8 bands.",
            ]
            if d["ship"].get("head") or d["ship"].get("ndvi_input")
            else []
        ),
        "",
        f"Targets: physics LST ({PHYSICS}).",
        "",
        "## Data",
        "",
        "| scene | folder | 128 px tiles (stride 64) | 256 px tiles (stride 128) |",
        "|---|---|---|---|",
        *[
            f"| {s} | `{f}` | {t[s + '_128']['written']}/{t[s + '_128']['total']} | "
            f"{t[s + '_256']['written']}/{t[s + '_256']['total']} |"
            for s, f in {**SCENES, **SYNTH_SCENES}.items()
            if s + "_128" in t
        ],
        "",
        f"Tiles kept with at most {d['tiles']['max_nodata']:.0%} nodata. 128 px tiles give "
        f"{n128} pairs against {n256} at 256 px, hence training at 128 px with a depth-7 U-Net "
        "(128 / 2**7 = 1 px bottleneck). Validation: spatial blocks of 256 px, training tiles "
        "overlapping a validation tile dropped.",
        "",
        "## Width (depth 7, 8 bands in, CPU ONNX Runtime, 2 threads, batch 4, shared machine)",
        "",
        "| width | parameters | fp32 MB | ms/tile 128 px | ms/tile 256 px |",
        "|---|---|---|---|---|",
        *[
            f"| {w['width']} | {w['params']:,} | {w['mb_fp32']:.1f} | "
            f"{w.get('ms_per_tile_128', float('nan')):.1f} | {w.get('ms_per_tile_256', float('nan')):.1f} |"
            for w in d.get("widths", [])
        ],
        "",
        "Width 16 is the widest that fits the 15 MB cap in float32 (width 20 is 16.4 MB). "
        "The sweep is of the reference pix2pix layout; the NDVI channel and the pixel head add "
        f"{d['ship']['params'] - next((w['params'] for w in d.get('widths', []) if w['width'] == d['ship']['width']), d['ship']['params']):,} "
        "parameters.",
        "",
        "## Results (PSNR/SSIM on the arcgis.learn [-1, 1] scale of the scene's LST min-max; "
        "kelvin errors on valid pixels)",
        "",
        "| run | PSNR dB | SSIM | RMSE K | MAE K | bias K |",
        "|---|---|---|---|---|---|",
    ]
    for run_name, label in (("cross", "cross-scene (train {}), Maui"),
                            ("optical", "optical-only B1-B7 (no B10; train {}), Maui"),
                            ("ship", "shipped (train {}; Maui seen in training)")):  # fmt: skip
        r = d.get(run_name)
        if not r:
            continue
        label = label.format("+".join(r["scenes"]))
        for ts in ("128", "256"):
            m = r[f"{HELD_OUT}_full_scene"][ts]
            lines.append(_metric_row(f"{label}, tile {ts} pad {m['padding']}", m))
        lines.append(_metric_row(f"{label.split(',')[0]}, validation tiles", r["valid_metrics"]))
    an = maui_analysis(args)
    res.put("maui_analysis", an)
    lines.append(_metric_row("baseline LST = BT (no model), Maui", an["baseline_lst_eq_bt"]))
    b = an["baseline_bt_plus_train_mean"]
    lines.append(_metric_row(f"baseline BT + {b['c_k']:.2f} K (training mean correction), Maui", b))
    if "cross" in d:
        m = d["cross"][f"{HELD_OUT}_full_scene"]["256"]
        yes = lambda ok: "met" if ok else "NOT met"  # noqa: E731
        goals = (f"Goals on the held-out scene (cross-scene, tile 256): PSNR {m['psnr']:.2f} > 20.97 "
                 f"{yes(m['psnr'] > 20.97)}; SSIM {m['ssim']:.3f} > 0.945 {yes(m['ssim'] > 0.945)}; "
                 f"RMSE {m['rmse_k']:.3f} K < 0.5 K {yes(m['rmse_k'] < 0.5)}.")  # fmt: skip
        if d["cross"].get("spectral_jitter") and d["cross"].get("head"):
            goals += (" What it took (runs below): the reference pix2pix layout with the temperature "
                      "augmentation alone reached 0.511 K / SSIM 0.925, its errors on the surface types "
                      "the two training scenes lack (warm dark open water, hot bare soil); the spectral "
                      "augmentation alone made it worse (0.742 K), and so did the NDVI channel and pixel "
                      "head alone (0.990 K); the two together, with both augmentations, give the figures "
                      "above (single runs, seed 42).")  # fmt: skip
        else:
            goals += (
                " The errors sit on surface types the two training scenes lack (warm open "
                "water, hot bare soil), see below."
            )
        lines += ["", goals, ""]
    lines += ["", "Validation tiles per scene (each on its own LST range, as the notebook's "
              "single-scene validation):", "", "| run | scene | tiles | PSNR dB | SSIM | RMSE K |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for run_name in ("cross", "optical", "ship"):
        for scene, m in d.get(run_name, {}).get("valid_metrics_per_scene", {}).items():
            lines.append(f"| {run_name} | {scene} | {m['tiles']} | {m['psnr']:.2f} | {m['ssim']:.4f} "
                         f"| {m['rmse_k']:.3f} |")  # fmt: skip
    exps = d.get("experiments", {})
    if exps:
        lines += ["", "Other cross-scene runs on Maui (same recipe unless said; tile 256, pad 64):", "",
                  "| run | train scenes | epochs | PSNR dB | SSIM | RMSE K |", "|---|---|---|---|---|---|"]  # fmt: skip
        for k, e in exps.items():
            m = e[f"{HELD_OUT}_full_scene"]["256"]
            lines.append(f"| {k} | {'+'.join(e['scenes'])} | {e['epochs']} | {m['psnr']:.2f} | "
                         f"{m['ssim']:.4f} | {m['rmse_k']:.3f} |")  # fmt: skip
    if "cross_error_by_class" in an:
        lines += ["", "Cross-scene error on Maui by surface type (tile 256, pad 64):", "",
                  "| surface | share | bias K | RMSE K |", "|---|---|---|---|"]  # fmt: skip
        for k, v in an["cross_error_by_class"].items():
            lines.append(f"| {k} | {v['fraction']:.0%} | {v['bias_k']:+.3f} | {v['rmse_k']:.3f} |")
    lines += [
        "",
        "Reference: the arcgis.learn notebook reports PSNR 20.97 dB and SSIM 0.945.",
        "",
        "## Training (2 shared CPU cores)",
        "",
    ]
    for run_name in ("cross", "optical", "ship"):
        r = d.get(run_name)
        if r:
            lines.append(f"- {run_name}: scenes {r['scenes']}, bands {len(r['bands'])}, target "
                         f"{r['target']}, {r['train_tiles']} train / {r['valid_tiles']} valid tiles, "
                         f"{r['epochs']} epochs in {r['train_seconds'] / 60:.1f} min, lr {r['lr']:g} "
                         f"(lr_find suggested {r['lr_find_suggested']:.2g}), PatchGAN width "
                         f"{r['disc_width']}, temperature augmentation "
                         f"{str(r['thermal_shift']) + ' K' if r.get('thermal_shift') else 'off'}, "
                         "spectral augmentation "
                         f"{'on' if r.get('spectral_jitter') else 'off'}, NDVI channel "
                         f"{'on' if r.get('ndvi_input') else 'off'}, pixel head "
                         f"{r.get('head') or 'off'}.")  # fmt: skip
    lines += ["", f"ONNX parity (ORT vs torch, real tiles): max {shipped['max_abs_diff_k']:.2e} K; "
              f"fp16 variant (not shipped): {(shipped.get('fp16_size_bytes') or 0) / 1e6:.2f} MB, "
              f"max |fp16 - fp32| {shipped.get('fp16_max_abs_diff_k') or float('nan'):.3f} K.", "",
              "Reproduce: `.venv/bin/python scripts/train_default.py` (see its --help).", ""]  # fmt: skip
    (args.work / "model_card.md").write_text("\n".join(lines))
    log(f"model card tables {args.work / 'model_card.md'} (docs/model-card.md takes them)")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--work", type=Path, default=Path("/tmp/pix2lst_default"))
    p.add_argument("--stages", default="prepare,widths,cross,optical,ship,card")
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--max-minutes", type=float, default=12.0)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--disc-width", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-nodata", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--thermal-shift", nargs=2, type=float, default=[-30.0, 50.0],
                   help="BT shift range (K) of the temperature augmentation; '0 0' turns it off")  # fmt: skip
    p.add_argument("--head", type=int, default=16,
                   help="channels of the generator's full-resolution pixel head (0: pix2pix layout)")  # fmt: skip
    p.add_argument("--ndvi", action=argparse.BooleanOptionalAction, default=True,
                   help="derive NDVI inside the generator as an extra input channel")  # fmt: skip
    p.add_argument("--spectral-jitter", action=argparse.BooleanOptionalAction, default=True,
                   help="reflectance-gain augmentation with targets recomputed from the new NDVI")  # fmt: skip
    p.add_argument("--synthetic", action="store_true",
                   help="also train on SYNTH_SCENES (L2 bundles with B10 rebuilt from ST_B10)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue interrupted training runs")
    p.add_argument(
        "--ship-tile", type=int, default=0, help="0: choose 256 or 128 from the cross run"
    )
    p.add_argument("--model-out", type=Path,
                   default=REPO / "pix2lst" / "data" / "models" / "pix2lst_default.onnx")  # fmt: skip
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    res = Results(args.work / "results.json")
    res.put("config", {k: str(v) for k, v in vars(args).items()})
    stages = args.stages.split(",")
    if "prepare" in stages:
        prepare(args, res)
    if "widths" in stages:
        widths(args, res)
    extra = list(SYNTH_SCENES) if args.synthetic else []
    train_scenes = [s for s in SCENES if s != HELD_OUT] + extra
    if "cross" in stages:
        run(args, res, "cross", train_scenes, ALL_BANDS, "lst_minus_bt")
    if "optical" in stages:
        run(args, res, "optical", train_scenes, OPTICAL, "lst")
    if "ship" in stages:
        ship(args, res)
    elif "ship_export" in stages:
        ship_export(args, res)
    if "card" in stages or "ship" in stages:
        card(args, res)
    log(f"results in {res.path}")


if __name__ == "__main__":
    main()
