"""The deep detectors' parts against hand cases: anchors, matching, RoIAlign, NMS, CenterNet's targets."""

import math

import pytest
import torch

from deeplearn.vision.detect import boxes, fast_nms
from deeplearn.vision.detect.centernet import CenterNet, decode, encode, focal_loss, gaussian_radius
from deeplearn.vision.detect.faster_rcnn import FasterRCNN
from deeplearn.vision.detect.roi_align import roi_align, roi_align_grid
from deeplearn.vision.detect.rpn import IGNORE, NEGATIVE, make_anchors, match, sample


def test_anchors_sit_on_the_cell_centres_with_the_given_area_and_ratio():
    a = make_anchors((2, 3), 8, sizes=[16], ratios=[1.0])
    assert a.shape == (6, 4)
    assert a[0].tolist() == [-4, -4, 12, 12]  # cell (0, 0): centre (4, 4), 16 x 16
    assert a[1].tolist() == [4, -4, 20, 12]  # cell (0, 1): x moves by the stride
    assert a[3].tolist() == [-4, 4, 12, 20]  # cell (1, 0)
    a = make_anchors((1, 1), 8, sizes=[16, 32], ratios=[0.5, 2.0])  # cell-major, size-then-ratio order
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    torch.testing.assert_close(w * h, torch.tensor([256.0, 256, 1024, 1024]))
    torch.testing.assert_close(h / w, torch.tensor([0.5, 2.0, 0.5, 2.0]))
    torch.testing.assert_close((a[:, :2] + a[:, 2:]) / 2, torch.full((4, 2), 4.0))


def test_matching_follows_the_rpn_rules():
    iou = torch.tensor([[0.8, 0.5, 0.2, 0.1],
                        [0.1, 0.6, 0.1, 0.25]])
    m = match(iou, 0.7, 0.3, allow_low_quality=False)
    assert m.tolist() == [0, IGNORE, NEGATIVE, NEGATIVE]
    m = match(iou, 0.7, 0.3, allow_low_quality=True)  # box 1's best anchor (1) is positive too
    assert m.tolist() == [0, 1, NEGATIVE, NEGATIVE]
    pos, neg = sample(torch.tensor([0, 1, -1, -1, -1, -2]), 4, 0.25)
    assert len(pos) == 1 and len(neg) == 3 and set(neg.tolist()) <= {2, 3, 4}


def test_roi_align_of_a_linear_map_is_the_map_at_the_bin_centres():
    # Bilinear interpolation of f(u, v) = u + 2 v is exact, so each bin's mean is f at the bin's centre
    # (u, v: cell index coordinates; a point x in pixels is cell coordinate x / stride - 0.5).
    u = torch.arange(10.0)
    f = (u[None, :] + 2 * u[:, None]).view(1, 1, 10, 10).repeat(1, 3, 1, 1) * torch.tensor([1.0, -1, 3]).view(1, 3, 1, 1)
    roi = torch.tensor([[8.0, 12.0, 30.0, 36.0]])
    out = roi_align(f, [roi], output_size=4, stride=4, sampling_ratio=2)
    cx = 8 / 4 + (torch.arange(4) + 0.5) * (22 / 4 / 4) - 0.5
    cy = 12 / 4 + (torch.arange(4) + 0.5) * (24 / 4 / 4) - 0.5
    expected = cx[None, :] + 2 * cy[:, None]
    torch.testing.assert_close(out[0, 0], expected)
    torch.testing.assert_close(out[0, 1], -expected)
    torch.testing.assert_close(out[0, 2], 3 * expected)


