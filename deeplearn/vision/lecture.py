"""The vision system's sections of the lecture report: learned first-layer filters, DeepDream from white noise,
and the ImageNet-era architectures (parameter counts; batch normalization's speed-up in --full)."""

from __future__ import annotations

import math

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, UNTESTABLE, Outcome, Section


def _train(ctx, name: str, *options) -> dict:
    ctx.cli(["train", *options, *ctx.data_args(), "--threads", ctx.threads, "--progress", "none",
             "--out", ctx.path(name)])
    return ctx.summary(name)


# --- low-level features learned by vision networks --------------------------------------------------------

def run_filters(ctx) -> Outcome:
    import torch

    from deeplearn.models import build_model, load_classifier
    from deeplearn.vision.visualize import first_layer_filters, low_frequency_share

    if ctx.quick:
        _train(ctx, "cnn", "--model", "lenet5-modern", "--epochs", 20)
        model_name, shape = "lenet5-modern", (1, 32, 32)
    else:  # the README's AlexNet-CIFAR recipe (20 minutes of CPU)
        from pathlib import Path

        _train(ctx, "cnn", "--config", Path(__file__).parents[2] / "recipes" / "alexnet-cifar-20min.toml")
        model_name, shape = "alexnet-cifar", (3, 32, 32)
    train_cmd = ctx.commands[-1]
    ctx.cli(["vision", "filters", ctx.path("cnn"), "-o", ctx.path("filters.png")])
    trained, _ = load_classifier(str(ctx.path("cnn")))
    torch.manual_seed(0)
    fresh = build_model({"model": model_name}, 10, shape)
    share = {"trained": low_frequency_share(first_layer_filters(trained)),
             "at initialisation": low_frequency_share(first_layer_filters(fresh))}
    numbers = {"low_frequency_energy_share": share, "white_noise_reference": 0.17,
               "test_accuracy": ctx.summary("cnn")["test"]["test_acc"]}
    holds = share["trained"] > share["at initialisation"] + 0.1
    reason = (f"low-frequency energy share of the first-layer filters (white noise ~0.17, smooth edge/blob filters "
              f"near 1): {share['trained']:.2f} after training against {share['at initialisation']:.2f} at "
              f"initialisation" + (" (digits upsampled from 8x8: smooth inputs favour smooth filters)."
                                   if ctx.quick else "."))
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(ctx.path("filters.png"), f"First-layer filters of {model_name} after "
                                       f"training ({train_cmd})", numbers=numbers)])


# --- DeepDream ----------------------------------------------------------------------------------------------

def run_deepdream(ctx) -> Outcome:
    from deeplearn.vision.dream import DreamConfig, dream, noise_image
    from deeplearn.vision.features import load_feature_net
    from deeplearn.vision.pixels import save_png

    size, octaves, steps, layer = ctx.pick(256, 512), ctx.pick(3, 4), 10, "blocks.10"
    out = ctx.path("dream.png")
    ctx.note_command(f"deeplearn vision dream --noise --model efficientnet-lite0 --layer {layer} --size {size} "
                     f"--octaves {octaves} --steps {steps} --seed 0 --threads {ctx.threads} -o {out}")
    net = load_feature_net("efficientnet-lite0")
    net.check_layer(layer)
    cfg = DreamConfig(layer=layer, octaves=octaves, steps=steps, seed=0)
    result = dream(net, noise_image(net.channels, size, 0), cfg, progress=False)
    save_png(result.image, out)
    rises = [(o[0], o[-1]) for o in result.objective]
    numbers = {"objective_first_last_per_octave": rises, "layer": layer, "size": size}
    holds = all(b > a for a, b in rises)
    reason = (f"gradient ascent on the pixels of white noise raises the mean square of ImageNet EfficientNet-Lite0's "
              f"layer {layer} in every octave: " + ", ".join(f"{a:.3g} -> {b:.3g}" for a, b in rises) + ".")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(out, f"DeepDream from white noise, EfficientNet-Lite0 layer {layer}",
                                       numbers=numbers)])


# --- ImageNet-era architectures -----------------------------------------------------------------------------

PAPER_PARAMETERS = {  # as quoted in docs/vision.md, with the papers' sections there
    "alexnet": 60e6, "googlenet": 6.8e6, "bn-inception": 13.6e6}


# A README figure, not a measurement of this report's run (docs/cifar_fast.md: one run, 1 thread, 2-core CPU).
FAST_CIFAR = ("For scale, a batch-normalized net trained fast: the README's CIFAR-10 recipe (`deeplearn train "
              "--config recipes/cifar10-fast.toml --data-dir ../shared/data`) reached 90.83 % test accuracy in 20 "
              "minutes of CPU training (docs/cifar_fast.md; not run by this report).")


