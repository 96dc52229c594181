"""Pix2Pix training: fit with checkpoints and resume, the lr finder, metrics, figures.

Losses (Isola et al. 2017): the discriminator minimises
``0.5 * (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0))``; the generator minimises
``BCE(D(x, G(x)), 1) + l1_weight * L1(G(x), y)`` with ``l1_weight = 100``; Adam
with lr 2e-4 and betas (0.5, 0.999) for both. The L1 term counts valid pixels only.

The per-epoch table has the notebook's columns: ``train_loss`` (mean generator
loss, adversarial + 100 x L1, over training batches), ``valid_loss`` (the same on
the validation batches, eval mode), ``gen_loss`` (adversarial part), ``l1_loss``
(100 x L1 part), ``D_loss`` and ``time``.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pix2lst.errors import DatasetError, ModelError
from pix2lst.export.dataset import TileData
from pix2lst.export.figures import lr_figure, results_figure, save_figure
from pix2lst.export.metrics import Metrics, evaluate_lst
from pix2lst.export.model_io import (
    check_model_folder,
    model_definition,
    save_model,
    write_definition,
)
from pix2lst.export.networks import (
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
    init_weights,
)
from pix2lst.export.onnx_export import export_model
from pix2lst.geo.atomic import atomic_output

__all__ = ["EpochStats", "LRFindResult", "Pix2Pix", "TrainConfig", "TrainEvent", "format_history"]

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "train_loss", "valid_loss", "gen_loss", "l1_loss", "D_loss", "time")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper's defaults)."""

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    l1_weight: float = 100.0
    disc_width: int = 64
    seed: int = 42
    device: str | None = None  # None: CUDA when available, else CPU


@dataclass(frozen=True)
class EpochStats:
    """One row of the training table."""

    epoch: int
    train_loss: float
    valid_loss: float
    gen_loss: float
    l1_loss: float
    D_loss: float  # the notebook's column name
    time: float


@dataclass(frozen=True)
class TrainEvent:
    """Progress report passed to a ``callback``: a finished batch or epoch."""

    kind: str  # "batch" or "epoch"
    epoch: int
    step: int
    total_steps: int
    stats: EpochStats | None = None


@dataclass(frozen=True)
class LRFindResult:
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    suggested: float


def format_history(history: list[EpochStats]) -> str:
    """The per-epoch table as the notebook prints it."""
    lines = ["epoch  train_loss  valid_loss  gen_loss  l1_loss  D_loss  time"]
    for h in history:
        m, s = divmod(round(h.time), 60)
        lines.append(
            f"{h.epoch:<5d}  {h.train_loss:<10.6f}  {h.valid_loss:<10.6f}  {h.gen_loss:<8.6f}  "
            f"{h.l1_loss:<7.6f}  {h.D_loss:<6.6f}  {m:02d}:{s:02d}"
        )
    return "\n".join(lines)


def _ndvi_spec(data: TileData) -> tuple[float, ...]:
    """Where the generator finds red and NIR, and how to undo their input normalisation."""
    n = data.norm
    if not {"B4", "B5"} <= set(n.bands):
        raise ModelError(f"ndvi=True needs bands B4 and B5 among the inputs, not {list(n.bands)}")
    r, i = n.bands.index("B4"), n.bands.index("B5")
    return (r, i, n.input_scale[r], n.input_offset[r], n.input_scale[i], n.input_offset[i])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global seed for third-party code
    torch.manual_seed(seed)


