"""The fast CIFAR-10 recipe (issue 20): the cifar-fast net, its patch-whitening init, test-time flip, the
flip-translate augmentation, and the engine additions it uses (linear schedule, Lookahead, test curves,
channels_last on CPU)."""

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deeplearn import models
from deeplearn.engine import Runtime, TensorSource, TrainConfig, fit
from deeplearn.engine.lookahead import Lookahead
from deeplearn.engine.optim import build_optimizer, build_scheduler, lr_factor_at, plan_at_step
from deeplearn.supervised.encoding import flip_translate
from deeplearn.supervised.task import ClassificationTask, flip_tta
from deeplearn.engine.runtime import cpu_has_native_bf16
from deeplearn.vision.models.cifar_fast import WHITEN_EPS, CifarFast, whitening_filters

# The recipes train under bf16 autocast; on a CPU that only emulates bf16 (AVX2: 16-18x slower than float32) the
# real-data runs below take float32, as the engine's warning tells a user there to do.
NATIVE_AMP = "bf16" if cpu_has_native_bf16() else "none"

REPO = Path(__file__).resolve().parents[2]


def test_shapes_and_parameter_count():
    net = models.get("cifar-fast").build(10, (3, 32, 32))
    x = torch.randn(4, 3, 32, 32)
    h = net.act(net.whiten(x))
    assert h.shape == (4, 24, 31, 31)
    for block, shape in zip(net.blocks, [(64, 15, 15), (256, 7, 7), (256, 3, 3)]):
        h = block(h)
        assert h.shape == (4, *shape)
    assert net(x).shape == (4, 10)
    # whiten 24*3*2*2 + 24; conv 3x3 weights; BN: weight + bias per channel; linear 256 x 10 without bias
    convs = 9 * (24 * 64 + 64 * 64 + 64 * 256 + 256 * 256 + 256 * 256 + 256 * 256)
    expected = 24 * 12 + 24 + convs + 2 * 2 * (64 + 256 + 256) + 256 * 10
    assert models.count_parameters(net) == expected == 1_972_792
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert "whiten.weight" in frozen and all(n == "whiten.weight" or n.endswith(".weight") for n in frozen)
    with pytest.raises(ValueError, match="32x32"):
        models.get("cifar-fast").build(10, (3, 28, 28))


def _hand_patches(x: np.ndarray, k: int) -> np.ndarray:
    """Every k x k patch of every image, flattened as (channel, row, column), by explicit loops."""
    n, c, h, w = x.shape
    rows = []
    for i in range(n):
        for r in range(h - k + 1):
            for s in range(w - k + 1):
                rows.append(x[i, :, r:r + k, s:s + k].reshape(-1))
    return np.array(rows)


def test_patch_whitening_equals_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.5, 0.3], [0.0, 0.0, 0.2]])  # correlated colour channels
    x = torch.einsum("dc,nchw->ndhw", mix, torch.randn(6, 3, 7, 7, generator=g))
    p = _hand_patches(x.double().numpy(), 2)
    cov = p.T @ p / len(p)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = lam[::-1], vec[:, ::-1]  # largest first
    w = whitening_filters(x, 2, WHITEN_EPS).double().reshape(12, 12).numpy()
    for i in range(12):  # each filter is +- v_i / sqrt(lambda_i + eps)
        expected = vec[:, i] / np.sqrt(lam[i] + WHITEN_EPS)
        assert np.allclose(w[i], expected, atol=1e-5) or np.allclose(w[i], -expected, atol=1e-5), i
    np.testing.assert_allclose(w.T @ w, np.linalg.inv(cov + WHITEN_EPS * np.eye(12)), rtol=1e-4, atol=1e-4)
    out_cov = (p @ w.T).T @ (p @ w.T) / len(p)  # the filters' outputs are decorrelated
    np.testing.assert_allclose(out_cov, np.diag(lam / (lam + WHITEN_EPS)), atol=1e-5)
    # The model's hook puts the filters and their negatives in the frozen first layer.
    net = CifarFast()
    net.data_init_samples = 6
    models.init_from_data(net, lambda n: torch.nn.functional.pad(x[:n], (0, 25, 0, 25)))
    wt = net.whiten.weight.detach()
    assert torch.allclose(wt[:12], -wt[12:])
    assert wt.shape == (24, 3, 2, 2)


