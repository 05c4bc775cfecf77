"""The region proposal network of Faster R-CNN (Ren et al. 2015, sec. 3.1): anchors, matching, sampling, proposals.

At every cell of the feature map (stride s) sit A = |sizes| x |ratios| anchors centred on the cell; a 3x3 conv
and two 1x1 convs score each anchor (object or not) and regress its box deltas (the paper's parametrization,
`boxes.encode_boxes` with weights 1). Training labels (paper sec. 3.1.2): an anchor is positive with IoU >= 0.7 to
some ground-truth box, or when it is the best anchor of a box; negative with IoU < 0.3 to all; the rest are
ignored. 256 anchors per image are sampled, up to half positive. Proposals: the top-scoring anchors decoded,
clipped, NMS at 0.7, the best `post_nms` kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.vision.detect.boxes import box_iou, clip_boxes, decode_boxes, encode_boxes
from deeplearn.vision.detect.fast_nms import nms

RPN_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
NEGATIVE, IGNORE = -1, -2


def cell_anchors(sizes, ratios) -> torch.Tensor:
    """The A anchors of one cell, centred on 0: [A, 4]; ratio = height / width, area = size^2."""
    out = []
    for size in sizes:
        for r in ratios:
            w, h = size / r ** 0.5, size * r ** 0.5
            out.append([-w / 2, -h / 2, w / 2, h / 2])
    return torch.tensor(out, dtype=torch.float32)


def make_anchors(feature_size: tuple[int, int], stride: int, sizes, ratios,
                 device: torch.device | None = None) -> torch.Tensor:
    """Every anchor of a feature map: [h * w * A, 4], cell-major (anchor a of cell (y, x) at ((y w + x) A + a)),
    centred at ((x + 0.5) s, (y + 0.5) s) in image pixels."""
    h, w = feature_size
    base = cell_anchors(sizes, ratios).to(device)
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack([cx, cy, cx, cy], dim=-1).view(-1, 1, 4)  # [h*w, 1, 4]
    return (centres + base.view(1, -1, 4)).view(-1, 4)


def match(iou: torch.Tensor, high: float, low: float, allow_low_quality: bool) -> torch.Tensor:
    """The ground-truth index of each candidate, NEGATIVE (max IoU < low) or IGNORE (in between).

    Args:
      iou: [G, N], ground truth x candidates.
      allow_low_quality: also match each ground-truth box to its best candidates (the RPN rule).
    Returns:
      [N] long.
    """
    n = iou.shape[1]
    if iou.shape[0] == 0:
        return torch.full((n,), NEGATIVE, dtype=torch.long, device=iou.device)
    best, idx = iou.max(dim=0)
    matched = idx.clone()
    matched[best < high] = IGNORE
    matched[best < low] = NEGATIVE
    if allow_low_quality:
        best_of_gt = iou.max(dim=1, keepdim=True).values  # [G, 1]
        gt, cand = torch.nonzero((iou == best_of_gt) & (best_of_gt > 0), as_tuple=True)
        matched[cand] = idx[cand]
    return matched


def sample(matched: torch.Tensor, num: int, positive_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive indices, negative indices): at most num * positive_fraction positives, negatives fill the rest.
    Draws from torch's global generator (saved in every checkpoint, so a resumed run draws the same)."""
    pos = torch.nonzero(matched >= 0).flatten()
    neg = torch.nonzero(matched == NEGATIVE).flatten()
    n_pos = min(len(pos), int(num * positive_fraction))
    n_neg = min(len(neg), num - n_pos)
    pos = pos[torch.randperm(len(pos), device=pos.device)[:n_pos]]
    neg = neg[torch.randperm(len(neg), device=neg.device)[:n_neg]]
    return pos, neg


class RPN(nn.Module):
    """Objectness and box deltas per anchor; proposals and (with targets) the RPN losses.

    Args:
      channels: the feature map's channels; stride: its stride in pixels.
      sizes, ratios: anchor sizes (pixels) and height/width ratios.
      pre_nms, post_nms: proposals kept before / after NMS, as (training, inference).
    """

    def __init__(self, channels: int, stride: int, sizes=(16, 32, 64), ratios=(0.5, 1.0, 2.0),
                 pre_nms=(600, 600), post_nms=(256, 300), nms_threshold: float = 0.7,
                 batch_per_image: int = 256, positive_fraction: float = 0.5):
        super().__init__()
        self.stride, self.sizes, self.ratios = stride, tuple(sizes), tuple(ratios)
        self.pre_nms, self.post_nms, self.nms_threshold = pre_nms, post_nms, nms_threshold
        self.batch_per_image, self.positive_fraction = batch_per_image, positive_fraction
        a = len(self.sizes) * len(self.ratios)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.objectness = nn.Conv2d(channels, a, 1)
        self.deltas = nn.Conv2d(channels, 4 * a, 1)
        for layer in (self.conv, self.objectness, self.deltas):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features: torch.Tensor, image_size: tuple[int, int], targets: list[dict] | None = None
                ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """(proposals: B tensors [P, 4] in pixels, detached; losses {"rpn_objectness", "rpn_box"}, empty without
        targets)."""
        b, _, h, w = features.shape
        t = F.relu(self.conv(features))
        logits = self.objectness(t).permute(0, 2, 3, 1).reshape(b, -1)  # [B, h*w*A], cell-major like anchors
        deltas = self.deltas(t).view(b, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(b, -1, 4)  # [B, h*w*A, 4]
        anchors = make_anchors((h, w), self.stride, self.sizes, self.ratios, features.device)
        mode = 0 if self.training else 1
        proposals = [self.propose(anchors, logits[i].detach(), deltas[i].detach(), image_size, mode)
                     for i in range(b)]
        losses = {} if targets is None else self.losses(anchors, logits, deltas, targets)
        return proposals, losses

    def propose(self, anchors, logits, deltas, image_size, mode: int) -> torch.Tensor:
        top = logits.topk(min(self.pre_nms[mode], len(logits))).indices
        boxes = clip_boxes(decode_boxes(anchors[top], deltas[top].float(), RPN_WEIGHTS), *image_size)
        scores = logits[top]
        ok = ((boxes[:, 2] - boxes[:, 0]) > 1) & ((boxes[:, 3] - boxes[:, 1]) > 1)
        boxes, scores = boxes[ok], scores[ok]
        keep = nms(boxes, scores.float(), self.nms_threshold)[: self.post_nms[mode]]
        return boxes[keep]

    def losses(self, anchors, logits, deltas, targets) -> dict[str, torch.Tensor]:
        """Binary cross-entropy over the sampled anchors; smooth L1 (beta 1/9) over the positives, per sample."""
        obj_loss, box_loss, count = logits.new_zeros(()), logits.new_zeros(()), 0
        for i, tgt in enumerate(targets):
            gt = tgt["boxes"].to(anchors.device)
            matched = match(box_iou(gt, anchors), 0.7, 0.3, allow_low_quality=True)
            pos, neg = sample(matched, self.batch_per_image, self.positive_fraction)
            idx = torch.cat([pos, neg])
            label = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).to(logits)
            obj_loss = obj_loss + F.binary_cross_entropy_with_logits(logits[i, idx].float(), label, reduction="sum")
            if len(pos):
                target = encode_boxes(anchors[pos], gt[matched[pos]], RPN_WEIGHTS)
                box_loss = box_loss + F.smooth_l1_loss(deltas[i, pos].float(), target, beta=1 / 9, reduction="sum")
            count += len(idx)
        count = max(count, 1)
        return {"rpn_objectness": obj_loss / count, "rpn_box": box_loss / count}
