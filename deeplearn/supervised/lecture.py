"""The supervised system's sections of the lecture report (System(report=...)): deep nets against traditional
ML, tanh against ReLU, minibatch SGD against full-batch GD, optimizers, a CNN against an MLP of equal size,
and automatic differentiation against finite differences. Every run is a real `deeplearn train|baseline` job."""

from __future__ import annotations

import math
import statistics

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, Outcome, Section



def _data(ctx) -> list[str]:
    """The data options: the embedded digits (--quick) or MNIST (--full)."""
    return [] if ctx.quick else ["--data", "mnist", *ctx.data_args()]


def _train(ctx, name: str, *options) -> dict:
    """`deeplearn train OPTIONS --out SECTION/name`; the run's summary."""
    ctx.cli(["train", *_data(ctx), *options, "--threads", ctx.threads, "--progress", "none",
             "--out", ctx.path(name)])
    return ctx.summary(name)


def _baseline(ctx, name: str, method: str) -> dict:
    ctx.cli(["baseline", *_data(ctx), "--method", method, "--out", ctx.path(name)])
    return ctx.summary(name)


def _curve(ctx, run: str, key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of a validation metric over a run's evaluations."""
    rows = [r for r in ctx.metrics(run) if key in r]
    return [r["epoch"] for r in rows], [r[key] for r in rows]


def _epochs_to(epochs: list[float], accs: list[float], target_acc: float) -> float:
    """The first evaluated epoch whose validation accuracy reaches the target (inf if none)."""
    return next((e for e, a in zip(epochs, accs) if a >= target_acc), math.inf)


# --- supervised learning: deep nets against traditional ML --------------------------------------------------

def run_deep_vs_traditional(ctx) -> Outcome:
    deep = {"MLP 256-256 (ReLU)": _train(ctx, "mlp", *ctx.pick([], ["--hidden", "512", "512", "--epochs", "15",
                                                                      "--batch-size", "128", "--lr", "0.1"])),
            "LeNet-5 (CNN)": _train(ctx, "lenet5", "--model", "lenet5-modern", "--epochs", ctx.pick(20, 10))}
    methods = ctx.pick(["logreg", "svm", "forest"], ["logreg", "forest"])
    names = {"logreg": "logistic regression", "svm": "SVM (RBF)", "forest": "random forest"}
    trad = {names[m]: _baseline(ctx, f"baseline-{m}", m) for m in methods}
    acc = {k: s["test"]["test_acc"] for k, s in {**deep, **trad}.items()}
    colors = {k: "#4c78a8" if k in deep else "#f58518" for k in acc}
    lo = min(acc.values())
    fig = plots.bars(acc, ctx.path("accuracy.png"), ylabel="test accuracy", colors=colors, fmt="{:.4f}",
                     ylim=(max(0.0, lo - 0.05), 1.0), title=f"{ctx.pick('digits', 'MNIST')}: deep (blue) "
                                                            f"against traditional ML (orange), same split")
    best_deep, best_trad = max(deep, key=acc.get), max(trad, key=acc.get)
    holds = acc[best_deep] > acc[best_trad]
    reason = (f"best deep net {best_deep} {acc[best_deep]:.4f} against best traditional {best_trad} "
              f"{acc[best_trad]:.4f} test accuracy on the same split (one run each, seed 0).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers={"test_accuracy": acc},
                   figures=[ctx.figure(fig, "Test accuracy of each model on the same train/validation/test split",
                                       command="; ".join(ctx.commands), numbers={"test_accuracy": acc})])


# --- the feed-forward net: ReLU against tanh --------------------------------------------------------------

def run_relu_tanh(ctx) -> Outcome:
    seeds = range(ctx.pick(3, 3))
    epochs = ctx.pick(10, 10)
    target = ctx.pick(0.95, 0.97)
    every = ctx.pick(8, 100)  # a quarter epoch (digits, 25 % held out: 33 steps per epoch; MNIST batch 128: 421)
    series, reached, styles = {}, {"relu": [], "tanh": []}, {}
    for act in ("relu", "tanh"):
        for s in seeds:
            run = f"{act}-seed{s}"
            _train(ctx, run, "--activation", act, "--seed", s, "--epochs", epochs, "--optimizer", "sgd",
                   "--momentum", "0", "--no-nesterov", "--schedule", "constant", "--lr", "0.05",
                   *ctx.pick(["--val-fraction", "0.25"], ["--batch-size", "128"]), "--eval-every", every)
            ep, acc = _curve(ctx, run, "val_acc")
            series[f"{act} seed {s}"] = (ep, [1 - a for a in acc])
            styles[f"{act} seed {s}"] = "-" if act == "relu" else "--"
            reached[act].append(_epochs_to(ep, acc, target))
    fig = plots.lines(series, ctx.path("val_error.png"), xlabel="epoch", ylabel="validation error", logy=True,
                      title=f"plain SGD, lr 0.05: ReLU (solid) against tanh (dashed), {len(seeds)} seeds",
                      hline=(1 - target, f"target error {1 - target:.2f}"), styles=styles)
    mean = {a: statistics.mean(v) for a, v in reached.items()}
    holds = all(math.isfinite(x) for x in reached["relu"]) and mean["relu"] < mean["tanh"]
    numbers = {"target_val_error": round(1 - target, 4), "epochs_to_target": reached, "mean_epochs": mean,
               "speedup_tanh_over_relu": mean["tanh"] / mean["relu"] if math.isfinite(mean["tanh"]) else None}
    reason = (f"epochs to {1 - target:.0%} validation error ({ctx.pick('a quarter of the training digits held out', '6,000 MNIST images')}), "
              f"mean of {len(seeds)} seeds: ReLU {mean['relu']:.2f}, "
              f"tanh {mean['tanh']:.2f} (evaluated every quarter epoch; the slide's plain SGD update rule).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Validation error against epochs, every seed of both activations",
                                       command="; ".join(ctx.commands[:2]) + "; ... (seeds 0-2)",
                                       numbers=numbers)])


