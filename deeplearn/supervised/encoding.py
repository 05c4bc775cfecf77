"""Input encoding, applied per batch: uint8 pixels -> floats the model takes.

    scale to [0, 1] -> (training only) augmentation -> fit the model's input size -> normalize per channel

Augmentations draw from the batch's own generator (see engine.data.batch_generator), so a resumed run
replays them exactly; they run on whatever device the data lives on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def channel_stats(x: torch.Tensor, pixel_max: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images N x C x H x W, on the [0, 1] scale (from the training split)."""
    xf = x.float().div_(pixel_max)
    dims = (0, 2, 3)
    return xf.mean(dims).tolist(), xf.std(dims).clamp_min(1e-6).tolist()


def fit_size(x: torch.Tensor, size: tuple[int, int] | None, channels: int | None) -> torch.Tensor:
    """Make float images N x C x H x W fit a model's (H, W) and channel count.

    A slightly smaller image is zero-padded in the middle (MNIST 28x28 in LeNet-5's 32x32 field, as in the
    paper); anything else is resized bilinearly. Gray is repeated to RGB; RGB is averaged to gray."""
    if channels is not None and x.shape[1] != channels:
        x = x.repeat(1, channels, 1, 1) if x.shape[1] == 1 else x.mean(1, keepdim=True).repeat(1, channels, 1, 1)
    if size is None or tuple(x.shape[-2:]) == tuple(size):
        return x
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if 0 <= dh <= 8 and 0 <= dw <= 8:
        return F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def flip_crop(x: torch.Tensor, g: torch.Generator, pad: int = 4, mode: str = "constant") -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip (the CIFAR-10 recipe); `mode="reflect"` mirrors
    the border instead of padding with zeros."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g).to(x.device)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # n x c x (2pad+1) x (2pad+1) x h x w, a view
    return windows[torch.arange(n, device=x.device), :, dy, dx]  # n x c x h x w: image i's window (dy_i, dx_i)


def affine(x: torch.Tensor, g: torch.Generator, degrees: float = 10.0, translate: float = 0.1,
           scale: tuple[float, float] = (0.9, 1.1), shear: float = 0.1) -> torch.Tensor:
    """Random affine distortions (rotation, scale, shear, translation), as the LeNet-5 paper used for MNIST."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=g) * 2 - 1) * math.radians(degrees)
    sc = scale[0] + torch.rand(n, generator=g) * (scale[1] - scale[0])
    sh = (torch.rand(n, generator=g) * 2 - 1) * shear
    tx, ty = ((torch.rand(2, n, generator=g) * 2 - 1) * translate * 2)  # in [-1, 1] grid units
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin + sh, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def flip_translate(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a random translation by up to 2 px with mirrored borders (airbench's CIFAR-10
    augmentation, Jordan 2024, Sec. 3.6: a milder crop than flip-crop's 4 px of black, for short runs)."""
    return flip_crop(x, g, pad=2, mode="reflect")


AUGMENTATIONS = {"none": None, "flip-crop": flip_crop, "flip-translate": flip_translate, "affine": affine}


class Encoder:
    """The batch transform for classification: `(x_uint8, y), g -> (x_float, y)`."""

    def __init__(self, pixel_max: int, mean, std, size=None, channels=None, augment: str = "none"):
        self.pixel_max, self.size, self.channels = pixel_max, size, channels
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.augment = AUGMENTATIONS[augment]
        self.random = self.augment is not None  # tells the batch source whether to make a random stream

    def __call__(self, batch, g: torch.Generator | None = None):
        x, y = batch[0], batch[1]
        x = x.float().div_(self.pixel_max)
        if self.augment is not None and g is not None:
            x = self.augment(x, g)
        x = (x - self.mean.to(x.device)) / self.std.to(x.device)  # normalize with the training statistics
        x = fit_size(x, self.size, self.channels)  # after normalizing: padding is the mean (0), as in LeNet-5
        return (x, y) + tuple(batch[2:])
