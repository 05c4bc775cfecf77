"""Feature visualization by optimization (Olah, Mordvintsev and Schubert 2017, "Feature Visualization", Distill;
the defaults of their library Lucid): find an image that excites one unit of a network.

- objectives: a channel (mean activation of one channel over all positions), a neuron (one channel at the
  centre position) or a layer (the mean square of the whole layer, DeepDream's objective);
- the image is parameterized in a decorrelated space: a Fourier spectrum scaled by 1 / frequency (so every
  spatial frequency starts with comparable energy and gradient steps are not dominated by pixel noise), mapped
  to colour through the square root of ImageNet's colour correlation (Lucid's `color_correlation_svd_sqrt`) and
  a sigmoid into [0, 1];
- transformation robustness: at each step the image is padded (12 px of grey), jittered (8 px), scaled
  (0.9 .. 1.1), rotated (-10 .. 10 degrees) and jittered again (4 px), so only features that survive small
  transformations are optimized (Lucid's `standard_transforms`);
- Adam, learning rate 0.05 (Lucid's default), a few hundred steps.
A batch optimizes several units at once, one per image: a grid of the first N channels of a layer costs one run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from deeplearn.vision.features import FeatureNet

# Square root of ImageNet's colour correlation matrix (Lucid, `optvis/param/color.py`); columns: decorrelated axes.
COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
OBJECTIVES = ("channel", "neuron", "layer")


@dataclass
class VisConfig:
    layer: str
    channels: tuple[int, ...] = (0,)
    objective: str = "channel"     # channel | neuron | layer
    size: int = 128
    steps: int = 256
    lr: float = 0.05
    decorrelate: bool = True       # colour decorrelation and Fourier parameterization (False: plain pixels)
    transforms: bool = True        # transformation robustness
    seed: int = 0
    init_sd: float = 0.01          # std of the random start (Lucid's 0.01; nets dead on flat grey need more)


class FourierImage(torch.nn.Module):
    """B images of C x H x W in [0, 1], parameterized by a 1/f-scaled spectrum and decorrelated colour."""

    def __init__(self, batch: int, channels: int, h: int, w: int, gen: torch.Generator, decorrelate: bool = True,
                 sd: float = 0.01):
        super().__init__()
        self.h, self.w, self.decorrelate = h, w, decorrelate
        fy = torch.fft.fftfreq(h)[:, None]
        fx = torch.fft.rfftfreq(w)[None, :]
        freq = torch.sqrt(fx ** 2 + fy ** 2)                     # H x (W//2+1)
        self.register_buffer("scale", 1.0 / freq.clamp_min(1.0 / max(h, w)))
        shape = (batch, channels, h, w // 2 + 1, 2) if decorrelate else (batch, channels, h, w)
        self.param = torch.nn.Parameter(sd * torch.randn(*shape, generator=gen))
        color = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()
        self.register_buffer("color", color if channels == 3 else torch.eye(channels))

    def forward(self) -> torch.Tensor:                          # B x C x H x W in [0, 1]
        if not self.decorrelate:
            return torch.sigmoid(self.param)
        spectrum = torch.view_as_complex(self.param) * self.scale
        x = torch.fft.irfft2(spectrum, s=(self.h, self.w), norm="ortho") / 4.0  # Lucid's scaling of the image
        x = torch.einsum("ij,bjhw->bihw", self.color, x)         # decorrelated -> RGB
        return torch.sigmoid(x)


def robustness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Lucid's standard transforms on a batch (B x C x H x W): pad 12 (grey), jitter 8, scale, rotate, jitter 4."""
    x = F.pad(x, (12, 12, 12, 12), value=0.5)
    x = _jitter(x, 8, gen)
    scales = [1 + (i - 5) / 50 for i in range(11)]
    s = scales[int(torch.randint(len(scales), (1,), generator=gen))]
    x = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    angles = list(range(-10, 11)) + [0] * 5
    a = math.radians(angles[int(torch.randint(len(angles), (1,), generator=gen))])
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _jitter(x, 4, gen)


def _jitter(x: torch.Tensor, d: int, gen: torch.Generator) -> torch.Tensor:
    """A random crop d pixels smaller in each direction (Lucid's jitter)."""
    oy, ox = torch.randint(d + 1, (2,), generator=gen).tolist()
    return x[..., oy:oy + x.shape[-2] - d, ox:ox + x.shape[-1] - d]


def unit_objective(act: torch.Tensor, channels, kind: str) -> torch.Tensor:
    """Sum over the batch of each image's objective; image b serves `channels[b]` (act: B x C x H x W or B x K)."""
    if kind == "layer":
        return act.pow(2).flatten(1).mean(1).sum()
    idx = torch.as_tensor(channels)
    rows = act[torch.arange(len(idx)), idx]                     # B x H x W (or B for a linear layer)
    if rows.dim() == 1:
        return rows.sum()
    if kind == "neuron":
        return rows[:, rows.shape[1] // 2, rows.shape[2] // 2].sum()
    return rows.flatten(1).mean(1).sum()


def visualize(net: FeatureNet, cfg: VisConfig, progress: bool = True):
    """Optimize one image per channel of `cfg.channels` (one image for the `layer` objective).

    Args:
        net: the feature network.
        cfg: layer, channels, objective, size, steps, learning rate, parameterization, transforms, seed.
        progress: show a tqdm bar over the steps.
    Returns:
        (images B x C x size x size in [0, 1], objective per step: a list of B-lists).
    """
    if cfg.objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {cfg.objective!r}")
    net.check_layer(cfg.layer)
    channels = list(cfg.channels) if cfg.objective != "layer" else [0]
    gen = torch.Generator().manual_seed(cfg.seed)
    image = FourierImage(len(channels), net.channels, cfg.size, cfg.size, gen, cfg.decorrelate, cfg.init_sd)
    opt = torch.optim.Adam(image.parameters(), lr=cfg.lr)
    history = []
    for _ in tqdm(range(cfg.steps), desc=f"visualize {cfg.layer}", unit="step", disable=not progress, leave=False):
        x = image()
        if cfg.transforms:
            x = robustness(x, gen)
        act = net.forward_layers(x, [cfg.layer])[cfg.layer]
        _check_channels(act, channels, cfg)
        per_image = _per_image(act, channels, cfg.objective)
        opt.zero_grad()
        (-per_image.sum()).backward()
        opt.step()
        history.append(per_image.detach().tolist())
    with torch.no_grad():
        return image(), history


def _per_image(act, channels, kind):
    return torch.stack([unit_objective(act[b:b + 1], [c], kind) for b, c in enumerate(channels)])


def _check_channels(act: torch.Tensor, channels, cfg: VisConfig) -> None:
    if max(channels) >= act.shape[1]:
        raise ValueError(f"layer {cfg.layer!r} has {act.shape[1]} channels; channel {max(channels)} does not exist")
