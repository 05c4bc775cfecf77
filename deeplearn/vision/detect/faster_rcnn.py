"""Faster R-CNN (Ren, He, Girshick, Sun 2015): a region proposal network and a Fast R-CNN head on one shared
feature map, trained jointly (the paper's approximate joint training: proposals are treated as constants).

    images [B, 3, H, W] -> backbone (stride 8) -> RPN -> proposals -> RoIAlign 7x7 -> 2 x FC -> class (C + 1)
                                                                                          \\-> box deltas (4 C)

Second stage (Girshick 2015, Fast R-CNN sec. 2.3): the ground-truth boxes join the proposals; a proposal is
foreground with IoU >= 0.5 to a box (label = its class + 1), background below 0.5; 128 per image are sampled,
up to 25 % foreground; cross-entropy over the classes, smooth L1 on the foreground's class-specific deltas
(weights 10, 10, 5, 5). Inference: softmax scores, per-class decoding, score > 0.05, class-wise NMS at 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.vision.detect.backbone import Backbone
from deeplearn.vision.detect.boxes import box_iou, clip_boxes, decode_boxes, encode_boxes
from deeplearn.vision.detect.fast_nms import batched_nms
from deeplearn.vision.detect.roi_align import roi_align
from deeplearn.vision.detect.rpn import RPN, match, sample

HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


class BoxHead(nn.Module):
    """Two fully connected layers on the pooled region, then class logits and class-specific deltas."""

    def __init__(self, channels: int, pool: int, hidden: int, num_classes: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(channels * pool * pool, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.cls = nn.Linear(hidden, num_classes + 1)  # class 0 = background
        self.box = nn.Linear(hidden, 4 * num_classes)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.normal_(self.box.weight, std=0.001)
        nn.init.zeros_(self.cls.bias)
        nn.init.zeros_(self.box.bias)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.fc(pooled)
        return self.cls(x), self.box(x).view(len(x), -1, 4)  # [R, C+1], [R, C, 4]


class FasterRCNN(nn.Module):
    """`forward(images, targets)` -> the loss dict; `predict(images)` -> one prediction dict per image.

    Args:
      num_classes: C (no background class).
      widths, features: the backbone's channels; hidden: the box head's width.
      anchor_sizes, anchor_ratios: the RPN's anchors (pixels; height / width).
      rois_per_image, foreground_fraction: the second stage's sampling.
      score_threshold, nms_threshold, max_detections: inference.
    """

    stride = 8
    pool = 7

    def __init__(self, num_classes: int, widths=(24, 32, 64, 128), features: int = 64, hidden: int = 256,
                 anchor_sizes=(16, 32, 64), anchor_ratios=(0.5, 1.0, 2.0), rois_per_image: int = 128,
                 foreground_fraction: float = 0.25, score_threshold: float = 0.05, nms_threshold: float = 0.5,
                 max_detections: int = 100):
        super().__init__()
        self.num_classes = num_classes
        self.rois_per_image, self.foreground_fraction = rois_per_image, foreground_fraction
        self.score_threshold, self.nms_threshold, self.max_detections = score_threshold, nms_threshold, max_detections
        self.backbone = Backbone(tuple(widths), features, out_stride=self.stride)
        self.rpn = RPN(features, self.stride, anchor_sizes, anchor_ratios)
        self.head = BoxHead(features, self.pool, hidden, num_classes)

    def forward(self, images: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        """Training losses {"loss" (the sum), "rpn_objectness", "rpn_box", "classifier", "box"}."""
        f = self.backbone(images)
        targets = [{k: v.to(images.device) for k, v in t.items() if torch.is_tensor(v)} for t in targets]
        proposals, losses = self.rpn(f, images.shape[-2:], targets)
        rois, labels, deltas = self.sample_rois(proposals, targets)
        logits, box = self.head(roi_align(f, rois, self.pool, self.stride))
        labels, deltas = torch.cat(labels), torch.cat(deltas)
        losses["classifier"] = F.cross_entropy(logits.float(), labels)
        fg = torch.nonzero(labels > 0).flatten()
        pred = box[fg, labels[fg] - 1].float()  # [F, 4]: the deltas of each foreground's own class
        losses["box"] = F.smooth_l1_loss(pred, deltas[fg], beta=1 / 9, reduction="sum") / max(len(labels), 1)
        total = sum(losses.values())
        return {"loss": total, **{k: v.detach() for k, v in losses.items()}}

    losses = forward

    def sample_rois(self, proposals, targets):
        """Per image: (regions [R, 4], labels [R] with 0 = background, regression targets [R, 4])."""
        rois, labels, deltas = [], [], []
        for p, t in zip(proposals, targets):
            gt, gl = t["boxes"], t["labels"]
            p = torch.cat([p, gt])
            matched = match(box_iou(gt, p), 0.5, 0.5, allow_low_quality=False)
            pos, neg = sample(matched, self.rois_per_image, self.foreground_fraction)
            idx = torch.cat([pos, neg])
            label = torch.cat([gl[matched[pos]] + 1, torch.zeros(len(neg), dtype=torch.long, device=p.device)])
            target = torch.zeros(len(idx), 4, device=p.device)
            if len(pos):
                target[: len(pos)] = encode_boxes(p[pos], gt[matched[pos]], HEAD_WEIGHTS)
            rois.append(p[idx])
            labels.append(label)
            deltas.append(target)
        return rois, labels, deltas

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        f = self.backbone(images)
        size = images.shape[-2:]
        proposals, _ = self.rpn(f, size)
        logits, box = self.head(roi_align(f, proposals, self.pool, self.stride))
        scores = logits.float().softmax(-1)[:, 1:]  # [R, C]
        out, start = [], 0
        for p in proposals:
            s, d = scores[start:start + len(p)], box[start:start + len(p)].float()
            start += len(p)
            out.append(self.detections(p, s, d, size))
        return out

    def detections(self, proposals, scores, deltas, size) -> dict[str, torch.Tensor]:
        """One image's boxes from its proposals [P, 4], class scores [P, C] and deltas [P, C, 4]."""
        c = self.num_classes
        ref = proposals.repeat_interleave(c, dim=0)  # [P*C, 4], proposal-major like deltas.view(-1, 4)
        boxes = clip_boxes(decode_boxes(ref, deltas.reshape(-1, 4), HEAD_WEIGHTS), *size)
        scores = scores.reshape(-1)
        labels = torch.arange(c, device=proposals.device).repeat(len(proposals))
        ok = (scores > self.score_threshold) & ((boxes[:, 2] - boxes[:, 0]) > 1e-2) & \
             ((boxes[:, 3] - boxes[:, 1]) > 1e-2)
        boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
        keep = batched_nms(boxes, scores, labels, self.nms_threshold)
        keep = keep[scores[keep].argsort(descending=True)][: self.max_detections]
        return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