# --- SGD: minibatches against full-batch gradient descent, in wall time ----------------------------------

def _loss_vs_train_time(ctx, run: str) -> tuple[list[float], list[float]]:
    """(training seconds, validation loss) at each evaluation: step x the run's mean step time, so that the
    time spent evaluating and checkpointing (more often for one run than another) is not counted."""
    s = ctx.summary(run)
    per_step = s["train_time_s"] / max(1, s["steps"])
    rows = [r for r in ctx.metrics(run) if "val_loss" in r]
    return [r["step"] * per_step for r in rows], [r["val_loss"] for r in rows]


def run_sgd_vs_gd(ctx) -> Outcome:
    budget = ctx.pick(6, 60)
    full_batch = ctx.pick(1293, 54000)
    common = ["--optimizer", "sgd", "--momentum", "0", "--no-nesterov", "--schedule", "constant",
              "--max-time", budget]
    runs = {"minibatch SGD (batch 32, lr 0.05)": ["--batch-size", 32, "--lr", 0.05,
                                                  "--eval-every", ctx.pick(10, 100)]}
    for lr in (0.2, 1.0):
        runs[f"full-batch GD (batch {full_batch}, lr {lr})"] = ["--batch-size", full_batch, "--lr", lr,
                                                                "--eval-every", 5]
    series = {}
    for i, (label, opts) in enumerate(runs.items()):
        _train(ctx, f"run{i}", *common, *opts)
        series[label] = _loss_vs_train_time(ctx, f"run{i}")
    best = {k: min(v[1]) for k, v in series.items()}
    sgd = next(iter(series))
    gd = min((k for k in series if k != sgd), key=best.get)
    t_sgd = next((t for t, loss in zip(*series[sgd]) if loss <= best[gd]), math.inf)
    t_gd = series[gd][0][series[gd][1].index(best[gd])]
    fig = plots.lines(series, ctx.path("loss_vs_time.png"), xlabel="training time (s)",
                      ylabel="validation loss", logy=True,
                      title=f"same MLP, {budget} s each: minibatch SGD against full-batch GD")
    numbers = {"budget_s": budget, "lowest_val_loss": best, "gd_best_loss": best[gd], "gd_time_to_it_s": t_gd,
               "sgd_time_to_gd_best_s": t_sgd}
    holds = t_sgd <= 0.8 * t_gd
    reason = (f"full-batch GD's lowest validation loss ({best[gd]:.3f}, {gd}) took it {t_gd:.1f} s; minibatch SGD "
              f"got there in {t_sgd:.1f} s and went on to {best[sgd]:.3f} (one run each; criterion: SGD needs at "
              f"most 0.8 of GD's time).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Validation loss against training time (step x the run's mean step "
                                            "time; evaluations and checkpoints excluded), same model and budget",
                                       command="; ".join(ctx.commands), numbers=numbers)])


# --- real-life training: optimizers -----------------------------------------------------------------------

def run_optimizers(ctx) -> Outcome:
    epochs, target = ctx.pick(15, 10), ctx.pick(0.95, 0.97)
    runs = {"plain SGD (lr 0.05)": ["--optimizer", "sgd", "--momentum", "0", "--no-nesterov", "--lr", "0.05"],
            "SGD + Nesterov momentum 0.9 (lr 0.05)": ["--optimizer", "sgd", "--lr", "0.05"],
            "Adam (lr 0.001)": ["--optimizer", "adam", "--lr", "0.001"]}
    series, reached, final = {}, {}, {}
    for i, (label, opts) in enumerate(runs.items()):
        s = _train(ctx, f"opt{i}", *opts, "--schedule", "constant", "--epochs", epochs,
                   *ctx.pick([], ["--batch-size", "128"]), "--eval-every", ctx.pick(10, 100))
        ep, loss = _curve(ctx, f"opt{i}", "val_loss")
        series[label] = (ep, loss)
        reached[label] = _epochs_to(*_curve(ctx, f"opt{i}", "val_acc"), target)
        final[label] = s["test"]["test_acc"]
    fig = plots.lines(series, ctx.path("optimizers.png"), xlabel="epoch", ylabel="validation loss", logy=True,
                      title="the same MLP trained by three optimizers")
    plain, *better = list(runs)
    holds = all(reached[b] < reached[plain] for b in better)
    numbers = {"target_val_error": round(1 - target, 4), "epochs_to_target": reached, "test_accuracy": final}
    reason = (f"epochs to {1 - target:.0%} validation error: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                                         reached.items()) +
              ". GPU speed and data-parallel replicas are measured in the README (section 2), not here.")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Validation loss against epochs for three optimizers",
                                       command="; ".join(ctx.commands), numbers=numbers)])