def run_imagenet(ctx) -> Outcome:
    ctx.note_command("deeplearn models")
    counts = {name: _parameters(name) for name in ("alexnet", "zfnet", "googlenet", "bn-inception")}
    fig = plots.bars({k: v / 1e6 for k, v in counts.items()}, ctx.path("parameters.png"), fmt="{:.1f}M",
                     ylabel="parameters (millions)", title="ImageNet nets as built here (1,000 classes)")
    numbers = {"parameters": counts, "paper_parameters": PAPER_PARAMETERS}
    figures = [ctx.figure(fig, "Parameters of the ILSVRC winners as built here (GoogLeNet without its training "
                               "heads)", numbers=numbers)]
    if ctx.quick:
        return Outcome(UNTESTABLE, "batch normalization's 14x fewer steps (BN-Inception against GoogLeNet on "
                                   "ImageNet) needs hours of training per net; --full trains googlenet-cifar and "
                                   "bn-inception-cifar on CIFAR-10 for 20 minutes each (flip-crop, one-cycle, lr "
                                   "0.02, batch 64) and compares the steps to 60 % validation accuracy. Parameter "
                                   f"counts: AlexNet/GoogLeNet = {counts['alexnet'] / counts['googlenet']:.1f}x. "
                                   f"{FAST_CIFAR}", figures=figures, numbers=numbers)
    return _batchnorm_full(ctx, figures, numbers)


def _parameters(name: str) -> int:
    """Parameters of a model at its ImageNet input, 1,000 classes (GoogLeNet without its training heads)."""
    from deeplearn.models import count_parameters, get

    spec = get(name)
    extra = {"aux_logits": False} if name == "googlenet" else {}
    return count_parameters(spec.build(1000, (spec.channels or 3, *spec.input_size), **extra))


def _batchnorm_full(ctx, figures, numbers) -> Outcome:
    """GoogLeNet against BN-Inception (CIFAR-10 variants), same budget: steps to a fixed validation accuracy."""
    target, series, steps_to = 0.6, {}, {}
    for name in ("googlenet-cifar", "bn-inception-cifar"):
        _train(ctx, name, "--model", name, "--data", "cifar10", "--augment", "flip-crop", "--max-time", 1200,
               "--batch-size", 64, "--lr", 0.02, "--schedule", "onecycle", "--eval-every", 100,
               "--test-limit", 2000)
        rows = [r for r in ctx.metrics(name) if "val_acc" in r]
        series[name] = ([r["step"] for r in rows], [r["val_acc"] for r in rows])
        steps_to[name] = next((r["step"] for r in rows if r["val_acc"] >= target), math.inf)
    fig = plots.lines(series, ctx.path("batchnorm.png"), xlabel="step", ylabel="validation accuracy",
                      hline=(target, f"target {target}"), title="GoogLeNet against BN-Inception, 20 min each")
    numbers.update(target_val_acc=target, steps_to_target=steps_to)
    figures.append(ctx.figure(fig, "Validation accuracy against steps", numbers=numbers))
    g, b = steps_to["googlenet-cifar"], steps_to["bn-inception-cifar"]
    holds = b < g
    return Outcome(HOLDS if holds else FAILS, f"steps to {target:.0%} validation accuracy: GoogLeNet {g}, "
                   f"BN-Inception {b} (the paper: 14x fewer on ImageNet). {FAST_CIFAR}", figures=figures,
                   numbers=numbers)


def sections() -> list[Section]:
    from deeplearn.vision.detect.lecture import sections as detection
    from deeplearn.vision.style.lecture import sections as style

    return [
        Section("filters", "Low-level features learned by vision networks", "convnets",
                "The first layer of a trained vision network learns smooth oriented edges and colour blobs "
                "(Krizhevsky, Sutskever, Hinton 2012).", run_filters),
        Section("deepdream", "DeepDream from white noise", "deepdream",
                "Starting from white noise, backpropagating a trained network's gradient to the pixels raises "
                "the response of a chosen feature (Mordvintsev, Olah, Tyka 2015).", run_deepdream),
        Section("batchnorm", "ImageNet-era architectures and batch normalization", "imagenet",
                "Zeiler-Fergus, Inception-v1 (GoogLeNet) and Inception-v2 (BN-Inception): batch normalization "
                "reaches the same accuracy in far fewer steps (14x on ImageNet).", run_imagenet),
        *detection(), *style(),
    ]
