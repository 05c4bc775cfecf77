"""CenterNet, "Objects as Points" (Zhou, Wang, Krähenbühl 2019): a detector without anchors or NMS.

An object is the peak of a per-class heatmap at its box centre; two more heads give its size and the sub-cell
offset of the centre, all on one map of output stride R (4 here, as in the paper):

    features [B, F, h, w] -> heatmap logits [B, C, h, w], size [B, 2, h, w], offset [B, 2, h, w]

Training targets (`encode`): a Gaussian at each centre p/R, of the size-adaptive radius of CornerNet (Law and
Deng 2018, the radius at which a box with corners moved that far still has IoU >= 0.7 with the truth), the
element-wise max where Gaussians of one class overlap; size (w, h)/R and offset p/R - floor(p/R) at the centre
cell. Losses (paper eqs. 1-3): the penalty-reduced focal loss (alpha 2, beta 4) over the heatmap, L1 on size
(weight 0.1) and offset (weight 1), each normalized by the number of objects.

Decoding (`decode`): keep the cells equal to the 3x3 max-pool of the heatmap (the peaks), take the top K by
score, box = ((x + dx) R -/+ w R / 2, (y + dy) R -/+ h R / 2). No NMS.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.vision.detect.backbone import Backbone
from deeplearn.vision.detect.boxes import clip_boxes

MIN_RADIUS = 1.0  # cells (see encode)
PRIOR = 0.1  # the heatmap bias starts at logit(0.1) = -2.19 (the paper's initialization)


def head(cin: int, mid: int, cout: int) -> nn.Sequential:
    """3x3 conv + ReLU + 1x1 conv: the paper's head on every output."""
    return nn.Sequential(nn.Conv2d(cin, mid, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))


def gaussian_radius(width: torch.Tensor, height: torch.Tensor, min_overlap: float = 0.7) -> torch.Tensor:
    """CornerNet's radius: the largest r such that a box whose corners move by r still has IoU >= min_overlap
    with the truth, in each of the three cases (both corners shifted alike, both inward, both outward), each
    the smaller root of its quadratic in r. (The CornerNet / CenterNet code takes other roots, which can exceed
    this bound; tests/vision/detect/test_models.py checks the bound.)

    Args:
      width, height: box sizes [N] (in output cells).
    Returns:
      radius [N] (float, >= 0).
    """
    o, s, p = min_overlap, width + height, width * height
    r1 = (s - torch.sqrt((s ** 2 - 4 * p * (1 - o) / (1 + o)).clamp(min=0))) / 2  # shifted: (w-r)(h-r) overlap
    r2 = (2 * s - torch.sqrt((4 * s ** 2 - 16 * (1 - o) * p).clamp(min=0))) / 8  # inward: (w-2r)(h-2r) = o w h
    r3 = (-2 * o * s + torch.sqrt(4 * o ** 2 * s ** 2 + 16 * o * (1 - o) * p)) / (8 * o)  # outward
    return torch.minimum(torch.minimum(r1, r2), r3).clamp(min=0)


def encode(boxes: torch.Tensor, labels: torch.Tensor, num_classes: int, size: tuple[int, int],
           stride: int) -> dict[str, torch.Tensor]:
    """Dense training targets of one image.

    Args:
      boxes: [N, 4] (x1, y1, x2, y2) in image pixels; labels: [N] in 0..C-1.
      size: (h, w) of the output map; stride: R.
    Returns:
      {"heatmap" [C, h, w], "size" [2, h, w], "offset" [2, h, w], "mask" [h, w] (1 at object centres)}.
    """
    h, w = size
    dev = boxes.device
    heat = torch.zeros(num_classes, h, w, device=dev)
    wh = torch.zeros(2, h, w, device=dev)
    off = torch.zeros(2, h, w, device=dev)
    mask = torch.zeros(h, w, device=dev)
    if len(boxes) == 0:
        return {"heatmap": heat, "size": wh, "offset": off, "mask": mask}
    b = boxes / stride
    centre = (b[:, :2] + b[:, 2:]) / 2  # [N, 2] (x, y) in cells
    cell = centre.floor().long()
    cell[:, 0].clamp_(0, w - 1)
    cell[:, 1].clamp_(0, h - 1)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    # An integer radius as in the paper's code, at least 1: at stride 4 the IoU-0.7 bound is under one cell for
    # objects below ~10 cells, which would leave no reduced penalty around the centre.
    radius = gaussian_radius(bw, bh).floor().clamp(min=MIN_RADIUS)
    sigma = (2 * radius + 1) / 6
    ys = torch.arange(h, device=dev, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=dev, dtype=torch.float32).view(1, 1, w)
    dx = xs - cell[:, 0].view(-1, 1, 1).float()
    dy = ys - cell[:, 1].view(-1, 1, 1).float()
    r = radius.view(-1, 1, 1)
    g = torch.exp(-(dx ** 2 + dy ** 2) / (2 * sigma.view(-1, 1, 1) ** 2))  # [N, h, w], 1 at the centre cell
    g = g * ((dx.abs() <= r) & (dy.abs() <= r))  # truncated at the radius
    heat = heat.view(num_classes, -1).scatter_reduce(0, labels.to(dev).view(-1, 1).expand(-1, h * w), g.flatten(1),
                                                     "amax").view(num_classes, h, w)  # max over one class
    idx = cell[:, 1] * w + cell[:, 0]
    wh.view(2, -1)[:, idx] = torch.stack([bw, bh])
    off.view(2, -1)[:, idx] = (centre - cell.float()).T
    mask.view(-1)[idx] = 1.0
    return {"heatmap": heat, "size": wh, "offset": off, "mask": mask}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """The paper's eq. 1, summed (the caller divides by the number of objects). logits, target: same shape."""
    pos = target.eq(1).float()
    log_p, log_1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = log_p.exp()
    pos_loss = (1 - p) ** alpha * log_p * pos
    neg_loss = (1 - target) ** beta * p ** alpha * log_1mp * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum())