def test_test_time_flip_is_the_mean_of_the_two_predictions():
    torch.manual_seed(0)
    net = CifarFast().eval()
    x = torch.randn(5, 3, 32, 32)
    task = ClassificationTask(net, None, {}, 10, {"tta": "flip"}, {})
    with torch.no_grad():
        expected = 0.5 * (net(x) + net(x.flip(3)))
        torch.testing.assert_close(task.forward(net, (x, None)), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(flip_tta(net, x), expected, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(net(x), expected)  # the mirror image changes the prediction
        net.train()
        assert task.forward(net, (x, None)).shape == (5, 10)  # training: one pass, no TTA
    plain = ClassificationTask(net.eval(), None, {}, 10, {"tta": "none"}, {})
    with torch.no_grad():
        torch.testing.assert_close(plain.forward(net, (x, None)), net(x))


def test_flip_translate_is_a_mirrored_shifted_window():
    x = torch.rand(16, 3, 8, 8)
    out = flip_translate(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    shifts = set()
    for i in range(16):
        found = [(f, dy, dx) for f in (False, True) for dy in range(5) for dx in range(5)
                 if torch.equal(out[i], torch.nn.functional.pad((x[i].flip(2) if f else x[i])[None], (2,) * 4,
                                                                mode="reflect")[0, :, dy:dy + 8, dx:dx + 8])]
        assert found, i
        shifts.add(found[0][1:])
    assert len(shifts) > 3  # random shifts, not one


def test_linear_schedule_equals_torch_and_over_time():
    c = TrainConfig(lr=0.4, schedule="linear", warmup_steps=5, min_lr=0.04)
    total = 30
    model = nn.Linear(2, 1)
    opt = build_optimizer(model, c)
    sched = build_scheduler(opt, c, total)
    for step in range(total):
        assert plan_at_step(c, step, total)[0] == pytest.approx(opt.param_groups[0]["lr"]), step
        opt.step()
        sched.step()
    assert plan_at_step(c, total - 1, total)[0] == pytest.approx(0.04 + 0.36 / 25)
    assert lr_factor_at(c, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor_at(c, 10, 0.5) == pytest.approx(0.55)
    assert lr_factor_at(c, 10, 1.0) == pytest.approx(0.1)


def test_lookahead_pulls_towards_the_slow_weights():
    net = nn.Linear(3, 2)
    la = Lookahead(net, every=2, decay_end=0.8)
    slow0 = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    fast = net.weight.detach().clone()
    la.after_update(1, 0.5)  # not a K-th step: nothing happens
    assert torch.equal(net.weight, fast)
    la.after_update(2, 0.5)
    d = 0.8 * 0.5 ** 3
    torch.testing.assert_close(net.weight.detach(), d * slow0 + (1 - d) * fast)
    torch.testing.assert_close(la.slow["weight"], net.weight.detach())
    state = la.state_dict()
    with torch.no_grad():
        net.weight.add_(2.0)
    la.finish()  # the model takes the slow weights
    torch.testing.assert_close(net.weight.detach(), state["slow"]["weight"])


class _Blobs(ClassificationTask):
    """Ten Gaussian blobs as 3x32x32 images: a quick classification task for the cifar-fast net."""

    def __init__(self, n=256, batch=32, seed=0):
        g = torch.Generator().manual_seed(seed)
        y = torch.arange(n) % 10
        centers = torch.randn(10, 3, 1, 1, generator=g)
        x = centers[y] + 0.5 * torch.randn(n, 3, 32, 32, generator=g)
        # Narrow widths (the recipe's are 64-256-256): the same layers, schedule, lookahead and bf16 autocast, at a
        # cost a CPU that emulates bf16 (AVX2 only: 16-18x slower than float32 there) runs in seconds.
        net = CifarFast(widths=(16, 32, 32))
        net.init_from_data(x[:64])
        super().__init__(net, TensorSource((x, y), batch, shuffle=True, seed=0),
                         {"test": TensorSource((x[:64], y[:64]), 64, shuffle=False)}, 10, {"tta": "flip"},
                         {"class_names": [str(i) for i in range(10)]})


def _engine_config(**kw):
    return TrainConfig(**{**dict(batch_size=32, lr=0.2, momentum=0.85, nesterov=True, weight_decay=1e-3,
                                 schedule="linear", warmup_steps=2, min_lr=0.02, lookahead_every=2, amp="bf16",
                                 channels_last=True, eval_every=4, eval_test=True, test_on="last",
                                 progress="none", threads=1), **kw})


class _Crash(Exception):
    pass


def _crash_at(n):
    def hook(step):
        if step == n:
            raise _Crash()
    return hook


def test_lookahead_run_resumes_exactly_and_logs_test_curves(tmp_path):
    rt = Runtime(torch.device("cpu"))
    torch.manual_seed(0)
    straight = _Blobs()
    fit(straight, _engine_config(steps=8), rt, tmp_path / "a")
    assert straight.model.blocks[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    rows = [json.loads(r) for r in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "test_acc" in r]
    assert [r["step"] for r in evals] == [4, 8] and all(r["train_time_s"] > 0 for r in evals)
    torch.manual_seed(0)
    with pytest.raises(_Crash):  # killed at step 6; the last checkpoint is step 4's (with the slow weights)
        fit(_Blobs(), _engine_config(steps=8), rt, tmp_path / "b", on_step_end=_crash_at(6))
    torch.manual_seed(1)  # a different init: everything must come from the checkpoint
    resumed = _Blobs()
    fit(resumed, _engine_config(steps=8), rt, tmp_path / "b", resume=True)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_a_few_steps_of_the_recipe_lower_the_loss(tmp_path):
    recipe = tomllib.loads((REPO / "recipes/cifar10-fast.toml").read_text())
    keep = {k: v for k, v in recipe.items() if k in TrainConfig.__dataclass_fields__}
    c = TrainConfig(**{**keep, "max_time": None, "steps": 12, "batch_size": 32, "warmup_steps": 2,
                       "eval_every": 12, "eval_test": False, "threads": 1, "progress": "none"})
    torch.manual_seed(0)
    task = _Blobs(n=384)
    task.config["label_smoothing"] = recipe["label_smoothing"]
    before = _loss_on(task.model, task)
    fit(task, c, Runtime(torch.device("cpu")), tmp_path / "run")
    after = _loss_on(task.model, task)
    assert after < before - 0.3, (before, after)
    assert before == pytest.approx(math.log(10), abs=0.1)  # the 1/9 logit scale starts near uniform


def _loss_on(net, task):
    xb, yb = next(iter(task.evals["test"].iter_epoch(0)))
    net.eval()
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(net(xb), yb).item()
    net.train()
    return loss


def test_the_recipe_reaches_the_real_data(tmp_path, shared_data):
    """The recipe's own command on real CIFAR-10 (a few steps, a small test subset): it runs end to end."""
    from deeplearn.cli import main

    code = main(["train", "--config", str(REPO / "recipes/cifar10-fast.toml"), "--data-dir", str(shared_data),
                 "--steps", "6", "--warmup-steps", "2", "--batch-size", "64", "--test-limit", "200",
                 "--threads", "1", "--progress", "none", "--amp", NATIVE_AMP, "--out", str(tmp_path / "run")])
    assert code == 0
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["test_weights"] == "last" and 0.0 <= summary["test"]["test_acc"] <= 1.0
    cfg = json.loads((tmp_path / "run/config.json").read_text())
    assert cfg["task"]["tta"] == "flip" and cfg["train"]["lookahead_every"] == 5
