import contextlib
import io

import numpy as np
import pytest
import torch

from deeplearn.vision.detect.metrics import all_point_ap, evaluate_detections, plot_pr_curves, voc07_ap


def _t(boxes, labels, difficult=None):
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    d = torch.zeros(len(b), dtype=torch.bool) if difficult is None else torch.tensor(difficult)
    return {"boxes": b, "labels": torch.tensor(labels, dtype=torch.long), "difficult": d}


def _p(boxes, scores, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "scores": torch.tensor(scores, dtype=torch.float32), "labels": torch.tensor(labels, dtype=torch.long)}


def test_perfect_detections_score_one():
    targets = [_t([[0, 0, 10, 10], [20, 20, 40, 45]], [0, 1]), _t([[5, 5, 30, 30]], [1])]
    preds = [_p(t["boxes"].tolist(), [0.9] * len(t["boxes"]), t["labels"].tolist()) for t in targets]
    r = evaluate_detections(preds, targets, ["a", "b"])
    assert r["map50"] == r["map50_voc07"] == r["coco_map"] == 1.0
    assert r["ap_per_class"] == {"a": 1.0, "b": 1.0}


def _hand_case():
    """3 real boxes of one class in two images, one difficult box; detections by score: TP, FP (a duplicate of the
    first), TP, FP (empty space); a detection on the difficult box (ignored) and a false one scored below all."""
    targets = [_t([[0, 0, 10, 10], [50, 50, 70, 70], [80, 0, 95, 20]], [0, 0, 0], [False, False, True]),
               _t([[10, 10, 30, 40]], [0])]
    preds = [_p([[0, 0, 10, 10], [0.5, 0, 10, 10], [80, 0, 95, 20]], [0.9, 0.8, 0.95], [0, 0, 0]),
             _p([[10, 10, 30, 40], [60, 0, 70, 5]], [0.7, 0.6], [0, 0])]
    return preds, targets


def test_hand_computed_ap_both_interpolations():
    # order: difficult (ignored), TP, FP, TP, FP; npos = 3:
    # recall 1/3, 1/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2
    r = evaluate_detections(*_hand_case(), ["x"])
    assert r["num_gt_per_class"] == {"x": 3}
    assert r["map50"] == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)          # all-point: 5/9
    assert r["map50_voc07"] == pytest.approx((4 * 1 + 3 * 2 / 3 + 4 * 0) / 11)  # r = 0..0.3 | 0.4..0.6 | 0.7..1
    assert r["coco_map"] == pytest.approx((34 * 1 + 33 * 2 / 3) / 101)   # exact boxes: the same at every IoU
    rec, prec = r["pr_curves"]["x"]
    assert rec == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3]) and prec == pytest.approx([1, 1 / 2, 2 / 3, 1 / 2])


def test_interpolations_on_a_curve():
    rec, prec = np.array([0.2, 0.4, 0.4, 0.8]), np.array([1.0, 0.5, 0.6, 0.4])
    assert all_point_ap(rec, prec) == pytest.approx(0.2 * 1 + 0.2 * 0.6 + 0.4 * 0.4)
    assert voc07_ap(rec, prec) == pytest.approx((3 * 1 + 2 * 0.6 + 4 * 0.4) / 11)


def test_iou_threshold_and_missing_class():
    targets = [_t([[0, 0, 10, 10]], [0])]
    shifted = [_p([[4, 0, 14, 10]], [0.9], [0])]  # IoU 6/14 < 0.5
    r = evaluate_detections(shifted, targets, ["a", "b"])
    assert r["map50"] == 0.0 and r["ap_per_class"]["b"] is None
    assert evaluate_detections([_p([], [], [])], targets, ["a"])["map50"] == 0.0


