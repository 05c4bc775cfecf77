"""Filter grids and feature-map grids; the `deeplearn vision` commands with a stand-in for load_classifier."""

import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from deeplearn.cli import main
from deeplearn.models import get
from deeplearn.vision.visualize import draw_feature_maps, draw_filters, feature_maps, first_layer_filters


def build(name, num_classes=10):
    spec = get(name)
    return spec.build(num_classes, (spec.channels, *spec.input_size)).eval(), spec


@pytest.mark.parametrize("name,shape", [("lenet5", (6, 1, 5, 5)), ("alexnet-cifar", (96, 3, 11, 11)),
                                        ("zfnet-cifar", (96, 3, 7, 7))])
def test_draw_filters(tmp_path, name, shape):
    model, _ = build(name)
    assert tuple(first_layer_filters(model).shape) == shape
    path = draw_filters(model, tmp_path / "sub" / "f.png")
    im = Image.open(path)
    n, k = shape[0], shape[2]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    # every filter drawn at >= 48 px (small kernels enlarged), in a near-square grid at least 480 px wide
    from deeplearn.vision.visualize import MIN_WIDTH

    cell = max(48, cols * k and -(-MIN_WIDTH // (cols * k)) * k)
    assert im.size[0] >= max(cols * 48, MIN_WIDTH) and im.size[1] >= rows * 48
    assert im.size[0] < cols * (cell + k + 2) + 2
    assert im.mode == "RGB"
    pixels = np.asarray(im)
    assert pixels.min() == 0 and pixels.max() == 255  # each filter is stretched to the full range


def test_filter_normalization_is_per_filter(tmp_path):
    model, _ = build("lenet5")
    with torch.no_grad():
        model.c1.weight[0] *= 1000  # one huge filter must not wash the others out
    im = np.asarray(Image.open(draw_filters(model, tmp_path / "f.png")))
    second = im[2 + 10:2 + 40, 2 + 50 + 2 + 10:2 + 50 + 2 + 40]  # inside the second cell (5x5 -> 50 px cells)
    assert second.max() - second.min() > 100


def test_draw_feature_maps(tmp_path):
    model, _ = build("alexnet-cifar")
    x = torch.randn(3, 32, 32)
    maps = feature_maps(model, x, "features.conv1")
    assert maps.shape == (96, 32, 32) and maps.min() < 0  # conv output before the in-place ReLU
    path = draw_feature_maps(model, x, "features.conv2", tmp_path / "maps.png")
    w, h = Image.open(path).size
    assert w == h and w >= 16 * 32  # 256 maps of 15x15, enlarged to >= 32 px, 16 x 16 grid
    assert not model.training


def test_unknown_layer_lists_valid_names():
    model, _ = build("googlenet-cifar")
    with pytest.raises(ValueError) as e:
        feature_maps(model, torch.randn(3, 32, 32), "inception9z")
    assert "inception9z" in str(e.value) and "inception4a.branch3" in str(e.value)


def test_layer_without_maps_is_refused():
    model, _ = build("lenet5")
    with pytest.raises(ValueError, match="not feature maps"):
        feature_maps(model, torch.randn(1, 32, 32), "f6")


@pytest.fixture
def fake_run(monkeypatch):
    """Stand in for deeplearn.models.load_classifier (tested elsewhere) with a fresh LeNet-5."""
    from deeplearn import models

    model, _ = build("lenet5")
    meta = {"input_shape": (1, 32, 32), "mean": [0.1307], "std": [0.3081], "class_names": list("0123456789"),
            "pixel_max": 255}
    monkeypatch.setattr(models, "load_classifier", lambda run_dir, weights="best": (model, meta))
    return model


def test_vision_commands(tmp_path, fake_run, capsys):
    assert main(["vision", "filters", str(tmp_path), "-o", str(tmp_path / "f.png")]) == 0
    assert Image.open(tmp_path / "f.png").size[0] >= 3 * 48
    img = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((40, 28)) * 255).astype(np.uint8)).save(img)
    assert main(["vision", "features", str(tmp_path), str(img), "--layer", "c3", "-o", str(tmp_path / "m.png")]) == 0
    assert Image.open(tmp_path / "m.png").size[0] >= 4 * 32  # 16 maps in a 4 x 4 grid
    assert main(["vision", "features", str(tmp_path), str(img), "--layer", "nope", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "c1" in err and "s2" in err
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["vision", "features", str(tmp_path), str(bad), "--layer", "c1", "-o", str(tmp_path / "y.png")]) == 2
    assert "bad.png" in capsys.readouterr().err


def test_low_frequency_share_tells_smooth_filters_from_noise():
    from deeplearn.vision.visualize import low_frequency_share

    noise = torch.randn(96, 3, 11, 11, generator=torch.Generator().manual_seed(0))
    assert 0.12 < low_frequency_share(noise) < 0.22  # white noise: the disc's share of the frequency square
    y, x = torch.meshgrid(torch.arange(11.0) - 5, torch.arange(11.0) - 5, indexing="ij")
    angles = torch.linspace(0, 3.0, 8)
    edges = torch.stack([torch.tanh(torch.cos(a) * x + torch.sin(a) * y) for a in angles])  # oriented edges
    gabors = torch.stack([torch.exp(-(x ** 2 + y ** 2) / 8) * torch.cos(0.6 * (torch.cos(a) * x + torch.sin(a) * y))
                          for a in angles])
    smooth = torch.cat([edges, gabors])[:, None].repeat(1, 3, 1, 1)
    assert low_frequency_share(smooth) > 0.8
    assert low_frequency_share(smooth + 0.05 * noise[:16]) > low_frequency_share(smooth + 0.5 * noise[:16])
