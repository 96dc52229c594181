"""Image metrics as arcgis.learn reports them, plus errors in kelvin.

arcgis.learn's ``Pix2Pix.compute_metrics()`` runs the generator over the
validation batches and averages, per batch, on the [-1, 1] normalised scale:

* ``PSNR = 10 * log10(1 / MSE)``: the peak is taken as 1, not as the data range
  (2) of [-1, 1] data, so it reads 6.02 dB lower than a "data range 2" PSNR;
* SSIM with a Gaussian window (11 px, sigma 1.5) and constants
  ``C1 = 0.01**2``, ``C2 = 0.03**2`` (i.e. data range 1).

Here the same quantities are computed with scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0)``, per image, averaged over the
valid pixels of the SSIM map (scikit-image drops a 5 px border where the window
does not fit; the pytorch SSIM used by arcgis.learn zero-pads instead, a
difference of the order of 1e-3 on 128-256 px tiles).

The [-1, 1] scale: LST in kelvin is mapped with ``(T - lo) / (hi - lo) * 2 - 1``,
where ``(lo, hi)`` is the min/max of the target LST over the evaluated pixels
(what the notebook's min-max normalisation of its own scene does), whatever the
model's internal target representation is. So a model predicting LST - BT is
scored on the same LST scale as one predicting LST.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from skimage.metrics import structural_similarity

from pix2lst.errors import DatasetError

__all__ = ["Metrics", "evaluate_lst", "psnr_arcgis", "ssim_arcgis", "to_unit_scale"]


def to_unit_scale(lst: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Kelvin -> the [-1, 1] scale of a min-max normalisation over ``(lo, hi)``."""
    return ((lst - lo) / (hi - lo) * 2.0 - 1.0).astype(np.float64)


def psnr_arcgis(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> float:
    """``10 log10(1 / MSE)`` over valid pixels, on [-1, 1] data (peak 1, as arcgis.learn)."""
    mask = np.ones(pred.shape, bool) if valid is None else valid
    mse = float(np.mean((pred[mask] - target[mask]) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim_arcgis(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> float:
    """SSIM of one 2-D image pair on [-1, 1] data, Gaussian 11 px window, data range 1."""
    if pred.ndim != 2 or pred.shape != target.shape:
        raise DatasetError(
            f"SSIM needs two 2-D images of one shape, got {pred.shape}, {target.shape}"
        )
    mask = np.ones(pred.shape, bool) if valid is None else valid
    fill = float(np.mean(target[mask])) if mask.any() else 0.0
    p = np.where(mask, pred, fill)
    t = np.where(mask, target, fill)
    _, smap = structural_similarity(
        p, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, full=True,
    )  # fmt: skip
    pad = 5  # (11 - 1) / 2: scikit-image's border where the window does not fit
    inner = np.zeros_like(mask)
    inner[pad:-pad, pad:-pad] = True
    sel = mask & inner
    return float(np.mean(smap[sel])) if sel.any() else float(np.mean(smap))


@dataclass(frozen=True)
class Metrics:
    """PSNR/SSIM (arcgis scale) and kelvin errors of predicted against target LST."""

    psnr: float
    ssim: float
    rmse_k: float
    mae_k: float
    bias_k: float
    n_pixels: int
    lst_min_k: float
    lst_max_k: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def evaluate_lst(
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    lst_range: tuple[float, float] | None = None,
) -> Metrics:
    """Score ``(pred_k, target_k)`` batches of shape (N, H, W) or (H, W); NaN = nodata.

    PSNR and SSIM are averaged per batch as arcgis.learn does (SSIM: mean of the
    images of the batch); RMSE, MAE and bias (pred - target) pool every valid
    pixel. ``lst_range`` is the kelvin range mapped to [-1, 1]; by default the
    min/max of the valid target pixels of all batches.
    """
    pairs = []
    for a, b in batches:
        p, t = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if p.shape != t.shape or p.ndim not in (2, 3):
            raise DatasetError(
                f"prediction {p.shape} and target {t.shape} must be (H, W) or (N, H, W)"
            )
        pairs.append((p[None], t[None]) if p.ndim == 2 else (p, t))
    if not pairs:
        raise DatasetError("no batches to evaluate")
    valids = [np.isfinite(p) & np.isfinite(t) for p, t in pairs]
    n = int(sum(int(v.sum()) for v in valids))
    if n == 0:
        raise DatasetError("no pixel is valid in both the prediction and the target")
    if lst_range is None:
        lo = min(float(t[v].min()) for (_, t), v in zip(pairs, valids, strict=True) if v.any())
        hi = max(float(t[v].max()) for (_, t), v in zip(pairs, valids, strict=True) if v.any())
    else:
        lo, hi = lst_range
    if not hi > lo:
        raise DatasetError(f"the LST range for the [-1, 1] scale is empty: ({lo}, {hi})")
    psnrs, ssims, diffs = [], [], []
    for (p, t), v in zip(pairs, valids, strict=True):
        if not v.any():
            continue
        pu, tu = to_unit_scale(p, lo, hi), to_unit_scale(t, lo, hi)
        psnrs.append(psnr_arcgis(pu, tu, v))
        ssims.append(
            np.mean([ssim_arcgis(pu[i], tu[i], v[i]) for i in range(len(p)) if v[i].any()])
        )
        diffs.append(p[v] - t[v])
    d = np.concatenate(diffs)
    return Metrics(
        psnr=float(np.mean(psnrs)), ssim=float(np.mean(ssims)),
        rmse_k=float(np.sqrt(np.mean(d**2))), mae_k=float(np.mean(np.abs(d))),
        bias_k=float(np.mean(d)), n_pixels=n, lst_min_k=lo, lst_max_k=hi,
    )  # fmt: skip
