"""Semantic style transfer (`deeplearn vision doodle`): each region painted from its own style region; maps read
and checked with clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from deeplearn.cli import main
from deeplearn.paths import DataError
from deeplearn.vision.features import load_feature_net
from deeplearn.vision.style.doodle_io import load_doodle
from deeplearn.vision.style.measure import chance_accuracy
from deeplearn.vision.style.semantic import DoodleConfig, masked_gram, paint

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def two_region_style(n=64):
    """Left half: warm orange strokes; right half: cool blue-green strokes (H x W x 3 uint8), and its map."""
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n]
    stripes = 0.5 + 0.5 * np.sin((xx + yy) / 2.5)
    img = np.zeros((n, n, 3))
    left, right = xx < n // 2, xx >= n // 2
    img[left] = np.stack([0.7 + 0.3 * stripes, 0.35 + 0.2 * stripes, 0.05 + 0 * stripes], -1)[left]
    img[right] = np.stack([0.05 + 0 * stripes, 0.3 + 0.3 * stripes, 0.6 + 0.4 * stripes], -1)[right]
    img = np.clip(img + 0.03 * g.standard_normal(img.shape), 0, 1)
    sem = np.zeros((n, n, 3), np.uint8)
    sem[left], sem[right] = RED, BLUE
    return (img * 255).astype(np.uint8), sem


def save(a, path):
    Image.fromarray(a).save(path)
    return str(path)


@pytest.fixture
def toy(tmp_path):
    img, sem = two_region_style()
    target = np.zeros_like(sem)
    target[:32], target[32:] = BLUE, RED          # another layout: blue on top, red below
    return (save(img, tmp_path / "s.png"), save(sem, tmp_path / "s_sem.png"), save(target, tmp_path / "t_sem.png"),
            tmp_path)


def test_each_region_takes_its_own_style_regions_colours(toy):
    s, sm, tm, _ = toy
    d = load_doodle(s, sm, tm)
    net = load_feature_net("random-multiscale")
    out = paint(net, d.style, d.style_maps, d.target_maps, None, DoodleConfig(iterations=40), progress=False).image
    for k in range(len(d.palette)):
        want = d.style[:, d.style_labels == k].mean(1)                  # the style region's mean colour
        other = d.style[:, d.style_labels != k].mean(1)
        got = out[:, 4:-4][:, d.target_labels[4:-4] == k].mean(1)       # away from the boundary
        assert (got - want).abs().sum() < 0.5 * (got - other).abs().sum(), (k, got, want, other)


def test_seeded_doodles_repeat(toy):
    s, sm, tm, _ = toy
    d = load_doodle(s, sm, tm, size=32)
    net = load_feature_net("random-multiscale")

    def run(seed):
        return paint(net, d.style, d.style_maps, d.target_maps, None, DoodleConfig(iterations=3, seed=seed),
                     progress=False).image

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_masked_gram_is_the_gram_of_each_region():
    f = torch.randn(1, 3, 4, 4)
    m = torch.zeros(1, 2, 4, 4)
    m[:, 0, :2], m[:, 1, 2:] = 1, 1
    g = masked_gram(f, m)
    top = f[0, :, :2].reshape(3, -1)
    assert torch.allclose(g[0], top @ top.T / (3 * 8), atol=1e-6)


def test_chance_accuracy():
    t = torch.tensor([[0, 0], [1, 1]])
    assert chance_accuracy(t, t, 2) == pytest.approx(0.5)


def test_maps_with_another_colour_are_refused(toy):
    s, sm, _, tmp = toy
    target = np.zeros((64, 64, 3), np.uint8)
    target[:, :40], target[:, 40:] = RED, GREEN    # green: the style map has no such region
    bad = save(target, tmp / "bad.png")
    with pytest.raises(DataError, match=r"colours the style map does not have \(e.g. RGB \(0, 255, 0\)\)"):
        load_doodle(s, sm, bad)


def test_a_map_of_another_size_is_resized_with_a_warning(toy):
    s, _, tm, tmp = toy
    _, sem = two_region_style()
    small = save(np.asarray(Image.fromarray(sem).resize((32, 32), Image.NEAREST)), tmp / "small_sem.png")
    with pytest.warns(UserWarning, match="resized to the image's size"):
        d = load_doodle(s, small, tm)
    assert d.style_labels.shape == (64, 64)


def test_doodle_command_errors_are_one_line(toy, capsys):
    s, sm, tm, tmp = toy
    grey = save(np.full((64, 64), 100, np.uint8), tmp / "grey.png")
    for args, message in [(["--style", grey, "--style-map", sm, "--target-map", tm], "one-channel"),
                          (["--style", s, "--style-map", str(tmp / "nope.png"), "--target-map", tm], "no such image"),
                          (["--style", s, "--style-map", sm], "give --target-map")]:
        assert main(["vision", "doodle", *args, "--model", "random-multiscale", "--no-score",
                     "-o", str(tmp / "o.png")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_doodle_command_paints_the_target(toy, capsys):
    s, sm, tm, tmp = toy
    out = tmp / "o.png"
    assert main(["vision", "doodle", "--style", s, "--style-map", sm, "--target-map", tm, "--model",
                 "random-multiscale", "--iterations", "3", "--no-progress", "--no-score", "-o", str(out)]) == 0
    assert Image.open(out).size == (64, 64)
    assert "doodle of 2 region kinds, 64x64" in capsys.readouterr().out
