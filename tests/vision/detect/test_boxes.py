import torch

from deeplearn.vision.detect.boxes import (batched_nms, box_iou, clip_boxes, decode_boxes, encode_boxes, nms,
                                           remove_small_boxes)


def test_iou_hand_cases_and_kornia():
    a = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15]])
    b = torch.tensor([[0.0, 0, 10, 10], [10, 10, 20, 20], [0, 0, 5, 10]])
    iou = box_iou(a, b)
    assert torch.allclose(iou[0], torch.tensor([1.0, 0.0, 0.5]))
    assert torch.isclose(iou[1, 0], torch.tensor(25 / 175))
    from kornia.metrics import mean_iou_bbox

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(30, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 1 + torch.rand(30, 2, generator=g) * 30], 1)
    assert torch.allclose(box_iou(boxes[:12], boxes[12:]), mean_iou_bbox(boxes[:12], boxes[12:]), atol=1e-6)


def test_nms_keeps_the_best_of_each_cluster():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9.5]])
    scores = torch.tensor([0.9, 0.95, 0.5, 0.3])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2, 3]
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


def test_batched_nms_is_nms_per_class():
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(60, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1)
    scores = torch.rand(60, generator=g)
    labels = torch.randint(0, 3, (60,), generator=g)
    kept = set(batched_nms(boxes, scores, labels, 0.4).tolist())
    expected = set()
    for c in range(3):
        idx = torch.nonzero(labels == c).reshape(-1)
        expected |= set(idx[nms(boxes[idx], scores[idx], 0.4)].tolist())
    assert kept == expected
    # a greedy NMS leaves no two kept boxes of one class above the threshold
    k = torch.tensor(sorted(kept))
    iou = box_iou(boxes[k], boxes[k]) * (labels[k][:, None] == labels[k][None, :])
    assert (iou.fill_diagonal_(0) <= 0.4).all()


def test_encode_decode_round_trip_and_hand_case():
    ref = torch.tensor([[10.0, 10, 30, 50]])  # centre (20, 30), 20 x 40
    box = torch.tensor([[12.0, 6, 52, 46]])   # centre (32, 26), 40 x 40
    d = encode_boxes(ref, box, (1, 1, 1, 1))
    assert torch.allclose(d, torch.tensor([[12 / 20, -4 / 40, torch.log(torch.tensor(2.0)), 0.0]]))
    assert torch.allclose(encode_boxes(ref, box), d * torch.tensor([10, 10, 5, 5]))
    g = torch.Generator().manual_seed(2)
    xy = torch.rand(100, 2, generator=g) * 100
    refs = torch.cat([xy, xy + 2 + torch.rand(100, 2, generator=g) * 50], 1)
    xy2 = torch.rand(100, 2, generator=g) * 100
    boxes = torch.cat([xy2, xy2 + 2 + torch.rand(100, 2, generator=g) * 50], 1)
    for w in [(10, 10, 5, 5), (1, 1, 1, 1)]:
        assert torch.allclose(decode_boxes(refs, encode_boxes(refs, boxes, w), w), boxes, atol=1e-3)


def test_clip_and_small():
    b = torch.tensor([[-5.0, 3, 120, 90], [10, 10, 11, 40]])
    assert clip_boxes(b, 80, 100).tolist() == [[0, 3, 100, 80], [10, 10, 11, 40]]
    assert remove_small_boxes(b, 2).tolist() == [0]
