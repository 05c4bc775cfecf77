import shutil

import pytest
import torch

from deeplearn.paths import DataError
from deeplearn.vision.detect.data import (collate_detection, crop, hflip, load_detection, random_augment,
                                          rescale, tile_origins)

OSBS = "OSBS_029"


def _mnist(shared_data, split="train", **kw):
    return load_detection("mnist-detect", split, data_dir=shared_data, **kw)


def test_synthetic_is_seeded(shared_data):
    a, b, c = _mnist(shared_data, seed=3), _mnist(shared_data, seed=3), _mnist(shared_data, seed=4)
    for i in (0, 7):
        (ia, ta), (ib, tb) = a[i], b[i]
        assert torch.equal(ia, ib) and torch.equal(ta["boxes"], tb["boxes"]) and torch.equal(ta["labels"], tb["labels"])
    assert not torch.equal(a[0][0], c[0][0])
    assert not torch.equal(a[0][0], _mnist(shared_data, "test", seed=3)[0][0])
    assert len(a) == 2000 and len(_mnist(shared_data, "test")) == 500 and a.classes == [str(d) for d in range(10)]


def test_synthetic_boxes_are_exact(shared_data):
    """Without clutter the canvas is black but for the digits: every lit pixel lies in a box, and every box edge
    row/column holds a lit pixel (the box is tight)."""
    ds = _mnist(shared_data, clutter=False, num_images=20)
    seen = set()
    for image, target in ds:
        lit = image.max(0).values >= 0.25  # pixel = alpha x colour <= alpha: lit means alpha >= ALPHA_THRESHOLD
        inside = torch.zeros_like(lit)
        for (x1, y1, x2, y2), lab in zip(target["boxes"].long().tolist(), target["labels"].tolist()):
            seen.add(lab)
            inside[y1:y2, x1:x2] = True
            patch = image.max(0).values[y1:y2, x1:x2] > 0.05
            assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
        assert not (lit & ~inside).any()
        assert ((target["boxes"][:, 2:] - target["boxes"][:, :2]) >= 5).all()
    assert len(seen) >= 6


def test_deepforest_split_by_site_and_tiled(shared_data):
    tr = load_detection("deepforest", "train", data_dir=shared_data)
    te = load_detection("deepforest", "test", data_dir=shared_data)
    assert te.ids == [OSBS] and len(te) == 1 and tr.classes == ["Tree"]
    assert all(i.startswith("2019_YELL") for i in tr.ids) and len(tr) == 6 * 7 + 4 * 3
    image, target = tr[len(tr) - 1]
    assert image.shape == (3, 400, 400) and 0 <= image.min() and image.max() <= 1
    assert (target["boxes"] >= 0).all() and (target["boxes"] <= 400).all()
    _, t = te[0]
    assert len(t["boxes"]) == 61 and not t["difficult"].any()
    assert t["boxes"][0].tolist() == [202, 66, 227, 90]  # <bndbox> 203 67 227 90, VOC 1-based inclusive
    assert tile_origins(1035, 400) == [0, 400, 635] and tile_origins(400, 400) == [0]


def test_voc_reader_on_a_real_annotation(shared_data, tmp_path):
    src = shared_data / "detection" / "deepforest"
    shutil.copy(src / f"{OSBS}.xml", tmp_path)
    shutil.copy(src / f"{OSBS}.png", tmp_path)  # the XML names OSBS_029.tif: found by stem
    ds = load_detection(f"voc:{tmp_path}", "all")
    assert ds.classes == ["Tree"] and len(ds) == 1
    image, target = ds[0]
    assert image.shape == (3, 400, 400) and len(target["boxes"]) == 61


def _voc_folder(tmp_path, xml_body, name="a", size=(40, 30), image=True):
    from PIL import Image

    if image:
        Image.new("RGB", size, (10, 20, 30)).save(tmp_path / f"{name}.png")
    (tmp_path / f"{name}.xml").write_text(xml_body)
    return tmp_path / f"{name}.xml"


def _xml(objects, w=40, h=30):
    objs = "".join(f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                   f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for n, b, d in objects)
    return f"<annotation><filename>a.png</filename><size><width>{w}</width><height>{h}</height></size>{objs}</annotation>"