# --- convolutional nets: parameter sharing, a CNN against an MLP of equal size ------------------------------

def equal_mlp_width(target: int, in_features: int, classes: int = 10) -> tuple[int, int]:
    """(h, parameters) of the two-hidden-layer MLP h-h whose parameter count is nearest `target`."""
    from deeplearn.models import build_model, count_parameters

    def count(h):
        return count_parameters(build_model({"model": "mlp", "hidden": [h, h]}, classes, (1, in_features, 1)))

    h = min(range(8, 2048), key=lambda w: abs((w * w + (in_features + classes + 2) * w + classes) - target))
    return h, count(h)


def run_cnn_vs_mlp(ctx) -> Outcome:
    from deeplearn.models import build_model, count_parameters

    cnn_params = count_parameters(build_model({"model": "lenet5-modern"}, 10, (1, 32, 32)))
    h, mlp_params = equal_mlp_width(cnn_params, ctx.pick(64, 784))
    seeds, epochs = range(3), ctx.pick(12, 10)
    acc = {"CNN": [], "MLP": []}
    for s in seeds:
        acc["CNN"].append(_train(ctx, f"cnn-seed{s}", "--model", "lenet5-modern", "--epochs", epochs,
                                 "--seed", s)["test"]["test_acc"])
        acc["MLP"].append(_train(ctx, f"mlp-seed{s}", "--hidden", h, h, "--epochs", epochs,
                                 "--seed", s)["test"]["test_acc"])
    mean = {k: statistics.mean(v) for k, v in acc.items()}
    sd = {k: statistics.stdev(v) for k, v in acc.items()}
    labels = {"CNN": f"LeNet-5 CNN ({cnn_params:,} params)", "MLP": f"MLP {h}-{h} ({mlp_params:,} params)"}
    fig = plots.bars({labels[k]: v for k, v in mean.items()}, ctx.path("cnn_vs_mlp.png"), fmt="{:.4f}",
                     errors={labels[k]: v for k, v in sd.items()}, ylabel="test accuracy (mean, sd of 3 seeds)",
                     ylim=(max(0.0, min(mean.values()) - 0.05), 1.0), title="equal parameter counts, same epochs")
    numbers = {"parameters": {"CNN": cnn_params, "MLP": mlp_params}, "test_accuracy": acc, "mean": mean, "sd": sd}
    holds = mean["CNN"] > mean["MLP"]
    reason = (f"LeNet-5 {mean['CNN']:.4f} +- {sd['CNN']:.4f} against MLP {h}-{h} {mean['MLP']:.4f} +- "
              f"{sd['MLP']:.4f} test accuracy (3 seeds, {epochs} epochs each, {cnn_params:,} against "
              f"{mlp_params:,} parameters).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Test accuracy of a CNN and an MLP with the same number of parameters",
                                       command="; ".join(ctx.commands[:2]) + "; ... (seeds 0-2)",
                                       numbers=numbers)])


def sections() -> list[Section]:
    from deeplearn.supervised.autodiff import run_autodiff

    return [
        Section("traditional", "Deep nets against traditional machine learning", "supervised",
                "Deep learning replaces hand-designed features and traditional machine learning: a deep net "
                "beats the traditional methods on the same data.", run_deep_vs_traditional),
        Section("relu-tanh", "ReLU against tanh", "feedforward",
                "In today's networks, tanh is increasingly replaced by max(x, 0) (ReLUs): they train faster "
                "(epochs to a fixed error).", run_relu_tanh),
        Section("sgd", "Minibatch SGD against full-batch gradient descent", "sgd",
                "Gradient descent on a randomly sampled minibatch B_i instead of the sum over all training "
                "examples: lower loss for the same wall time.", run_sgd_vs_gd),
        Section("optimizers", "More sophisticated optimizers", "real-life",
                "Real-life training uses more sophisticated optimizers than plain SGD (momentum, Adam), "
                "replicas and GPUs, and tuned hyperparameters.", run_optimizers),
        Section("cnn-vs-mlp", "Parameter sharing: a CNN against an MLP of equal size", "convnets",
                "Convolutional networks share parameters spatially (Fukushima 1980, LeCun 1988): with the same "
                "number of parameters they beat a fully connected net on images.", run_cnn_vs_mlp),
        Section("autodiff", "Automatic differentiation", "frameworks",
                "Frameworks compute the derivatives by the chain rule automatically (backpropagation): the "
                "gradients equal the true ones.", run_autodiff),
    ]
