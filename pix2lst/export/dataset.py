"""The training dataset: exported tiles, a leak-free validation split, normalisation.

:func:`prepare_data` reads a tile folder written by :func:`~pix2lst.export.tiles.export_tiles`
into memory (the scenes are small), splits it, computes statistics on the
training split only, and serves batches of ``(x_norm, y_norm, valid)`` with
flips and 90-degree rotations for training. NaN pixels are filled with 0 after
normalisation and excluded from the L1 loss and the metrics through ``valid``.

Validation split (``split``):

* ``"scene"``: whole scenes are held out (needs two or more scenes);
* ``"blocks"``: each scene's tiles are grouped into spatial blocks of
  ``block`` pixels; random blocks go to validation, and training tiles that
  overlap any validation tile are dropped, so no pixel is on both sides;
* ``"auto"``: ``"scene"`` with three or more scenes, ``"blocks"`` otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from torch.utils.data import DataLoader, Dataset

from pix2lst.errors import DatasetError
from pix2lst.export.augment import SpectralJitter, ThermalShift, check_sobrino_targets
from pix2lst.export.grid import windows_overlap
from pix2lst.export.norm import BandStats, Normalisation, band_stats
from pix2lst.export.tiles import TileRecord, read_manifest

__all__ = ["TileData", "TileDataset", "load_tiles", "prepare_data", "split_tiles"]

log = logging.getLogger(__name__)


def load_tiles(
    path: str | os.PathLike[str],
    bands: Sequence[str] | None = None,
    scenes: Sequence[str] | None = None,
) -> tuple[list[TileRecord], tuple[str, ...], np.ndarray, np.ndarray]:
    """Read the tiles of a dataset (optionally only ``scenes``, only ``bands``).

    Returns (records, bands, x (N, C, T, T), lst (N, T, T)), float32.
    """
    root = Path(path)
    records = read_manifest(root)
    if scenes is not None:
        unknown = sorted(set(scenes) - {r.scene for r in records})
        if unknown:
            raise DatasetError(f"scenes {unknown} are not in {root} (see its manifest.csv)")
        records = [r for r in records if r.scene in scenes]
    if not records:
        raise DatasetError(f"{root} holds no tiles; export some with `pix2lst tiles`")
    sizes = {r.size for r in records}
    if len(sizes) != 1:
        raise DatasetError(f"{root} mixes tile sizes {sorted(sizes)}; use one size per dataset")
    xs, ys = [], []
    all_bands: tuple[str, ...] | None = None
    for rec in records:
        try:
            with rasterio.open(root / "images" / rec.name) as src:
                names = tuple(d or f"band{i + 1}" for i, d in enumerate(src.descriptions))
                xs.append(src.read(out_dtype="float32"))
            with rasterio.open(root / "images2" / rec.name) as src:
                ys.append(src.read(1, out_dtype="float32"))
        except rasterio.errors.RasterioIOError as exc:
            raise DatasetError(
                f"tile {rec.name} listed in the manifest cannot be read: {exc}"
            ) from exc
        if all_bands is None:
            all_bands = names
        elif names != all_bands:
            raise DatasetError(f"tile {rec.name} has bands {names}, others {all_bands}")
    if all_bands is None:
        raise DatasetError(f"{root} holds no tiles")
    x = np.stack(xs)
    if bands is not None:
        missing = [b for b in bands if b not in all_bands]
        if missing:
            raise DatasetError(
                f"bands {missing} are not in the tiles (they hold {list(all_bands)})"
            )
        x = x[:, [all_bands.index(b) for b in bands]]
        all_bands = tuple(bands)
    return records, all_bands, x, np.stack(ys)


def split_tiles(
    records: Sequence[TileRecord],
    *,
    val_fraction: float = 0.2,
    split: str = "auto",
    block: int | None = None,
    valid_scenes: Sequence[str] | None = None,
    seed: int = 42,
) -> tuple[list[int], list[int]]:
    """Indices (train, valid) with no pixel shared between the two sides."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction must be in (0, 1), not {val_fraction}")
    scenes = sorted({r.scene for r in records})
    rng = np.random.default_rng(seed)
    if split == "auto":
        split = "scene" if (len(scenes) >= 3 or valid_scenes) else "blocks"
    if split == "scene":
        if len(scenes) < 2:
            raise DatasetError("a split by scene needs tiles of at least two scenes")
        if valid_scenes is None:
            order = list(rng.permutation(scenes))
            chosen: list[str] = []
            while order and len(order) > 1:
                chosen.append(str(order.pop()))
                if sum(r.scene in chosen for r in records) >= val_fraction * len(records):
                    break
            valid_scenes = chosen
        unknown = set(valid_scenes) - set(scenes)
        if unknown:
            raise DatasetError(
                f"validation scenes {sorted(unknown)} are not in the dataset {scenes}"
            )
        valid = [i for i, r in enumerate(records) if r.scene in valid_scenes]
        train = [i for i, r in enumerate(records) if r.scene not in valid_scenes]
    elif split == "blocks":
        size = block or 2 * records[0].size
        keys = sorted({(r.scene, r.row_off // size, r.col_off // size) for r in records})
        valid_set: set[int] = set()
        for k in rng.permutation(len(keys)):
            if len(valid_set) >= val_fraction * len(records):
                break
            s, br, bc = keys[k]
            valid_set |= {
                i for i, r in enumerate(records)
                if (r.scene, r.row_off // size, r.col_off // size) == (s, br, bc)
            }  # fmt: skip
        valid = sorted(valid_set)
        train = [
            i for i, r in enumerate(records)
            if i not in valid_set and not any(
                records[j].scene == r.scene and windows_overlap(records[j].window, r.window)
                for j in valid
            )
        ]  # fmt: skip
    else:
        raise DatasetError(f"split must be 'auto', 'scene' or 'blocks', not {split!r}")
    if not train or not valid:
        raise DatasetError(
            f"the split left {len(train)} training and {len(valid)} validation tiles; "
            "export more tiles (smaller --stride or --tile) or change val_fraction"
        )
    return train, valid


class TileDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """Normalised (x, y, valid) triples; optional random flips and 90-degree rotations."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        augment: bool,
        seed: int = 0,
        physics: Sequence[ThermalShift | SpectralJitter] = (),
    ) -> None:
        self.valid = np.isfinite(x).all(axis=1) & np.isfinite(y)
        self.x = np.nan_to_num(x, nan=0.0)
        self.y = np.nan_to_num(y, nan=0.0)
        self.augment = augment
        self.physics = tuple(physics)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, m = self.x[i], self.y[i][None], self.valid[i][None]
        if self.augment:
            for aug in self.physics:
                x, y = aug(x, y, m, self.rng)
            k = int(self.rng.integers(4))
            flip = bool(self.rng.integers(2))
            x, y, m = (np.rot90(a, k, axes=(1, 2)) for a in (x, y, m))
            if flip:
                x, y, m = (a[:, :, ::-1] for a in (x, y, m))
        return (
            torch.from_numpy(np.ascontiguousarray(x)),
            torch.from_numpy(np.ascontiguousarray(y)),
            torch.from_numpy(np.ascontiguousarray(m)),
        )


@dataclass
class TileData:
    """A prepared dataset: raw tiles, the split, the normalisation, and the loaders."""

    path: Path
    records: list[TileRecord]
    bands: tuple[str, ...]
    x: np.ndarray
    lst: np.ndarray
    train_idx: list[int]
    valid_idx: list[int]
    norm: Normalisation
    input_stats: BandStats
    lst_stats: BandStats
    batch_size: int
    seed: int
    thermal_shift: tuple[float, float] | None = None
    spectral_jitter: bool = False

    def thermal(self) -> ThermalShift | None:
        """The temperature augmentation of the training batches (LST - BT targets only)."""
        if self.thermal_shift is None:
            return None
        n = self.norm
        if n.target != "lst_minus_bt" or n.residual_band is None:
            raise DatasetError(
                "thermal_shift needs target 'lst_minus_bt' with B10 among the inputs"
            )
        b = n.bands.index(n.residual_band)
        return ThermalShift(b, n.input_scale[b], n.input_offset[b], n.output_scale,
                            n.output_offset, *self.thermal_shift)  # fmt: skip

    def spectral(self) -> SpectralJitter | None:
        """The reflectance-gain augmentation (LST - BT targets of the Sobrino chain only)."""
        if not self.spectral_jitter:
            return None
        n = self.norm
        need = ("B4", "B5")
        if n.target != "lst_minus_bt" or n.residual_band != "B10" or not set(need) <= set(n.bands):
            raise DatasetError(
                "spectral_jitter needs target 'lst_minus_bt' on B10 with B4 and B5 among the "
                f"inputs (bands {list(n.bands)}, target {n.target!r})"
            )
        refl = tuple(i for i, b in enumerate(n.bands) if b not in ("B10", "B11"))
        return SpectralJitter(refl, n.bands.index("B4"), n.bands.index("B5"),
                              n.bands.index("B10"), tuple(n.input_scale), tuple(n.input_offset),
                              n.output_scale, n.output_offset)  # fmt: skip

    def physics_augmentations(self) -> list[ThermalShift | SpectralJitter]:
        """The physics-consistent augmentations of the training batches, in the order applied."""
        return [a for a in (self.spectral(), self.thermal()) if a is not None]

    @property
    def tile_size(self) -> int:
        return int(self.x.shape[-1])

    @property
    def scenes(self) -> list[str]:
        return sorted({self.records[i].scene for i in self.train_idx})

    def normalised(self, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        x = self.x[list(idx)]
        return self.norm.normalise_input(x), self.norm.target_from_lst(self.lst[list(idx)], x)

    def train_dl(
        self, epoch: int = 0
    ) -> DataLoader[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Shuffled, augmented training batches; order and augmentation depend on (seed, epoch)."""
        x, y = self.normalised(self.train_idx)
        seed = self.seed * 100_003 + epoch
        gen = torch.Generator().manual_seed(seed)
        ds = TileDataset(x, y, augment=True, seed=seed, physics=self.physics_augmentations())
        return DataLoader(ds, batch_size=self.batch_size, shuffle=True, generator=gen,
                          drop_last=len(ds) > self.batch_size)  # fmt: skip

    def valid_dl(self) -> DataLoader[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        x, y = self.normalised(self.valid_idx)
        return DataLoader(TileDataset(x, y, augment=False), batch_size=self.batch_size)

    def valid_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Raw (x, lst) validation batches in kelvin/reflectance, for metrics."""
        for s in range(0, len(self.valid_idx), self.batch_size):
            idx = self.valid_idx[s : s + self.batch_size]
            yield self.x[idx], self.lst[idx]

    def show_batch(
        self, out: str | os.PathLike[str], *, rows: int = 4, overwrite: bool = False
    ) -> Path:
        """PNG grid: true colour (B4, B3, B2) next to the LST tile (deg C colour bar)."""
        from pix2lst.export.figures import batch_figure, save_figure

        idx = self.train_idx[:: max(1, len(self.train_idx) // rows)][:rows]
        fig = batch_figure(self.x[idx], self.lst[idx], self.bands,
                           [self.records[i].name for i in idx])  # fmt: skip
        return save_figure(fig, out, overwrite=overwrite)


def prepare_data(
    path: str | os.PathLike[str],
    batch_size: int = 8,
    *,
    val_fraction: float = 0.2,
    split: str = "auto",
    block: int | None = None,
    valid_scenes: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    scenes: Sequence[str] | None = None,
    target: str = "lst",
    input_norm: str = "minmax",
    target_range: tuple[float, float] | None = None,
    residual_band: str = "B10",
    thermal_shift: tuple[float, float] | None = None,
    spectral_jitter: bool = False,
    seed: int = 42,
) -> TileData:
    """Load a tile folder, split it, and fix the normalisation from the training split.

    ``target`` is ``"lst"`` or ``"lst_minus_bt"``; ``input_norm`` ``"minmax"``
    (training-split min/max, as arcgis.learn) or ``"fixed"`` (physical ranges);
    ``target_range`` (K) maps to -1..1, or None for the training split's min/max;
    ``bands`` and ``scenes`` select a subset of the tiles' bands and scenes;
    ``thermal_shift=(low, high)`` K turns on the physics-consistent temperature
    augmentation of :mod:`pix2lst.export.augment` (LST - BT targets);
    ``spectral_jitter=True`` its reflectance-gain augmentation, after checking that
    the targets are the Sobrino chain's LST of the tiles' own B4/B5/B10.
    """
    if batch_size < 1:
        raise DatasetError(f"batch_size must be >= 1, not {batch_size}")
    records, names, x, lst = load_tiles(path, bands, scenes)
    train, valid = split_tiles(records, val_fraction=val_fraction, split=split, block=block,
                               valid_scenes=valid_scenes, seed=seed)  # fmt: skip
    stats = band_stats(x[train])
    lst_stats = band_stats(lst[train][:, None])
    tstats = lst_stats
    if target == "lst_minus_bt":
        if residual_band not in names:
            raise DatasetError(
                f"target lst_minus_bt needs band {residual_band} among {list(names)}"
            )
        resid = lst[train] - x[train][:, names.index(residual_band)]
        tstats = band_stats(resid[:, None])
    norm = Normalisation.build(names, input_norm=input_norm, stats=stats, target=target,
                               target_range=target_range, target_stats=tstats,
                               residual_band=residual_band)  # fmt: skip
    log.info("%d training and %d validation tiles", len(train), len(valid))
    data = TileData(Path(path), records, names, x, lst, train, valid, norm, stats,
                    lst_stats, batch_size, seed, thermal_shift, spectral_jitter)  # fmt: skip
    data.physics_augmentations()  # validate now
    if spectral_jitter:
        xt = x[train]
        worst = check_sobrino_targets(xt[:, names.index("B4")], xt[:, names.index("B5")],
                                      xt[:, names.index("B10")], lst[train])  # fmt: skip
        log.info("targets match the Sobrino chain to %.2g K: spectral jitter on", worst)
    return data
