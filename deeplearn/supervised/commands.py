"""Commands of the supervised-learning system: train, evaluate, predict, baseline, models."""

from __future__ import annotations

import json
from pathlib import Path

from deeplearn.engine.command import TrainingSpec, add_training_arguments, default_run_dir, run_training, train_verb
from deeplearn.paths import DataError
from deeplearn.supervised.options import SupervisedOptions

# What `deeplearn train` does with no options: the classical MLP (ReLU) on the embedded digits, in seconds.
TRAIN_DEFAULTS = {"epochs": 30, "batch_size": 32, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                  "nesterov": True, "weight_decay": 1e-4, "schedule": "cosine", "monitor": "val_acc"}


def _build_task(opts, rt, c):
    from deeplearn.supervised.task import build_task

    return build_task(opts, rt, c.batch_size, c.seed, c.workers)


def _describe(summary: dict) -> str:
    if "test" not in summary:
        return f"{summary['status']} after {summary['steps']} steps"
    return (f"test accuracy: {summary['test']['test_acc']:.4f} ({summary['status']}, {summary['steps']} steps, "
            f"{summary['train_time_s']:.1f} s training)")


SPEC = TrainingSpec(system="supervised", options=SupervisedOptions, build_task=_build_task, defaults=TRAIN_DEFAULTS,
                    run_name=lambda cfg: f"{cfg['model']}-{cfg['data']}", describe=_describe,
                    metrics=("val_loss", "val_acc", "val_top5"))


def register(sub) -> None:
    p = sub.add_parser("train", help="supervised learning: train a classifier (default: the MLP on digits)",
                       description="Train an image classifier through the engine. With no options: the "
                                   "classical feed-forward net (ReLU) on scikit-learn's embedded 8x8 digits.")
    add_training_arguments(p, SPEC)
    p.set_defaults(func=train_verb(SPEC))

    p = sub.add_parser("evaluate", help="supervised learning: evaluate a trained run on its validation/test data")
    p.add_argument("run_dir")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--data-dir", help="data root, if it moved since training")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="supervised learning: top-k classes for image files")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+")
    p.add_argument("--top", type=int, default=3, help="classes to show (default: 3)")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("baseline", help="traditional machine learning (scikit-learn) on the same data")
    p.add_argument("--data", choices=["digits", "mnist", "fashion-mnist", "cifar10"], default="digits")
    p.add_argument("--method", choices=["logreg", "svm", "forest"], default="logreg")
    p.add_argument("--data-dir")
    p.add_argument("--max-train", type=int, help="use only the first N training samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run directory (default: runs/baseline-<method>-<data>-<time>)")
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("models", help="list every model with its parameter count and input size")
    p.set_defaults(func=cmd_models)


def train(args, on_eval=None) -> dict | None:
    """`deeplearn train` from parsed options; the summary on replica 0, else None."""
    return run_training(SPEC, args, on_eval=on_eval)


def cmd_evaluate(args) -> int:
    from deeplearn.engine import TrainConfig, setup
    from deeplearn.engine.rundir import RunDir
    from deeplearn.supervised.task import build_task

    run = RunDir(args.run_dir).require_system("supervised")
    cfg = run.config
    opts = dict(cfg["task"])
    if args.data_dir:
        opts["data_dir"] = args.data_dir
    train_cfg = TrainConfig.from_dict(cfg["train"])
    rt = setup(TrainConfig(device=args.device, seed=train_cfg.seed))
    task = build_task(opts, rt, train_cfg.batch_size, train_cfg.seed)
    path = run.checkpoint_path(args.weights)
    task.model.load_state_dict(run.model_state(args.weights))
    model = task.model.to(rt.device).eval()
    result = {"weights": str(path)}
    for split, source in task.evals.items():
        result.update({f"{split}_{k}": v for k, v in
                       task.summarize(task.evaluate(model, source, rt.device)).items()})
    (run / "evaluate.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def load_image(path: str, meta: dict):
    """An image file encoded as the run's training data: channels, size, pixel range."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    from deeplearn.paths import DataError

    c, h, w = meta["data_shape"]
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB").resize((w, h), resample=Image.BILINEAR)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: cannot read image ({e})") from e
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy())
    x = x[None] if c == 1 else x.permute(2, 0, 1)
    return x * (meta["pixel_max"] / 255.0)  # pixel range of the training data (16 for digits)


def cmd_predict(args) -> int:
    import torch

    from deeplearn.supervised.encoding import Encoder
    from deeplearn.models import logits_of
    from deeplearn.models import load_classifier

    model, meta = load_classifier(args.run_dir, args.weights)
    size = tuple(meta["input_shape"][1:])
    enc = Encoder(meta["pixel_max"], meta["mean"], meta["std"],
                  size=None if size == tuple(meta["data_shape"][1:]) else size, channels=meta["input_shape"][0])
    x = torch.stack([load_image(p, meta) for p in args.images])
    with torch.no_grad():
        probs = logits_of(model(enc((x, None))[0])).softmax(1)
    names = meta["class_names"]
    for path, p in zip(args.images, probs):
        top = p.topk(min(args.top, len(names)))
        print(path + ": " + ", ".join(f"{names[i]} {v:.3f}" for v, i in zip(top.values.tolist(),
                                                                              top.indices.tolist())))
    return 0


def cmd_baseline(args) -> int:
    from deeplearn.engine.rundir import RunDir
    from deeplearn.supervised import baseline

    out = Path(args.out or default_run_dir("baseline", args.method, args.data))
    out.mkdir(parents=True, exist_ok=True)
    summary = baseline.run(args.method, args.data, args.data_dir, max_train=args.max_train, seed=args.seed)
    RunDir(out).write_summary(summary)
    print(f"{args.method} on {args.data}: test accuracy {summary['test']['test_acc']:.4f} "
          f"(fit {summary['fit_time_s']:.1f} s); {out / 'summary.json'}")
    return 0


def cmd_models(args) -> int:
    from deeplearn import models

    print(f"{'model':<22} {'parameters':>12}  {'input':<12} description")
    for spec in models.all_specs():
        if spec.input_size:
            classes = 1000 if spec.input_size[0] >= 200 else 10
            shape = (spec.channels or 3, *spec.input_size)
        else:  # size-agnostic models are counted on MNIST (1 x 28 x 28, 10 classes)
            classes, shape = 10, (1, 28, 28)
        model = spec.build(classes, shape)
        n = models.count_parameters(model)
        note = ""
        if getattr(model, "aux1", None) is not None:  # GoogLeNet: the papers count the net without its training heads
            note = f"; {models.count_parameters(spec.build(classes, shape, aux_logits=False)):,} without aux heads"
        print(f"{spec.name:<22} {n:>12,}  {'x'.join(map(str, shape)):<12} {spec.description} "
              f"[{classes} classes{note}]")
    return 0
