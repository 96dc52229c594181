"""Pix2Pix networks: the U-Net generator and the 70x70 PatchGAN discriminator.

The layout is that of Isola et al. (2017), "Image-to-Image Translation with
Conditional Adversarial Networks", as in its reference implementation: 4x4
convolutions with stride 2, BatchNorm, LeakyReLU(0.2) going down, ReLU going up,
dropout 0.5 in the deep 8x-width blocks, tanh output. ``depth`` is the number of
down-samplings (``unet_256`` is depth 8: a 256 px tile reaches 1x1), ``width``
the filters of the first layer (64 in the reference); level ``i`` has
``width * min(2**(i-1), 8)`` filters. With 8 bands in and 1 out, depth 8 and
width 64 give 54,415,102 parameters.

Two optional, physics-informed additions (both off in the reference layout):

- ``ndvi``: the generator derives NDVI from its own (normalised) red and NIR
  inputs inside the graph and takes it as one more input channel. A ratio is
  what ReLU convolutions approximate worst, and the emissivity of the LST chain
  is a function of NDVI alone; the ONNX file still takes the plain bands.
- ``head``: a full-resolution per-pixel head. The pix2pix U-Net has no skip at
  full resolution (its outermost level goes down to half resolution and back),
  so a per-pixel function with sharp steps (water/soil at NDVI 0) is blurred over
  2x2 pixels. With ``head > 0`` the last up-convolution gives ``head`` feature
  maps, which are concatenated with the inputs (and NDVI) and mapped by 1x1
  convolutions (two hidden layers of ``head`` channels) to the tanh output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from pix2lst.errors import ModelError

__all__ = [
    "GeneratorConfig",
    "PatchDiscriminator",
    "UNetGenerator",
    "count_parameters",
    "init_weights",
]


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of a U-Net generator (stored in the model definition)."""

    in_channels: int
    out_channels: int = 1
    depth: int = 8
    width: int = 64
    dropout: bool = True
    head: int = 0
    """Channels of the full-resolution per-pixel head (0: the reference layout)."""
    ndvi: tuple[float, ...] | None = None
    """``(red_index, nir_index, red_scale, red_offset, nir_scale, nir_offset)``: derive
    NDVI in the graph from inputs normalised as ``x = reflectance * scale + offset``."""

    def __post_init__(self) -> None:
        if self.depth < 2:
            raise ModelError(f"U-Net depth must be at least 2, not {self.depth}")
        if self.width < 1 or self.in_channels < 1 or self.out_channels < 1 or self.head < 0:
            raise ModelError("U-Net width and channel counts must be positive (head >= 0)")
        if self.ndvi is not None:
            nd = tuple(float(v) for v in self.ndvi)  # JSON gives a list
            object.__setattr__(self, "ndvi", nd)
            ok = len(nd) == 6 and all(0 <= nd[i] < self.in_channels for i in (0, 1))
            if not ok or nd[0] == nd[1] or nd[2] == 0 or nd[4] == 0:
                raise ModelError(
                    "ndvi needs (red_index, nir_index, red_scale, red_offset, nir_scale, "
                    f"nir_offset) with two distinct input channels and non-zero scales, got {nd}"
                )

    @property
    def min_tile(self) -> int:
        """Tile sizes must be multiples of this (``2**depth``)."""
        return int(2**self.depth)

    def to_dict(self) -> dict[str, Any]:
        return {"name": "unet", **asdict(self)}


class _Block(nn.Module):
    """One U-Net level: down, the inner levels, up, and the skip concatenation."""

    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        in_channels: int | None = None,
        out_channels: int | None = None,
        sub: nn.Module | None = None,
        outermost: bool = False,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_ch = in_channels if in_channels is not None else outer
        down_conv = nn.Conv2d(in_ch, inner, 4, stride=2, padding=1, bias=False)
        layers: list[nn.Module]
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, out_channels or outer, 4, stride=2, padding=1)
            layers = [down_conv, sub or nn.Identity(), nn.ReLU(True), up, nn.Tanh()]
        elif sub is None:  # innermost
            up = nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.BatchNorm2d(inner), sub,
                      nn.ReLU(True), up, nn.BatchNorm2d(outer)]  # fmt: skip
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """U-Net generator: a pure ``forward(x) -> y`` with y in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        d, w, head = config.depth, config.width, config.head
        n_in = config.in_channels + (1 if config.ndvi is not None else 0)
        ch = [w * min(2**i, 8) for i in range(d)]  # filters after down-sampling i+1
        block: nn.Module | None = None
        for level in range(d - 1, 0, -1):  # innermost first; level 0 is the outermost
            block = _Block(
                ch[level - 1], ch[level], sub=block,
                dropout=config.dropout and 4 <= level < d - 1,
            )  # fmt: skip
        self.net = _Block(
            ch[0], ch[0], in_channels=n_in,
            out_channels=head or config.out_channels, sub=block, outermost=True,
        )  # fmt: skip
        if head:  # the up-convolution's features, not yet squashed: drop the outer tanh
            self.net.model = nn.Sequential(*list(self.net.model)[:-1])
            self.head = nn.Sequential(
                nn.Conv2d(head + n_in, head, 1), nn.ReLU(True),
                nn.Conv2d(head, head, 1), nn.ReLU(True),
                nn.Conv2d(head, config.out_channels, 1), nn.Tanh(),
            )  # fmt: skip
        if config.ndvi is not None:
            ri, ni, rs, ro, ns, no = config.ndvi
            self.ndvi_index = (int(ri), int(ni))
            self.ndvi_norm = (rs, ro, ns, no)

    def _with_ndvi(self, x: torch.Tensor) -> torch.Tensor:
        ri, ni = self.ndvi_index
        rs, ro, ns, no = self.ndvi_norm
        red = (x[:, ri : ri + 1] - ro) / rs
        nir = (x[:, ni : ni + 1] - no) / ns
        ndvi = ((nir - red) / torch.clamp(nir + red, min=1e-4)).clamp(-1.0, 1.0)
        return torch.cat([x, ndvi], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.ndvi is not None:
            x = self._with_ndvi(x)
        if self.config.head:
            return self.head(torch.cat([self.net(x), x], 1))
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers=3`` gives the 70x70 receptive field of the paper."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(width * prev, width * mult, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(width * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The paper's initialisation: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm scales."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
