"""RoIAlign (He et al. 2017, Mask R-CNN) written with `grid_sample`: each region is cut into out x out bins, each
bin is sampled at `sampling_ratio`^2 regularly spaced points by bilinear interpolation, and the samples of a bin
are averaged. No coordinate is rounded (RoIPool's quantization is what RoIAlign removes).

Coordinates: an image pixel j covers [j, j + 1); a feature cell j of stride s covers [j s, (j + 1) s). A point x
in image pixels is the continuous feature coordinate x / s, which `grid_sample(align_corners=False)` takes as
2 x / (s W) - 1 (torchvision's `roi_align(aligned=True)` convention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bin_points(rois: torch.Tensor, output_size: int, sampling_ratio: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample coordinates of each region: x [R, S], y [R, S] with S = output_size * sampling_ratio, in the units
    of `rois` (point k sits at x1 + (k + 0.5) / S of the width)."""
    s = output_size * sampling_ratio
    t = (torch.arange(s, device=rois.device, dtype=rois.dtype) + 0.5) / s  # [S] in (0, 1)
    x = rois[:, 0:1] + t * (rois[:, 2:3] - rois[:, 0:1])
    y = rois[:, 1:2] + t * (rois[:, 3:4] - rois[:, 1:2])
    return x, y


def roi_align(features: torch.Tensor, rois: list[torch.Tensor], output_size: int = 7, stride: int = 8,
              sampling_ratio: int = 2) -> torch.Tensor:
    """Pooled features of the regions of every image.

    Args:
      features: [B, C, H, W], the map at `stride` pixels per cell.
      rois: B tensors [R_b, 4] (x1, y1, x2, y2) in image pixels.
    Returns:
      [sum R_b, C, output_size, output_size], the images' regions in order.
    """
    _, c, h, w = features.shape
    out = []
    for b, r in enumerate(rois):
        if len(r) == 0:
            continue
        x, y = bin_points(r.to(features.dtype) / stride, output_size, sampling_ratio)  # [R, S] in cells
        gx = (2 * x / w - 1).unsqueeze(1).expand(-1, y.shape[1], -1)  # [R, S, S]: columns vary along the last dim
        gy = (2 * y / h - 1).unsqueeze(2).expand(-1, -1, x.shape[1])
        grid = torch.stack([gx, gy], dim=-1).reshape(1, -1, x.shape[1], 2)  # [1, R*S, S, 2]
        sampled = F.grid_sample(features[b:b + 1], grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # [1, C, R*S, S]
        sampled = sampled.view(c, len(r), y.shape[1], x.shape[1]).transpose(0, 1)  # [R, C, S, S]
        out.append(F.avg_pool2d(sampled, sampling_ratio))  # the mean of each bin's samples
    if not out:
        return features.new_zeros(0, c, output_size, output_size)
    return torch.cat(out)