class Pix2Pix:
    """A Pix2Pix model bound to a prepared dataset (the arcgis.learn ``Pix2Pix`` role)."""

    def __init__(
        self,
        data: TileData,
        *,
        depth: int | None = None,
        width: int = 64,
        head: int = 0,
        ndvi: bool = False,
        config: TrainConfig | None = None,
    ) -> None:
        self.data = data
        self.config = config or TrainConfig()
        seed_everything(self.config.seed)
        tile = data.tile_size
        if depth is None:
            depth = round(math.log2(tile))
        if tile % (2**depth):
            raise ModelError(f"tile size {tile} is not a multiple of 2**depth = {2**depth}")
        self.gconfig = GeneratorConfig(
            len(data.bands), 1, depth, width, head=head, ndvi=_ndvi_spec(data) if ndvi else None
        )
        dev = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(dev)
        self.G = UNetGenerator(self.gconfig).to(self.device)
        self.D = PatchDiscriminator(len(data.bands) + 1, self.config.disc_width).to(self.device)
        init_weights(self.G)
        init_weights(self.D)
        self.opt_g = self._adam(self.G, self.config.lr)
        self.opt_d = self._adam(self.D, self.config.lr)
        self.bce = nn.BCEWithLogitsLoss()
        self.history: list[EpochStats] = []
        self.lr_result: LRFindResult | None = None

    def _adam(self, net: nn.Module, lr: float) -> torch.optim.Adam:
        return torch.optim.Adam(
            net.parameters(), lr=lr, betas=(self.config.beta1, self.config.beta2)
        )

    # -- one step --------------------------------------------------------------
    def _step(
        self, x: torch.Tensor, y: torch.Tensor, m: torch.Tensor, train: bool
    ) -> tuple[float, float, float]:
        """One optimisation (or evaluation) step: (gen adversarial, weighted L1, D loss)."""
        x, y, m = x.to(self.device), y.to(self.device), m.to(self.device)
        fake = self.G(x)
        real_ab = torch.cat([x, y], 1)
        fake_ab = torch.cat([x, fake], 1)
        if train:
            self.opt_d.zero_grad(set_to_none=True)
        pred_real, pred_fake = self.D(real_ab), self.D(fake_ab.detach())
        d_loss = 0.5 * (
            self.bce(pred_real, torch.ones_like(pred_real))
            + self.bce(pred_fake, torch.zeros_like(pred_fake))
        )
        if train:
            d_loss.backward()
            self.opt_d.step()
            self.opt_g.zero_grad(set_to_none=True)
        pred = self.D(fake_ab)
        g_adv = self.bce(pred, torch.ones_like(pred))
        mf = m.float()
        l1 = (torch.abs(fake - y) * mf).sum() / mf.sum().clamp(min=1.0)
        g_l1 = self.config.l1_weight * l1
        if train:
            (g_adv + g_l1).backward()
            self.opt_g.step()
        return g_adv.item(), g_l1.item(), d_loss.item()

    # -- training ----------------------------------------------------------------
    def fit(
        self,
        epochs: int,
        lr: float | None = None,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        callback: Callable[[TrainEvent], None] | None = None,
    ) -> list[EpochStats]:
        """Train up to ``epochs`` epochs in total; return the history.

        With ``checkpoint_dir`` a checkpoint (both networks, optimisers, history)
        is written after every epoch; ``resume=True`` continues from it.
        """
        if epochs < 1:
            raise DatasetError(f"epochs must be >= 1, not {epochs}")
        ckpt = Path(checkpoint_dir) / "checkpoint.pt" if checkpoint_dir is not None else None
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            if resume and ckpt.is_file():
                self.load_checkpoint(ckpt)
                log.info("resumed from %s after epoch %d", ckpt, len(self.history))
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr if lr is not None else self.config.lr
        valid_dl = self.data.valid_dl()
        for epoch in range(len(self.history), epochs):
            torch.manual_seed(self.config.seed + epoch)
            train_dl = self.data.train_dl(epoch)  # epoch-seeded: resume gives the same batches
            t0 = time.perf_counter()
            self.G.train()
            self.D.train()
            sums = np.zeros(3)
            for step, (x, y, m) in enumerate(train_dl, start=1):
                sums += self._step(x, y, m, train=True)
                if callback is not None:
                    callback(TrainEvent("batch", epoch, step, len(train_dl)))
            sums /= max(len(train_dl), 1)
            valid = self._validate(valid_dl)
            stats = EpochStats(epoch, float(sums[0] + sums[1]), valid, float(sums[0]),
                               float(sums[1]), float(sums[2]), time.perf_counter() - t0)  # fmt: skip
            self.history.append(stats)
            if ckpt is not None:
                self.save_checkpoint(ckpt)
            if callback is not None:
                callback(TrainEvent("epoch", epoch, len(train_dl), len(train_dl), stats))
        return self.history

    @torch.no_grad()
    def _validate(self, dl: torch.utils.data.DataLoader) -> float:  # type: ignore[type-arg]
        self.G.eval()
        self.D.eval()
        losses = [sum(self._step(x, y, m, train=False)[:2]) for x, y, m in dl]
        return float(np.mean(losses)) if losses else math.nan

    def save_checkpoint(self, path: Path) -> None:
        state = {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "history": [asdict(h) for h in self.history], "generator": self.gconfig.to_dict(),
        }  # fmt: skip
        with atomic_output(path, overwrite=True) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("generator") != self.gconfig.to_dict():
            raise ModelError(
                f"checkpoint {path} is for generator {state.get('generator')}, not "
                f"{self.gconfig.to_dict()}; use another checkpoint folder or resume=False"
            )
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.history = [EpochStats(**h) for h in state["history"]]

    # -- learning-rate finder ------------------------------------------------------
    def lr_find(
        self,
        start: float = 1e-7,
        end: float = 1.0,
        steps: int = 100,
        out: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
    ) -> LRFindResult:
        """Exponential lr sweep on training batches; weights are restored afterwards.

        The loss is the generator loss, smoothed (EMA 0.98, bias-corrected); the
        sweep stops when it exceeds 4x its minimum. The suggestion is the rate of
        steepest descent of the smoothed loss before its minimum.
        """
        saved = [copy.deepcopy(o.state_dict()) for o in (self.G, self.D, self.opt_g, self.opt_d)]
        lrs, losses = [], []
        avg, best = 0.0, math.inf
        self.G.train()
        self.D.train()
        dl = self.data.train_dl()
        it = iter(dl)
        for i in range(steps):
            lr = start * (end / start) ** (i / max(steps - 1, 1))
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            try:
                x, y, m = next(it)
            except StopIteration:
                it = iter(dl)
                x, y, m = next(it)
            g_adv, g_l1, _ = self._step(x, y, m, train=True)
            avg = 0.98 * avg + 0.02 * (g_adv + g_l1)
            smooth = avg / (1 - 0.98 ** (i + 1))
            if not math.isfinite(smooth) or (i > 5 and smooth > 4 * best):
                break
            best = min(best, smooth)
            lrs.append(lr)
            losses.append(smooth)
        self.G.load_state_dict(saved[0])
        self.D.load_state_dict(saved[1])
        self.opt_g.load_state_dict(saved[2])
        self.opt_d.load_state_dict(saved[3])
        if len(lrs) < 3:
            raise DatasetError("the lr sweep diverged at once; lower `start`")
        upto = int(np.argmin(losses)) + 1
        grads = np.gradient(np.asarray(losses[:upto]), np.log(lrs[:upto])) if upto > 2 else None
        suggested = lrs[int(np.argmin(grads))] if grads is not None else lrs[upto - 1] / 10
        self.lr_result = LRFindResult(tuple(lrs), tuple(losses), float(suggested))
        if out is not None:
            save_figure(lr_figure(lrs, losses, suggested), out, overwrite=overwrite)
        return self.lr_result

    # -- inference, metrics, figures --------------------------------------------------
    @torch.no_grad()
    def predict_lst(self, x: np.ndarray) -> np.ndarray:
        """Raw composite tiles (N, C, T, T) -> LST in K (N, T, T); NaN where inputs are NaN."""
        self.G.eval()
        norm = self.data.norm
        xn = np.nan_to_num(norm.normalise_input(x), nan=0.0)
        out = []
        for s in range(0, len(xn), self.data.batch_size):
            t = torch.from_numpy(xn[s : s + self.data.batch_size]).to(self.device)
            out.append(self.G(t)[:, 0].cpu().numpy())
        lst = norm.lst_from_output(np.concatenate(out), x)
        lst[~np.isfinite(x).all(axis=1)] = np.nan
        return lst

    def compute_metrics(self) -> Metrics:
        """PSNR/SSIM on the arcgis [-1, 1] scale and RMSE/MAE/bias in K, validation split."""
        batches = [(self.predict_lst(x), lst) for x, lst in self.data.valid_batches()]
        return evaluate_lst(batches)

    def show_results(
        self, out: str | os.PathLike[str], rows: int = 4, *, overwrite: bool = False
    ) -> Path:
        """PNG grid of input, target, prediction and error for validation tiles."""
        idx = self.data.valid_idx[:: max(1, len(self.data.valid_idx) // rows)][:rows]
        x = self.data.x[idx]
        fig = results_figure(x, self.data.lst[idx], self.predict_lst(x), self.data.bands)
        return save_figure(fig, out, overwrite=overwrite)

    def save(
        self,
        folder: str | os.PathLike[str],
        *,
        metrics: Metrics | None = None,
        onnx: bool = True,
        onnx_tile_size: int | None = None,
        physics_method: str = "",
        overwrite: bool = False,
    ) -> Path:
        """Write the model folder: weights, model.json, figures and (``onnx``) model.onnx.

        The one place that orchestrates saving, in one direction: ``metrics``
        (computed here when not given, so a caller that already has them passes
        them and they are computed once), then the folder
        (:func:`~pix2lst.export.model_io.save_model`), the figures, and the
        parity-checked ONNX export, whose report is added to model.json.
        """
        check_model_folder(folder, overwrite=overwrite)  # before any work
        if metrics is None:
            metrics = self.compute_metrics()
        definition = model_definition(
            self.data, self.G, self.gconfig, metrics=metrics.to_dict(),
            train_config=asdict(self.config), history=[asdict(h) for h in self.history],
            physics_method=physics_method,
        )  # fmt: skip
        xn, _ = self.data.normalised(self.data.valid_idx[:4])
        out = save_model(folder, self.G, definition, xn, overwrite=overwrite)
        self.show_results(out / "show_results.png", overwrite=True)
        self.data.show_batch(out / "show_batch.png", overwrite=True)
        if self.lr_result is not None:
            r = self.lr_result
            save_figure(
                lr_figure(r.lrs, r.losses, r.suggested), out / "lr_find.png", overwrite=True
            )
        if onnx:
            report = export_model(out, out / "model.onnx", tile_size=onnx_tile_size, overwrite=True)
            write_definition(out, {**definition, "onnx": report.to_dict()})
        return out
