"""Vision models through the engine: steps lower the loss, aux heads count in training only, filters of a real run."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from deeplearn.cli import main
from deeplearn.models import ClassifierOutput, get
from deeplearn.models import load_classifier as load_run
from deeplearn.supervised.task import TASK_DEFAULTS, ClassificationTask
from deeplearn.vision.flops import count_macs
from deeplearn.vision.visualize import draw_filters, first_layer_filters


def train(tmp_path, *extra):
    out = tmp_path / "run"
    # the embedded 8x8 digits (no data root), resized to LeNet's 32x32 by the encoder
    args = ["train", "--model", "lenet5-modern", "--batch-size", "32", "--lr", "0.05", "--schedule", "constant",
            "--threads", "1", "--progress", "none", "--out", str(out), *extra]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("lenet"), "--steps", "60", "--log-every", "10", "--eval-every", "60")


def test_engine_steps_lower_the_loss(lenet_run):
    rows = [json.loads(line) for line in open(lenet_run / "metrics.jsonl")]
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0], losses  # from ln(10) = 2.3 towards 0
    summary = json.loads((lenet_run / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["test"]["test_acc"] > 0.5  # chance is 0.1


def test_filters_of_a_trained_run(lenet_run, tmp_path):
    png = tmp_path / "filters.png"
    assert main(["vision", "filters", str(lenet_run), "-o", str(png)]) == 0
    model, _ = load_run(lenet_run)
    expected = np.asarray(Image.open(draw_filters(model, tmp_path / "expected.png")))
    assert np.array_equal(np.asarray(Image.open(png)), expected)  # the checkpoint's filters were drawn...
    fresh = get("lenet5-modern").build(10, (1, 32, 32))
    assert not torch.equal(first_layer_filters(fresh), first_layer_filters(model))  # ...not a fresh init


class TwoHeads(torch.nn.Module):
    """Fixed logits: main head and two auxiliary heads in training mode, the main head only in eval mode."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.main, self.aux = torch.randn(4, 3, generator=g), (torch.randn(4, 3, generator=g),
                                                               torch.randn(4, 3, generator=g))

    def forward(self, x):
        return ClassifierOutput(self.main, self.aux if self.training else ())


def make_task(model, **config):
    return ClassificationTask(model, None, {}, 3, {**TASK_DEFAULTS, **config}, {"class_names": list("abc")})


def test_aux_heads_count_in_the_training_loss_only():
    model, y = TwoHeads(), torch.tensor([0, 1, 2, 1])
    task = make_task(model, aux_weight=0.3)
    main_ce = F.cross_entropy(model.main, y)
    aux_ce = [F.cross_entropy(a, y) for a in model.aux]
    train_loss = task.loss(model.train()(None), (None, y))
    torch.testing.assert_close(train_loss, main_ce + 0.3 * aux_ce[0] + 0.3 * aux_ce[1])
    torch.testing.assert_close(make_task(model, aux_weight=1.0).loss(model(None), (None, y)),
                               main_ce + aux_ce[0] + aux_ce[1])  # --aux-weight is used
    torch.testing.assert_close(task.loss(model.eval()(None), (None, y)), main_ce)
    # metrics read the main head only, in either mode
    sums = task.metric_sums(model.train()(None), (None, y))
    assert int(sums["correct"]) == int((model.main.argmax(1) == y).sum())


def test_googlenet_aux_heads_in_the_task_loss():
    torch.manual_seed(0)
    model = get("googlenet-cifar").build(10, (3, 32, 32))
    task = make_task(model)
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 7])
    out = model.train()(x)
    expected = F.cross_entropy(out.logits, y) + 0.3 * sum(F.cross_entropy(a, y) for a in out.aux)
    loss = task.loss(out, (x, y))
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert model.aux1.fc2.weight.grad.abs().sum() > 0  # the aux heads are trained through the task's loss


def test_macs_count_matches_hand_count():
    model = get("lenet5-modern").build(10, (1, 32, 32))
    # C1 6x28x28x25, C3 16x10x10x(6x25), C5 120x400, F6 84x120, output 10x84 (pooling not counted)
    assert count_macs(model, (1, 32, 32)) == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 120 * 400 + 84 * 120 + 840
    g = get("googlenet").build(1000, (3, 224, 224))
    assert 1.5e9 < count_macs(g, (3, 224, 224)) < 1.6e9  # Szegedy et al. 2014 Sec. 1: "1.5 billion multiply-adds"
    assert count_macs(g, (3, 224, 224), train=True) > count_macs(g, (3, 224, 224))  # + auxiliary heads


def test_test_limit_takes_a_fixed_random_subset():
    from deeplearn.supervised.task import test_subset

    x = torch.arange(10000)
    y = x // 1000  # sorted by class, as shared/data's CIFAR-10 test split is
    a, b = test_subset(x, y, 2000)
    assert len(a) == 2000 and torch.equal(b, a // 1000) and bool((a[1:] > a[:-1]).all())  # pairs kept, file order
    assert torch.bincount(b, minlength=10).min() > 150  # every class present, not the first two only
    assert torch.equal(test_subset(x, y, 2000)[0], a)  # the same subset every time (seed 0)
    assert test_subset(x, y, None)[0] is x and len(test_subset(x, y, 20000)[0]) == 10000


def test_model_options_reach_the_vision_builders(tmp_path, capsys):
    from deeplearn.supervised.task import build_model

    opts = {**TASK_DEFAULTS, "model": "alexnet-cifar", "init": "paper", "dropout": 0.3}
    model = build_model(opts, 10, (3, 32, 32))
    assert torch.all(model.features.conv2.bias == 1)  # the paper's init (biases 1 in conv2)
    assert model.classifier.drop6.p == 0.3
    args = ["train", "--model", "lenet5", "--dropout", "0.2", "--steps", "1", "--threads", "1", "--progress", "none",
            "--out", str(tmp_path / "r")]
    assert main(args) == 2 and "dropout" in capsys.readouterr().err  # refused, not silently ignored
