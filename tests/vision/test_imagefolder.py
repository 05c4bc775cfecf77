"""ImageNet-style data: the ImageFolder loader on a generated folder, its crops, GoogLeNet through `deeplearn train`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from deeplearn.cli import main
from deeplearn.paths import DataError
from deeplearn.supervised.imagefolder import ImageFolder, center_crop, random_resized_crop

CLASSES = ["red", "green", "blue"]


def make_folder(root, per_class=(4, 2), size=(80, 64)):
    """ROOT/{train,val}/<class>/*.png|jpg: noise tinted by class, so the classes can be told apart."""
    rng = np.random.default_rng(0)
    for split, n in zip(("train", "val"), per_class):
        for k, c in enumerate(CLASSES):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                px = rng.integers(0, 100, (size[1], size[0], 3))
                px[..., k] += 155
                Image.fromarray(px.astype(np.uint8)).save(d / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_loader_gives_uint8_crops_and_sorted_classes(tmp_path):
    root = make_folder(tmp_path)
    train = ImageFolder(root / "train", size=48, train=True)
    assert train.classes == sorted(CLASSES) and len(train) == 12
    x, label = train[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 48, 48)
    assert train.classes[label] == "blue" and x[2].float().mean() > x[0].float().mean() + 100
    val = ImageFolder(root / "val", size=48, train=False, classes=train.classes)
    assert torch.equal(val[0][0], val[0][0])  # evaluation is deterministic
    assert len({train[0][0].sum().item() for _ in range(5)}) > 1  # training crops are random


def test_center_crop_and_random_resized_crop_geometry():
    img = Image.new("RGB", (200, 100))
    img.paste((255, 255, 255), (90, 40, 110, 60))  # a white 20x20 square in the middle
    out = np.asarray(center_crop(img, 56))  # short side 100 -> 64 (56 * 256/224), then the central 56x56
    assert out.shape == (56, 56, 3)
    white = np.argwhere(out[..., 0] > 128)
    assert abs(white.mean(0) - 27.5).max() < 1 and 11 <= len(white) ** 0.5 <= 15  # centred, 20 * 0.64 = 12.8 px
    import random

    random.seed(0)
    sizes = {random_resized_crop(img, 32).size for _ in range(10)}
    assert sizes == {(32, 32)}


def test_non_image_file_is_named(tmp_path):
    root = make_folder(tmp_path)
    (root / "train" / "red" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="notes.txt"):
        ImageFolder(root / "train")


def test_corrupt_image_is_named_by_train(tmp_path, capsys):
    root = make_folder(tmp_path)
    (root / "train" / "green" / "broken.jpg").write_bytes(b"\xff\xd8\xff this is no JPEG")
    args = ["train", "--model", "mlp", "--data", "imagefolder", "--data-dir", str(root), "--image-size", "16",
            "--epochs", "1", "--batch-size", "13", "--threads", "1", "--progress", "none", "--out", str(tmp_path / "r")]
    assert main(args) == 2  # one batch of all 13 training files: the broken one is read
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "cannot decode" in err


def test_googlenet_trains_on_an_image_folder(tmp_path):
    """The issue's command, `deeplearn train --model googlenet --data imagefolder`, at 224x224 on CPU: 2 steps."""
    root = make_folder(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--model", "googlenet", "--data", "imagefolder", "--data-dir", str(root), "--steps", "2",
                 "--batch-size", "2", "--threads", "2", "--progress", "none", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    assert summary["steps"] == 2 and 0 <= summary["test"]["test_acc"] <= 1
    assert cfg["meta"]["input_shape"] == [3, 224, 224] and cfg["meta"]["class_names"] == sorted(CLASSES)
    per_class = json.loads((out / "test_per_class.json").read_text())
    assert sorted(per_class["per_class_acc"]) == sorted(CLASSES) and np.sum(per_class["confusion"]) == 6
    assert (out / "test_confusion.png").exists()
