"""Vision models: shapes, return types, parameter counts against the papers, training steps, auxiliary heads."""

import pytest
import torch
from torch import nn

from deeplearn.models import ClassifierOutput, count_parameters, get, logits_of

NAMES = ["lenet5", "lenet5-modern", "alexnet", "alexnet-cifar", "zfnet", "zfnet-cifar", "googlenet",
         "googlenet-cifar", "bn-inception", "bn-inception-cifar"]
WITH_AUX = {"googlenet", "googlenet-cifar"}


def build(name, num_classes=10, **options):
    spec = get(name)
    return spec.build(num_classes, (spec.channels, *spec.input_size), **options), spec


def trunk_parameters(model):
    """Parameters without the auxiliary heads (the papers count the network that is used at test time)."""
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux"))


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_return_type_in_both_modes(name):
    torch.manual_seed(0)
    model, spec = build(name, num_classes=7)
    n = 1 if "inception" in name or "googlenet" in name else 2  # the Inception nets are slow on CPU
    x = torch.randn(n, spec.channels, *spec.input_size)
    with torch.no_grad():
        out_train = model.train()(x)
        out_eval = model.eval()(x)
    assert type(out_train) is type(out_eval)
    assert logits_of(out_train).shape == logits_of(out_eval).shape == (n, 7)
    assert isinstance(out_train, ClassifierOutput) == (name in WITH_AUX)
    if name in WITH_AUX:
        assert len(out_train.aux) == 2 and all(a.shape == (n, 7) for a in out_train.aux)
        assert out_eval.aux == ()
        assert model.aux_weight == 0.3
    assert torch.isfinite(logits_of(out_eval)).all()


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "googlenet-cifar", "bn-inception"])
def test_wrong_input_size_is_refused(name):
    spec = get(name)
    with pytest.raises(ValueError, match=f"{spec.input_size[0]}x{spec.input_size[1]}"):
        spec.build(10, (spec.channels, 28, 28))


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="dropot"):
        build("alexnet-cifar", dropot=0.1)


def test_lenet5_has_the_papers_60000_parameters():
    model, _ = build("lenet5")
    # LeCun et al. 1998 Sec. II.B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000 trainable.
    per_layer = {n: count_parameters(getattr(model, n)) for n in ("c1", "s2", "c3", "s4", "c5", "f6")}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert count_parameters(model) == 60000 + 84 * 10 + 10  # plus our linear output layer (the paper's RBF)


def test_lenet5_c3_follows_table_1():
    """Each C3 map must react to exactly the S2 maps that Table I connects it to."""
    model, _ = build("lenet5")
    table = {0: [0, 1, 2], 4: [4, 5, 0], 6: [0, 1, 2, 3], 9: [3, 4, 5, 0], 12: [0, 1, 3, 4], 13: [1, 2, 4, 5],
             14: [0, 2, 3, 5], 15: [0, 1, 2, 3, 4, 5]}
    x = torch.zeros(1, 6, 14, 14)
    base = model.c3(x)
    for s2_map in range(6):
        bumped = x.clone()
        bumped[0, s2_map] = torch.randn(14, 14)
        changed = (model.c3(bumped) - base).abs().flatten(2).amax(2)[0] > 0
        for c3_map, inputs in table.items():
            assert bool(changed[c3_map]) == (s2_map in inputs), (c3_map, s2_map)


def test_alexnet_has_about_60_million_parameters():
    model, _ = build("alexnet", num_classes=1000)
    n = count_parameters(model)
    assert n == 60_965_224  # Krizhevsky et al. 2012, Sec. 4: "60 million parameters"
    conv2 = model.features.conv2
    assert conv2.groups == 2 and model.features.conv3.groups == 1  # the two-GPU split


def test_zfnet_count_and_first_layer():
    model, _ = build("zfnet", num_classes=1000)
    assert 60e6 < count_parameters(model) < 64e6  # AlexNet-sized: same fc layers, dense conv3-5
    conv1 = model.features.conv1
    assert conv1.kernel_size == (7, 7) and conv1.stride == (2, 2)


