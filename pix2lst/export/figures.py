"""Training figures: batch grid, results grid, learning-rate curve (PNG, Agg, no pyplot).

Colour maps and stretches come from :mod:`pix2lst.viz.style`, the one place for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from pix2lst.viz.style import (
    DIFF_CMAP_NAME,
    add_celsius_colorbar,
    lst_cmap,
    new_figure,
    percent_clip,
    save_figure,
    symmetric_limits,
    true_colour,
)

__all__ = ["batch_figure", "lr_figure", "results_figure", "save_figure"]


def _rgb(x: np.ndarray, bands: Sequence[str]) -> np.ndarray | None:
    if not all(b in bands for b in ("B4", "B3", "B2")):
        return None
    rgb = np.stack([x[bands.index(b)] for b in ("B4", "B3", "B2")])
    if not np.isfinite(rgb).all(axis=0).any():
        return None
    return true_colour(rgb)


def _lst_panel(fig: Figure, ax: object, lst: np.ndarray, lim: tuple[float, float]) -> None:
    im = ax.imshow(lst, cmap=lst_cmap(), vmin=lim[0], vmax=lim[1])  # type: ignore[attr-defined]
    add_celsius_colorbar(fig, im, ax=ax, shrink=0.8)


def batch_figure(
    x: np.ndarray, lst: np.ndarray, bands: Sequence[str], names: Sequence[str]
) -> Figure:
    """Rows of (true colour, LST in a temperature colour map with a deg C colour bar)."""
    n = len(x)
    fig = new_figure(7.0, 3.2 * n)
    axes = fig.subplots(n, 2, squeeze=False)
    for i in range(n):
        rgb = _rgb(x[i], bands)
        if rgb is not None:
            axes[i, 0].imshow(rgb)
        axes[i, 0].set_title(names[i], fontsize=7)
        lim = percent_clip(lst[i]) if np.isfinite(lst[i]).any() else (270.0, 310.0)
        _lst_panel(fig, axes[i, 1], lst[i], lim)
        axes[i, 1].set_title("LST target", fontsize=8)
        for ax in axes[i]:
            ax.set_axis_off()
    return fig


def results_figure(
    x: np.ndarray, target: np.ndarray, pred: np.ndarray, bands: Sequence[str]
) -> Figure:
    """Rows of (input true colour, target LST, predicted LST, prediction - target in K)."""
    n = len(x)
    fig = new_figure(13.0, 3.0 * n)
    axes = fig.subplots(n, 4, squeeze=False)
    for i in range(n):
        rgb = _rgb(x[i], bands)
        if rgb is not None:
            axes[i, 0].imshow(rgb)
        lim = percent_clip(target[i]) if np.isfinite(target[i]).any() else (270.0, 310.0)
        _lst_panel(fig, axes[i, 1], target[i], lim)
        _lst_panel(fig, axes[i, 2], pred[i], lim)
        err = pred[i] - target[i]
        elim = symmetric_limits(err) if np.isfinite(err).any() else (-1.0, 1.0)
        im = axes[i, 3].imshow(err, cmap=DIFF_CMAP_NAME, vmin=elim[0], vmax=elim[1])
        fig.colorbar(im, ax=axes[i, 3], label="error (K)", shrink=0.8)
        for ax, title in zip(axes[i], ("input", "target", "prediction", "error"), strict=True):
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    return fig


def lr_figure(lrs: Sequence[float], losses: Sequence[float], suggested: float) -> Figure:
    """The learning-rate finder's smoothed loss against the rate (log axis)."""
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    ax.plot(lrs, losses)
    ax.set_xscale("log")
    ax.axvline(suggested, color="tab:red", linestyle="--", label=f"suggested {suggested:.2e}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("generator loss (smoothed)")
    ax.legend()
    return fig