def test_separable_roi_align_equals_grid_sample_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(2, 5, 12, 14, generator=g, requires_grad=True)
    f2 = f1.detach().clone().requires_grad_(True)
    xy = torch.rand(30, 2, generator=g) * 120 - 8  # some regions leave the map (zero padding)
    r = torch.cat([xy, xy + torch.rand(30, 2, generator=g) * 50 + 0.5], 1)
    rois = [r[:20], r[20:]]
    a, b = roi_align(f1, rois, 7, 8, 2), roi_align_grid(f2, rois, 7, 8, 2)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    w = torch.randn(a.shape, generator=g)
    (a * w).sum().backward()
    (b * w).sum().backward()
    torch.testing.assert_close(f1.grad, f2.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_matrix_nms_equals_kornias(n):
    g = torch.Generator().manual_seed(n)
    xy = torch.rand(n, 2, generator=g) * 100
    b = torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 30 + 1], 1)
    s = torch.rand(n, generator=g)
    labels = torch.randint(0, 3, (n,), generator=g)
    for t in (0.3, 0.5, 0.7):
        assert torch.equal(fast_nms.nms(b, s, t), boxes.nms(b, s, t))
        assert torch.equal(fast_nms.batched_nms(b, s, labels, t), boxes.batched_nms(b, s, labels, t))


def test_gaussian_radius_keeps_the_corner_shifted_box_above_the_overlap():
    w, h = torch.tensor([10.0, 30.0, 8.0]), torch.tensor([10.0, 12.0, 40.0])
    r = gaussian_radius(w, h, 0.7)
    for wi, hi, ri in zip(w, h, r):
        truth = torch.tensor([[0.0, 0.0, wi, hi]])
        for moved in ([ri, ri, wi + ri, hi + ri], [ri, ri, wi - ri, hi - ri], [-ri, -ri, wi + ri, hi + ri]):
            assert boxes.box_iou(truth, torch.tensor([moved]))[0, 0] >= 0.7 - 1e-4


def test_centernet_targets_decode_back_to_the_boxes():
    b = torch.tensor([[10.0, 12.0, 40.0, 50.0], [60.0, 20.0, 90.0, 44.5], [5.0, 70.0, 30.0, 120.0],
                      [70.0, 80.0, 84.0, 99.0]])
    labels = torch.tensor([1, 1, 3, 0])
    t = encode(b, labels, 5, (32, 32), 4)
    assert t["heatmap"].max() == 1 and t["mask"].sum() == 4
    assert t["heatmap"][1].eq(1).sum() == 2 and t["heatmap"][0].eq(1).sum() == 1  # one peak per object
    p = decode(t["heatmap"][None], t["size"][None], t["offset"][None], stride=4, k=10, score_threshold=0.99)[0]
    order = p["boxes"][:, 0].argsort()
    torch.testing.assert_close(p["boxes"][order], b[b[:, 0].argsort()])
    assert p["labels"][order].tolist() == labels[b[:, 0].argsort()].tolist()
    assert torch.all(p["scores"] == 1)


def test_focal_loss_by_hand():
    logits = torch.tensor([[0.0, 1.0]])
    target = torch.tensor([[1.0, 0.5]])
    p = torch.sigmoid(logits)
    expected = -((1 - p[0, 0]) ** 2 * torch.log(p[0, 0]) + (1 - 0.5) ** 4 * p[0, 1] ** 2 * torch.log(1 - p[0, 1]))
    torch.testing.assert_close(focal_loss(logits, target), expected)


@pytest.mark.parametrize("cls", [CenterNet, FasterRCNN])
def test_one_output_type_in_both_modes(cls):
    torch.manual_seed(0)
    model = cls(3, widths=(8, 8, 16, 16), features=16)
    images = torch.rand(2, 3, 64, 48)
    targets = [{"boxes": torch.tensor([[4.0, 5.0, 30.0, 40.0]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]  # an empty image too
    for mode in (True, False):
        model.train(mode)
        losses = model(images, targets)
        assert losses["loss"].ndim == 0 and math.isfinite(losses["loss"].item())
        preds = model.predict(images)
        assert len(preds) == 2 and all(set(p) == {"boxes", "scores", "labels"} for p in preds)
        assert all(p["boxes"].shape[1] == 4 and len(p["boxes"]) == len(p["scores"]) for p in preds)
    losses["loss"].backward()