def _random_case(seed, n_images=6, n_classes=4):
    g = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for _ in range(n_images):
        k = int(torch.randint(1, 6, (1,), generator=g))
        xy = torch.rand(k, 2, generator=g) * 80
        gt = torch.cat([xy, xy + 8 + torch.rand(k, 2, generator=g) * 30], 1)
        labels = torch.randint(0, n_classes, (k,), generator=g)
        jitter = gt + torch.randn(k, 4, generator=g) * 3
        m = int(torch.randint(0, 6, (1,), generator=g))
        fxy = torch.rand(m, 2, generator=g) * 80
        false = torch.cat([fxy, fxy + 8 + torch.rand(m, 2, generator=g) * 30], 1)
        boxes = torch.cat([jitter, false])
        boxes = torch.cat([boxes[:, :2], torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1)
        targets.append({"boxes": gt, "labels": labels, "difficult": torch.zeros(k, dtype=torch.bool)})
        preds.append({"boxes": boxes, "scores": torch.rand(k + m, generator=g),
                      "labels": torch.cat([labels, torch.randint(0, n_classes, (m,), generator=g)])})
    return preds, targets


@pytest.mark.parametrize("seed", range(8))
def test_voc07_map_equals_kornia(seed):
    from kornia.metrics import mean_average_precision

    preds, targets = _random_case(seed)
    ours = evaluate_detections(preds, targets, list("abcd"))
    theirs, per_class = mean_average_precision(  # kornia: class 0 is background, so labels shift by one
        [p["boxes"] for p in preds], [p["labels"] + 1 for p in preds], [p["scores"] for p in preds],
        [t["boxes"] for t in targets], [t["labels"] + 1 for t in targets], n_classes=5)
    assert ours["map50_voc07"] == pytest.approx(float(theirs), abs=1e-6)
    for c, name in enumerate("abcd"):
        expected = per_class[c + 1]
        assert (ours["ap_per_class_voc07"][name] is None) == (expected == -1.0)
        if expected != -1.0:
            assert ours["ap_per_class_voc07"][name] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_coco_map_equals_pycocotools(seed):
    pytest.importorskip("pycocotools", reason="pycocotools (the dev extra) is the COCO oracle")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    preds, targets = _random_case(100 + seed, n_classes=3)
    for t in targets:  # every class present, so the two means run over the same classes
        t["labels"][: min(3, len(t["labels"]))] = torch.arange(min(3, len(t["labels"])))
    xywh = lambda b: [b[0], b[1], b[2] - b[0], b[3] - b[1]]  # noqa: E731
    rows = [(i, b, int(c)) for i, t in enumerate(targets) for b, c in zip(t["boxes"].tolist(), t["labels"])]
    anns = [{"id": k + 1, "image_id": i, "category_id": c, "bbox": xywh(b), "iscrowd": 0,
             "area": (b[2] - b[0]) * (b[3] - b[1])} for k, (i, b, c) in enumerate(rows)]
    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i in range(len(targets))], "annotations": anns,
                  "categories": [{"id": c} for c in range(3)]}
    dets = [{"image_id": i, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
            for i, p in enumerate(preds) for b, c, s in zip(p["boxes"].tolist(), p["labels"], p["scores"])]
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    ours = evaluate_detections(preds, targets, ["a", "b", "c"])
    assert ours["coco_map"] == pytest.approx(ev.stats[0], abs=1e-6)
    assert ours["map75"] == pytest.approx(ev.stats[2], abs=1e-6)


def test_pr_curve_png(tmp_path):
    r = evaluate_detections(*_hand_case(), ["x"])
    plot_pr_curves(r, tmp_path / "pr.png")
    assert (tmp_path / "pr.png").read_bytes()[:4] == b"\x89PNG"


def test_draw_detections_marks_the_box(tmp_path):
    from deeplearn.vision.detect.draw import save_detections

    image = torch.zeros(3, 40, 50)
    pred = _p([[10, 5, 30, 25]], [0.9], [0])
    path = save_detections(tmp_path / "d.png", image, pred, classes=["a"], target=_t([[0, 0, 5, 5]], [0]))
    from PIL import Image

    arr = np.asarray(Image.open(path))
    assert arr.shape == (40, 50, 3)
    assert (arr[15, 10] == (230, 25, 75)).all() and (arr[2, 0] == 255).all() and arr[15, 20].sum() == 0