def test_googlenet_is_about_12_times_smaller_than_alexnet():
    g, _ = build("googlenet", num_classes=1000)
    a, _ = build("alexnet", num_classes=1000)
    n = trunk_parameters(g)
    # Szegedy et al. 2014 Table 1 sums to ~6.8M; "12 times fewer parameters" than AlexNet (60M / 12 = 5M).
    assert 6.5e6 < n < 7.2e6
    assert 8 < count_parameters(a) / n < 13
    five = [m for m in g.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (5, 5)]
    assert len(five) == 9  # a true 5x5 branch in each of the nine modules


def test_bn_inception_structure():
    model, _ = build("bn-inception", num_classes=1000)
    assert 10e6 < count_parameters(model) < 14e6  # Ioffe & Szegedy 2015 Sec. 4.2 state 13.6M (see docs/vision.md)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(bns) and all(c.bias is None for c in convs)
    assert not any(m.kernel_size == (5, 5) for m in convs)
    assert not any(isinstance(m, (nn.LocalResponseNorm, nn.Dropout)) for m in model.modules())


def _loss_after_steps(name, steps=25, lr=0.05):
    torch.manual_seed(0)
    model, spec = build(name)
    x = torch.randn(16, spec.channels, *spec.input_size)
    y = torch.randint(0, 10, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    model.train()
    for _ in range(steps):
        out = model(x)
        loss = nn.functional.cross_entropy(logits_of(out), y)
        if isinstance(out, ClassifierOutput):
            loss = loss + model.aux_weight * sum(nn.functional.cross_entropy(a, y) for a in out.aux)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", ["lenet5", "lenet5-modern"])
def test_sgd_steps_lower_the_loss(name):
    losses = _loss_after_steps(name)
    assert losses[-1] < 0.9 * losses[0], losses  # LeNet-5's small uniform init starts slowly under SGD


def test_aux_heads_get_gradient_in_training_only():
    torch.manual_seed(0)
    model, spec = build("googlenet-cifar")
    x, y = torch.randn(1, 3, 32, 32), torch.tensor([1])
    out = model.train()(x)
    loss = nn.functional.cross_entropy(out.logits, y) + model.aux_weight * sum(
        nn.functional.cross_entropy(a, y) for a in out.aux)
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None and model.aux1.fc2.weight.grad.abs().sum() > 0
    assert model.aux2.fc2.weight.grad is not None
    model.zero_grad(set_to_none=True)
    out = model.eval()(x)
    nn.functional.cross_entropy(out.logits, y).backward()
    assert model.aux1.fc2.weight.grad is None and out.aux == ()


def test_aux_heads_can_be_turned_off():
    model, _ = build("googlenet-cifar", aux_logits=False)
    with torch.no_grad():
        out = model.train()(torch.randn(1, 3, 32, 32))
    assert isinstance(out, ClassifierOutput) and out.aux == ()
    assert not any(n.startswith("aux") for n, _ in model.named_parameters())


def test_alexnet_paper_init():
    model, _ = build("alexnet-cifar", init="paper")
    f = model.features
    assert torch.all(f.conv2.bias == 1) and torch.all(f.conv1.bias == 0) and torch.all(model.classifier.fc8.bias == 0)
    assert abs(f.conv3.weight.std().item() - 0.01) < 1e-3


@pytest.mark.parametrize("name", ["alexnet-cifar", "zfnet-cifar"])
def test_small_stem_init(name):
    """small-stem: the paper's N(0, 0.01) in conv1 only, He normal (std sqrt(2 / fan_in)) above it."""
    f = build(name, init="small-stem")[0].features
    assert abs(f.conv1.weight.std().item() - 0.01) < 1e-3
    fan_in = f.conv3.weight[0].numel()
    assert abs(f.conv3.weight.std().item() - (2 / fan_in) ** 0.5) < 0.05 * (2 / fan_in) ** 0.5
    with pytest.raises(ValueError, match="init must be one of"):
        build(name, init="xavier")