def test_voc_reader_reads_classes_and_difficult(tmp_path):
    _voc_folder(tmp_path, _xml([("cat", (1, 1, 10, 10), 0), ("dog", (5, 5, 40, 30), 1)]))
    ds = load_detection(f"voc:{tmp_path}", "all")
    _, t = ds[0]
    assert ds.classes == ["cat", "dog"] and t["labels"].tolist() == [0, 1] and t["difficult"].tolist() == [False, True]
    assert t["boxes"].tolist() == [[0, 0, 10, 10], [4, 4, 40, 30]]


@pytest.mark.parametrize("case, body, message", [
    ("malformed", "<annotation><object><name>cat</name></annotation>", "malformed XML"),
    ("outside", _xml([("cat", (1, 1, 41, 10), 0)]), "box outside its image"),
    ("unknown", _xml([("cow", (1, 1, 10, 10), 0)]), "unknown class 'cow'"),
])
def test_voc_reader_rejects_bad_files(tmp_path, case, body, message):
    xml = _voc_folder(tmp_path, body)
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    with pytest.raises(DataError, match=message) as e:
        load_detection(f"voc:{tmp_path}", "all")
    assert str(xml) in str(e.value)


def test_voc_reader_rejects_a_missing_image(tmp_path):
    xml = _voc_folder(tmp_path, _xml([("cat", (1, 1, 10, 10), 0)]), image=False)
    with pytest.raises(DataError, match="missing image file") as e:
        load_detection(f"voc:{tmp_path}", "all")
    assert str(xml) in str(e.value)


def test_voc_layout_with_imagesets(tmp_path):
    from PIL import Image

    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (tmp_path / d).mkdir(parents=True)
    for i, n in enumerate(["x", "y", "z"]):
        Image.new("RGB", (40, 30)).save(tmp_path / "JPEGImages" / f"{n}.jpg")
        (tmp_path / "Annotations" / f"{n}.xml").write_text(_xml([(["cat", "dog"][i % 2], (1, 1, 10, 10), 0)]))
    (tmp_path / "ImageSets/Main/train.txt").write_text("x\nz\n")
    (tmp_path / "ImageSets/Main/test.txt").write_text("y\n")
    tr, te = load_detection(f"voc:{tmp_path}", "train"), load_detection(f"voc:{tmp_path}", "test")
    assert tr.ids == ["x", "z"] and te.ids == ["y"] and tr.classes == te.classes == ["cat", "dog"]
    with pytest.raises(DataError, match="val.txt"):
        load_detection(f"voc:{tmp_path}", "val")


def _target(boxes):
    b = torch.tensor(boxes, dtype=torch.float32)
    return {"boxes": b, "labels": torch.arange(len(b)), "difficult": torch.zeros(len(b), dtype=torch.bool)}


def test_augmentation_moves_boxes_with_pixels():
    image = torch.zeros(3, 20, 30)
    image[:, 2:6, 3:10] = 1.0  # a bright block where the box is
    t = _target([[3, 2, 10, 6]])
    fi, ft = hflip(image, t)
    assert ft["boxes"].tolist() == [[20, 2, 27, 6]] and fi[:, 2:6, 20:27].min() == 1 and fi.sum() == image.sum()
    si, st = rescale(image, t, 2.0)
    assert si.shape == (3, 40, 60) and st["boxes"].tolist() == [[6, 4, 20, 12]] and si[:, 5:11, 7:19].min() > 0.99
    ci, ct = crop(image, _target([[3, 2, 10, 6], [25, 15, 30, 20]]), 5, 0, 20, 20)
    assert ci.shape == (3, 20, 20) and ct["boxes"].tolist() == [[0, 2, 5, 6]] and ct["labels"].tolist() == [0]
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a1, b1 = random_augment(image, t, g1)
    a2, b2 = random_augment(image, t, g2)
    assert torch.equal(a1, a2) and torch.equal(b1["boxes"], b2["boxes"])


def test_collate_pads():
    images, targets = collate_detection([(torch.ones(3, 4, 5), _target([[0, 0, 1, 1]])), (torch.ones(3, 6, 2), _target([]))])
    assert images.shape == (2, 3, 6, 5) and images[0, :, 4:].abs().sum() == 0 and images[1, :, :, 2:].abs().sum() == 0
    assert len(targets) == 2


def test_unknown_names():
    with pytest.raises(DataError, match="unknown detection data set 'coco'"):
        load_detection("coco", "train")
    with pytest.raises(DataError, match="no such folder"):
        load_detection("voc:/nonexistent/x", "train")
