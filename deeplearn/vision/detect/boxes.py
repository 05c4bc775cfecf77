"""Box operations on (x1, y1, x2, y2) boxes: IoU, NMS (kornia's), per-class NMS, the Faster R-CNN box
parametrization (Ren et al. 2015, eq. 2; Girshick et al. 2014, appendix C) and clipping."""

from __future__ import annotations

import math

import torch

BBOX_CLIP = math.log(1000.0 / 16)  # the largest log-scale a decoded box may take (as in Detectron)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """[N, 4] -> [N]; a degenerate box (x2 <= x1 or y2 <= y1) has area 0."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N, 4], [M, 4] -> [N, M] intersection areas."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])  # [N, M, 2]
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every pair.

    Args:
        a: [N, 4] boxes; b: [M, 4] boxes.
    Returns:
        [N, M] IoU in [0, 1] (0 where both boxes are degenerate).
    """
    inter = box_intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: kornia's `nms` (a box is dropped when its IoU with a kept, higher-scoring
    box exceeds `iou_threshold`).

    Args:
        boxes: [N, 4]; scores: [N]; iou_threshold: in [0, 1].
    Returns:
        long [K] indices of the kept boxes, by descending score.
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    from kornia.geometry.bbox import nms as kornia_nms

    keep = kornia_nms(boxes.float(), scores.float(), float(iou_threshold))
    return keep.to(torch.long).reshape(-1)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class: boxes of different labels never suppress each other (the coordinate-offset trick:
    each class is shifted far from the others, then one NMS runs).

    Args:
        boxes: [N, 4]; scores: [N]; labels: long [N]; iou_threshold: in [0, 1].
    Returns:
        long [K] indices of the kept boxes, by descending score.
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = float(boxes.max() - boxes.min()) + 1.0
    shifted = boxes + (labels.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)


def _centre_size(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_boxes(reference: torch.Tensor, boxes: torch.Tensor,
                 weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> torch.Tensor:
    """Regression targets of `boxes` relative to `reference` (anchors or proposals):
    t = (wx (x - xa) / wa, wy (y - ya) / ha, ww log(w / wa), wh log(h / ha)).

    Args:
        reference: [N, 4] anchors/proposals (positive size); boxes: [N, 4] matched ground truth;
        weights: the (wx, wy, ww, wh) scales (torchvision's RoI-head default; (1, 1, 1, 1) is the paper's RPN).
    Returns:
        [N, 4] deltas.
    """
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = _centre_size(reference)
    x, y, w, h = _centre_size(boxes)
    return torch.stack([wx * (x - xa) / wa, wy * (y - ya) / ha,
                        ww * torch.log(w / wa), wh * torch.log(h / ha)], dim=1)


def decode_boxes(reference: torch.Tensor, deltas: torch.Tensor,
                 weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> torch.Tensor:
    """The inverse of `encode_boxes`: [N, 4] reference boxes and [N, 4] deltas -> [N, 4] boxes (the log-scales
    are clamped at log(1000/16) so an untrained head cannot overflow)."""
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = _centre_size(reference)
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw = (deltas[:, 2] / ww).clamp(max=BBOX_CLIP)
    dh = (deltas[:, 3] / wh).clamp(max=BBOX_CLIP)
    x, y = xa + dx * wa, ya + dy * ha
    w, h = wa * torch.exp(dw), ha * torch.exp(dh)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boxes [N, 4] clipped to the image [0, width] x [0, height]."""
    x = boxes[:, 0::2].clamp(0, width)
    y = boxes[:, 1::2].clamp(0, height)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


def remove_small_boxes(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """Indices of the boxes whose width and height are both at least `min_size`."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.nonzero((w >= min_size) & (h >= min_size)).reshape(-1)