def decode(heat: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, stride: int, k: int = 100,
           score_threshold: float = 0.0) -> list[dict[str, torch.Tensor]]:
    """Boxes at the heatmap's local maxima (3x3 max-pool), the top k per image; no NMS.

    Args:
      heat: [B, C, h, w] probabilities; size, offset: [B, 2, h, w] in cells.
    Returns:
      one prediction dict per image: boxes [K, 4] in input pixels, scores [K], labels [K].
    """
    b, c, h, w = heat.shape
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, idx = peaks.flatten(1).topk(min(k, c * h * w))  # [B, K]
    labels, cell = idx // (h * w), idx % (h * w)
    ys, xs = (cell // w).float(), (cell % w).float()
    gather = lambda m: m.flatten(2).gather(2, cell.unsqueeze(1).expand(-1, 2, -1))  # [B, 2, K]  # noqa: E731
    wh, off = gather(size), gather(offset)
    cx, cy = (xs + off[:, 0]) * stride, (ys + off[:, 1]) * stride
    half_w, half_h = wh[:, 0].clamp(min=0) * stride / 2, wh[:, 1].clamp(min=0) * stride / 2
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=2)  # [B, K, 4]
    out = []
    for i in range(b):
        keep = scores[i] > score_threshold
        out.append({"boxes": boxes[i][keep], "scores": scores[i][keep], "labels": labels[i][keep]})
    return out


class CenterNet(nn.Module):
    """`forward(images, targets)` -> the loss dict; `predict(images)` -> one prediction dict per image.

    Args:
      num_classes: C (no background class).
      widths, features: the backbone's channels (see backbone.Backbone); head: the heads' hidden channels.
      max_detections: K of the decoding; size_weight, offset_weight: the paper's lambda_size 0.1, lambda_off 1.
    """

    stride = 4

    def __init__(self, num_classes: int, widths=(24, 32, 64, 128), features: int = 64, head_channels: int = 64,
                 max_detections: int = 100, size_weight: float = 0.1, offset_weight: float = 1.0):
        super().__init__()
        self.num_classes, self.max_detections = num_classes, max_detections
        self.size_weight, self.offset_weight = size_weight, offset_weight
        self.backbone = Backbone(tuple(widths), features, out_stride=self.stride)
        self.heatmap = head(features, head_channels, num_classes)
        self.size = head(features, head_channels, 2)
        self.offset = head(features, head_channels, 2)
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - PRIOR) / PRIOR))

    def maps(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three output maps: heatmap logits [B, C, h, w], size and offset [B, 2, h, w]."""
        f = self.backbone(images)
        return {"heatmap": self.heatmap(f), "size": self.size(f), "offset": self.offset(f)}

    def forward(self, images: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        """Training losses {"loss" (the total), "heatmap", "size", "offset"} of a batch [B, 3, H, W]."""
        out = self.maps(images)
        h, w = out["heatmap"].shape[-2:]
        t = [encode(x["boxes"].to(images.device), x["labels"].to(images.device), self.num_classes, (h, w),
                    self.stride) for x in targets]
        tgt = {k: torch.stack([x[k] for x in t]) for k in t[0]}
        n = tgt["mask"].sum().clamp(min=1)
        mask = tgt["mask"].unsqueeze(1)  # [B, 1, h, w]
        heat = focal_loss(out["heatmap"].float(), tgt["heatmap"]) / n
        size = (F.l1_loss(out["size"].float(), tgt["size"], reduction="none") * mask).sum() / n
        offset = (F.l1_loss(out["offset"].float(), tgt["offset"], reduction="none") * mask).sum() / n
        total = heat + self.size_weight * size + self.offset_weight * offset
        return {"loss": total, "heatmap": heat.detach(), "size": size.detach(), "offset": offset.detach()}

    losses = forward

    @torch.no_grad()
    def predict(self, images: torch.Tensor, score_threshold: float = 0.01) -> list[dict[str, torch.Tensor]]:
        out = self.maps(images)
        heat = out["heatmap"].float().sigmoid()
        preds = decode(heat, out["size"].float(), out["offset"].float(), self.stride, self.max_detections,
                       score_threshold)
        h, w = images.shape[-2:]
        for p in preds:  # boxes stay inside the (padded) image
            p["boxes"] = clip_boxes(p["boxes"], h, w)
        return preds
