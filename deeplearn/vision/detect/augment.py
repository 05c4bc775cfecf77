"""Augmentation that moves the boxes with the pixels: horizontal flip, scale, crop. Each takes and returns
(image [3, H, W], target); random choices come from a torch.Generator so that a run resumes bit for bit."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _with_boxes(target: dict, boxes: torch.Tensor, keep: torch.Tensor | None = None) -> dict:
    out = dict(target)
    if keep is not None:
        out = {k: (v[keep] if torch.is_tensor(v) and v.shape[:1] == target["boxes"].shape[:1] else v)
               for k, v in target.items()}
        boxes = boxes[keep]
    out["boxes"] = boxes
    return out


def hflip(image: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    """Mirror left-right: x -> W - x."""
    w = image.shape[-1]
    b = target["boxes"]
    boxes = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], dim=1)
    return image.flip(-1), _with_boxes(target, boxes)


def rescale(image: torch.Tensor, target: dict, factor: float) -> tuple[torch.Tensor, dict]:
    """Resize by `factor` (bilinear); boxes scale with the image's actual new size."""
    h, w = image.shape[-2:]
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    out = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False,
                        antialias=factor < 1)[0].clamp(0, 1)
    scale = torch.tensor([nw / w, nh / h, nw / w, nh / h], dtype=target["boxes"].dtype)
    return out, _with_boxes(target, target["boxes"] * scale)


def crop(image: torch.Tensor, target: dict, x: int, y: int, w: int, h: int,
         min_visible: float = 0.5) -> tuple[torch.Tensor, dict]:
    """The window [x, x+w) x [y, y+h): boxes are shifted and clipped to it; a box keeps its place when at least
    `min_visible` of its area stays inside, otherwise it is dropped."""
    b = target["boxes"]
    shifted = b - torch.tensor([x, y, x, y], dtype=b.dtype)
    clipped = torch.stack([shifted[:, 0].clamp(0, w), shifted[:, 1].clamp(0, h),
                           shifted[:, 2].clamp(0, w), shifted[:, 3].clamp(0, h)], dim=1)
    area = lambda t: (t[:, 2] - t[:, 0]).clamp(min=0) * (t[:, 3] - t[:, 1]).clamp(min=0)  # noqa: E731
    keep = area(clipped) >= min_visible * area(shifted).clamp(min=1e-9)
    keep &= area(clipped) > 0
    return image[:, y:y + h, x:x + w], _with_boxes(target, clipped, keep)


def random_augment(image: torch.Tensor, target: dict, generator: torch.Generator, flip: bool = True,
                   scale: tuple[float, float] = (0.8, 1.25), crop_fraction: float = 0.8,
                   min_visible: float = 0.5) -> tuple[torch.Tensor, dict]:
    """Flip with probability 1/2, rescale by a factor uniform in `scale`, then, if larger than the original,
    crop a random window of the original size (or `crop_fraction` of the scaled image, whichever is larger).

    Args:
        image: [3, H, W]; target: with "boxes" [N, 4] (other per-box tensors follow the boxes);
        generator: the source of every random choice.
    Returns:
        (image, target) augmented.
    """
    u = torch.rand(3, generator=generator).tolist()
    if flip and u[0] < 0.5:
        image, target = hflip(image, target)
    h, w = image.shape[-2:]
    factor = scale[0] + (scale[1] - scale[0]) * u[1]
    if abs(factor - 1) > 1e-6:
        image, target = rescale(image, target, factor)
    sh, sw = image.shape[-2:]
    ch, cw = min(sh, max(h, round(sh * crop_fraction))), min(sw, max(w, round(sw * crop_fraction)))
    if (ch, cw) != (sh, sw):
        x = int(u[2] * (sw - cw + 1))
        y = int(torch.randint(0, sh - ch + 1, (1,), generator=generator))
        image, target = crop(image, target, min(x, sw - cw), y, cw, ch, min_visible)
    return image, target
