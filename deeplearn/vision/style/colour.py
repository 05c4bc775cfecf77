"""Colour for luminance-only transfer (Gatys, Bethge, Hertzmann, Shechtman 2017, "Controlling Perceptual Factors
in Neural Style Transfer", section 5): transfer in the luminance channel Y of YUV (BT.601), after matching the style's
luminance mean and standard deviation to the content's, then put the content's U and V back."""

from __future__ import annotations

import torch

_RGB2YUV = torch.tensor([[0.299, 0.587, 0.114],
                         [-0.14713, -0.28886, 0.436],
                         [0.615, -0.51499, -0.10001]])


def rgb_to_yuv(x: torch.Tensor) -> torch.Tensor:
    """3 x H x W RGB in [0, 1] -> YUV (Y in [0, 1], U, V around 0)."""
    return torch.einsum("ij,jhw->ihw", _RGB2YUV, x)


def yuv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_yuv (not clipped)."""
    return torch.einsum("ij,jhw->ihw", torch.linalg.inv(_RGB2YUV), x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y as a grey RGB image (3 x H x W) for a net that takes colour."""
    return rgb_to_yuv(x)[:1].expand(3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's grey luminance image, linearly mapped to the content's luminance mean and std."""
    ys, yc = rgb_to_yuv(style)[0], rgb_to_yuv(content)[0]
    y = (ys - ys.mean()) / ys.std().clamp_min(1e-6) * yc.std() + yc.mean()
    return y.clamp(0, 1).expand(3, -1, -1).contiguous()


def with_chroma(grey: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB image with the luminance of `grey` and the U, V of `content`, clipped to [0, 1]."""
    yuv = rgb_to_yuv(content)
    yuv[0] = rgb_to_yuv(grey)[0]
    return yuv_to_rgb(yuv).clamp(0, 1)
