"""Detection metrics: PASCAL VOC average precision per class and mAP at IoU 0.5, with the VOC2007 11-point and
the VOC2010+ all-point interpolation (Everingham et al. 2010, sec. 4.2; the devkit's VOCevaldet/VOCap), and the
COCO mAP averaged over IoU 0.50:0.05:0.95 with 101-point interpolation (COCOeval's rules, no area ranges).

Difficult boxes are ignored as VOC does: they count in no recall denominator, and a detection whose best match is
a difficult box is neither a true nor a false positive (COCO's "ignore" flag takes the same role). Overlaps are
of exclusive boxes (no "+1" of the devkit's inclusive pixels); a match needs IoU >= the threshold.

    result = evaluate_detections(predictions, targets, classes)
    result["map50"], result["map50_voc07"], result["coco_map"], result["ap_per_class"]["Tree"]
"""

from __future__ import annotations

import numpy as np
import torch

from deeplearn.vision.detect.boxes import box_iou

COCO_IOUS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def voc07_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """11-point interpolated AP: the mean over r in {0, 0.1, ..., 1} of max precision at recall >= r (0 if none)."""
    points = [precision[recall >= t / 10].max() if (recall >= t / 10).any() else 0.0 for t in range(11)]
    return float(np.mean(points))


def all_point_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (precision made non-increasing in recall), VOC2010+."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def coco_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """101-point interpolation of COCOeval: envelope precision at recall 0, 0.01, ..., 1 (0 past the last recall)."""
    env = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    idx = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.mean([env[i] if i < len(env) else 0.0 for i in idx]))


def _per_class(predictions, targets, c: int):
    """Per image: (scores [k], IoU matrix [k, g], difficult [g]) for class c; detections sorted by score."""
    out = []
    for p, t in zip(predictions, targets):
        dm, gm = _np(p["labels"]) == c, _np(t["labels"]) == c
        scores = _np(p["scores"])[dm].astype(np.float64)
        order = np.argsort(-scores, kind="stable")
        gt = t["boxes"][torch.from_numpy(gm)] if gm.any() else None
        det = p["boxes"][torch.from_numpy(dm)][torch.from_numpy(order)] if dm.any() else None
        iou = _np(box_iou(det.float(), gt.float())).astype(np.float64) if gt is not None and det is not None \
            else np.zeros((len(order), int(gm.sum())))
        difficult = _np(t.get("difficult", torch.zeros(len(gm), dtype=torch.bool)))[gm].astype(bool)
        out.append((scores[order], iou, difficult))
    return out


def _voc_match(iou: np.ndarray, difficult: np.ndarray, threshold: float) -> np.ndarray:
    """VOC: each detection (by score) takes its highest-IoU box; 1 = TP, 0 = FP, -1 = ignored (a difficult box)."""
    flags = np.zeros(len(iou), np.int8)
    used = np.zeros(iou.shape[1], bool)
    for d in range(len(iou)):
        if iou.shape[1] == 0:
            continue
        j = int(np.argmax(iou[d]))
        if iou[d, j] >= threshold:
            if difficult[j]:
                flags[d] = -1
            elif not used[j]:
                flags[d], used[j] = 1, True
    return flags


def _coco_match(iou: np.ndarray, difficult: np.ndarray, threshold: float) -> np.ndarray:
    """COCO: each detection takes the unmatched box of highest IoU >= threshold, non-ignored boxes first."""
    flags = np.zeros(len(iou), np.int8)
    used = np.zeros(iou.shape[1], bool)
    order = np.argsort(difficult, kind="stable")  # ignored boxes last
    for d in range(len(iou)):
        best, best_iou = -1, min(threshold, 1 - 1e-10)
        for j in order:
            if used[j]:
                continue
            if best > -1 and not difficult[best] and difficult[j]:
                break
            if iou[d, j] >= best_iou:
                best, best_iou = j, iou[d, j]
        if best > -1:
            used[best] = True
            flags[d] = -1 if difficult[best] else 1
    return flags


def _pr(per_image, flags_of, npos: int):
    scores = np.concatenate([s for s, _, _ in per_image]) if per_image else np.zeros(0)
    flags = np.concatenate(flags_of) if flags_of else np.zeros(0, np.int8)
    order = np.argsort(-scores, kind="stable")
    flags = flags[order]
    flags = flags[flags >= 0]
    tp = np.cumsum(flags == 1)
    fp = np.cumsum(flags == 0)
    recall = tp / max(npos, 1)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return recall, precision


def class_ap(per_image, threshold: float, coco: bool = False, max_dets: int = 100):
    """AP of one class at one IoU threshold. Returns (recall, precision, npos); npos = non-difficult boxes."""
    npos = int(sum((~d).sum() for _, _, d in per_image))
    if coco:
        per_image = [(s[:max_dets], iou[:max_dets], d) for s, iou, d in per_image]
    match = _coco_match if coco else _voc_match
    flags = [match(iou, d, threshold) for _, iou, d in per_image]
    recall, precision = _pr(per_image, flags, npos)
    return recall, precision, npos


def _mean(values) -> float:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def evaluate_detections(predictions: list[dict], targets: list[dict], classes: list[str],
                        iou_threshold: float = 0.5, max_dets: int = 100) -> dict:
    """Score a detector on a data set.

    Args:
        predictions: per image {"boxes" [K, 4], "scores" [K], "labels" [K]}; targets: per image {"boxes", "labels",
        "difficult" (optional)}; classes: the class names (label i is classes[i]); iou_threshold: VOC's 0.5;
        max_dets: COCO's detections kept per image and class (by score).
    Returns:
        {"map50" (all-point), "map50_voc07" (11-point), "coco_map" (mean over IoU .50:.95), "map75" (COCO rules),
        "ap_per_class", "ap_per_class_voc07", "coco_ap_per_class" (class name -> AP, None for a class with no
        non-difficult box, which stays out of the means), "num_gt_per_class", "pr_curves" (class name ->
        (recall list, precision list) at IoU 0.5)}.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} images")
    res = {k: {} for k in ("ap_per_class", "ap_per_class_voc07", "coco_ap_per_class", "num_gt_per_class",
                           "pr_curves", "_ap75")}
    for c, name in enumerate(classes):
        per_image = _per_class(predictions, targets, c)
        recall, precision, npos = class_ap(per_image, iou_threshold)
        res["num_gt_per_class"][name] = npos
        res["pr_curves"][name] = (recall.tolist(), precision.tolist())
        if npos == 0:
            for k in ("ap_per_class", "ap_per_class_voc07", "coco_ap_per_class", "_ap75"):
                res[k][name] = None
            continue
        res["ap_per_class"][name] = all_point_ap(recall, precision)
        res["ap_per_class_voc07"][name] = voc07_ap(recall, precision)
        coco = {t: coco_ap(*class_ap(per_image, t, coco=True, max_dets=max_dets)[:2]) for t in COCO_IOUS}
        res["coco_ap_per_class"][name] = float(np.mean(list(coco.values())))
        res["_ap75"][name] = coco[0.75]
    res["map50"] = _mean(res["ap_per_class"].values())
    res["map50_voc07"] = _mean(res["ap_per_class_voc07"].values())
    res["coco_map"] = _mean(res["coco_ap_per_class"].values())
    res["map75"] = _mean(res.pop("_ap75").values())
    return res


def plot_pr_curves(result: dict, path, title: str = "precision-recall at IoU 0.5") -> None:
    """The PR curve of every class (from `evaluate_detections`) as one PNG, AP in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, (rec, prec) in result["pr_curves"].items():
        ap = result["ap_per_class"].get(name)
        if ap is not None:
            ax.plot([0.0] + rec, [1.0] + prec if prec else [1.0], label=f"{name}: AP {ap:.3f}", lw=1.2)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"{title}\nmAP {result['map50']:.3f} (VOC07 {result['map50_voc07']:.3f}), COCO {result['coco_map']:.3f}")
    ax.grid(alpha=0.3)
    if len(result["pr_curves"]) <= 12:
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
