"""RoIAlign (He et al. 2017, Mask R-CNN) written with `grid_sample`: each region is cut into out x out bins, each
bin is sampled at `sampling_ratio`^2 regularly spaced points by bilinear interpolation, and the samples of a bin
are averaged. No coordinate is rounded (RoIPool's quantization is what RoIAlign removes).

Coordinates: an image pixel j covers [j, j + 1); a feature cell j of stride s covers [j s, (j + 1) s). A point x
in image pixels is the continuous feature coordinate x / s, which `grid_sample(align_corners=False)` takes as
2 x / (s W) - 1 (torchvision's `roi_align(aligned=True)` convention).

Two implementations of the same numbers: `roi_align_grid` samples with `grid_sample` (the reference), and
`roi_align`, used in training, writes bilinear sampling as what it is for an axis-aligned box, separable: the
weight of cell (y, x) for a sample at (u, v) is hat(v - y) hat(u - x), hat(d) = max(0, 1 - |d|) (zero outside
the map), so the pooled region is Ay F Ax^T with Ay [out, H] and Ax [out, W] the bin-averaged 1-D weights. Two
matrix products for all regions of an image: on a CPU its backward is several times faster than grid_sample's scatter.
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


def axis_weights(points: torch.Tensor, length: int, output_size: int) -> torch.Tensor:
    """Bin-averaged bilinear weights along one axis: points [R, S] (continuous cell coordinates, S = output_size
    x sampling ratio) -> [R, output_size, length]."""
    cells = torch.arange(length, device=points.device, dtype=points.dtype) + 0.5  # cell centres
    hat = (1 - (points.unsqueeze(-1) - cells).abs()).clamp(min=0)  # [R, S, length]
    return hat.view(len(points), output_size, -1, length).mean(2)


def roi_align(features: torch.Tensor, rois: list[torch.Tensor], output_size: int = 7, stride: int = 8,
              sampling_ratio: int = 2) -> torch.Tensor:
    """Pooled features of the regions of every image (the separable form; equals `roi_align_grid`).

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
        ax, ay = axis_weights(x, w, output_size), axis_weights(y, h, output_size)  # [R, out, W], [R, out, H]
        n, k = len(r), output_size
        t = features[b].reshape(c * h, w) @ ax.reshape(n * k, w).T  # [C*H, R*out]: one product for all regions
        t = t.view(c, h, n, k).permute(2, 1, 0, 3).reshape(n, h, c * k)  # [R, H, C*out]
        pooled = torch.bmm(ay, t)  # [R, out, C*out]
        out.append(pooled.view(n, k, c, k).permute(0, 2, 1, 3))  # [R, C, out, out]
    if not out:
        return features.new_zeros(0, c, output_size, output_size)
    return torch.cat(out)


def roi_align_grid(features: torch.Tensor, rois: list[torch.Tensor], output_size: int = 7, stride: int = 8,
                   sampling_ratio: int = 2) -> torch.Tensor:
    """`roi_align` by `grid_sample` (zero padding), the reference the separable form is tested against."""
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
