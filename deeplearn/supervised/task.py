"""Image classification as a Task: cross-entropy loss; metrics sigma = loss, top-1, top-5, confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from deeplearn.engine import LoaderSource, Runtime, Task, TensorSource
from deeplearn.paths import DataError
from deeplearn.supervised import data as datasets
from deeplearn import models
from deeplearn.supervised.encoding import Encoder, channel_stats


from deeplearn.supervised.options import TASK_DEFAULTS, SupervisedOptions  # noqa: E402,F401


class ClassificationTask(Task):
    def __init__(self, model, train, evals, num_classes: int, config: dict, meta: dict):
        self.model, self.train, self.evals = model, train, evals
        self.num_classes, self.config, self.meta = num_classes, config, meta

    def forward(self, model, batch):
        """Training: the model's output. Evaluation with `tta == "flip"`: the mean of the logits of each image and
        of its mirror image (test-time augmentation; airbench, Jordan 2024, Sec. 3.7)."""
        if model.training or self.config.get("tta", "none") == "none":
            return model(batch[0])
        return flip_tta(model, batch[0])

    def loss(self, output, batch):
        y = batch[1]
        ls = self.config.get("label_smoothing", 0.0)
        loss = F.cross_entropy(models.logits_of(output), y, label_smoothing=ls)
        if isinstance(output, models.ClassifierOutput):  # auxiliary heads: non-empty in training mode only
            for aux in output.aux:
                loss = loss + self.config["aux_weight"] * F.cross_entropy(aux, y, label_smoothing=ls)
        return loss

    def metric_sums(self, output, batch):
        logits, y = models.logits_of(output).float(), batch[1]
        k = min(5, self.num_classes)
        topk = logits.topk(k, dim=1).indices
        pred = topk[:, 0]
        conf = torch.bincount(y * self.num_classes + pred, minlength=self.num_classes ** 2)
        return {"loss": F.cross_entropy(logits, y, reduction="sum"), "correct": (pred == y).sum(),
                "correct5": (topk == y[:, None]).any(1).sum(), "count": torch.tensor(len(y), device=y.device),
                "confusion": conf.view(self.num_classes, self.num_classes)}

    def summarize(self, sums):
        n = max(float(sums["count"]), 1.0)
        out = {"loss": float(sums["loss"]) / n, "acc": float(sums["correct"]) / n}
        if self.num_classes > 5:
            out["top5"] = float(sums["correct5"]) / n
        return out

    def report(self, sums, split, run_dir):
        conf = sums["confusion"].cpu().long()
        per_class = (conf.diag().float() / conf.sum(1).clamp_min(1).float()).tolist()
        names = self.meta["class_names"]
        Path(run_dir, f"{split}_per_class.json").write_text(json.dumps(
            {"per_class_acc": dict(zip(names, per_class)), "confusion": conf.tolist()}, indent=1))
        draw_confusion(conf, names, Path(run_dir) / f"{split}_confusion.png")


def flip_tta(model, x: torch.Tensor) -> torch.Tensor:
    """Mean of the logits of x and of x mirrored left-right (one forward pass over both halves of a 2N batch)."""
    logits = models.logits_of(model(torch.cat([x, x.flip(3)])))
    return 0.5 * (logits[: len(x)] + logits[len(x):])


def draw_confusion(conf: torch.Tensor, names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * k, 1 + 0.5 * k) if k > 10 else (6, 6))
    ax.imshow(conf.numpy(), cmap="Blues")
    ax.set_xticks(range(k), names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if conf[i, j]:
                    ax.text(j, i, int(conf[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if conf[i, j] > conf.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


build_model = models.build_model


def build_task(opts: dict, rt: Runtime, batch_size: int, seed: int, workers: int = 0) -> ClassificationTask:
    opts = {**TASK_DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
    spec = models.get(opts["model"])
    per_rank = rt.per_rank_batch(batch_size)
    eval_bs = opts["eval_batch_size"]
    if opts["data"] == "imagefolder":
        return _imagefolder_task(opts, spec, rt, per_rank, eval_bs, seed, workers)
    d = datasets.load(opts["data"], opts["data_dir"])
    (xtr, ytr), (xva, yva) = datasets.split_validation(d.x_train, d.y_train, opts["val_fraction"], seed=0)
    mean, std = channel_stats(xtr, d.pixel_max)
    xte, yte = test_subset(d.x_test, d.y_test, opts["test_limit"])
    c = spec.channels or d.image_shape[0]
    size = spec.input_size
    input_shape = (c, *(size or d.image_shape[1:]))
    enc = dict(pixel_max=d.pixel_max, mean=mean, std=std, size=size, channels=spec.channels)
    train = TensorSource((xtr, ytr), per_rank, shuffle=True, seed=seed, rank=rt.rank, world=rt.world_size,
                         transform=Encoder(**enc, augment=opts["augment"]))
    evals = {}
    if len(xva):
        evals["val"] = TensorSource((xva, yva), eval_bs, shuffle=False, rank=rt.rank, world=rt.world_size,
                                    transform=Encoder(**enc))
    evals["test"] = TensorSource((xte, yte), eval_bs, shuffle=False, rank=rt.rank, world=rt.world_size,
                                 transform=Encoder(**enc))
    if rt.device.type == "cuda":  # small data sets live on the GPU: no host-to-device copy per batch
        for s in [train, *evals.values()]:
            s.to(rt.device)
    meta = {"dataset": d.name, "source": d.source, "class_names": d.class_names, "pixel_max": d.pixel_max,
            "mean": mean, "std": std, "data_shape": list(d.image_shape), "input_shape": list(input_shape),
            "num_train": len(xtr), "num_val": len(xva), "num_test": len(xte)}
    model = build_model(opts, d.num_classes, input_shape)
    models.init_from_data(model, lambda n: Encoder(**enc)((xtr[:n], ytr[:n]))[0])
    return ClassificationTask(model, train, evals, d.num_classes, opts, meta)


def test_subset(x: torch.Tensor, y: torch.Tensor, limit: int | None):
    """A fixed random subset of `limit` test images (seed 0: the same for every run and model), kept in file order.

    Random, not the first `limit`: a test split may be sorted by class (shared/data's CIFAR-10 is)."""
    if not limit or limit >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:limit].sort().values
    return x[idx], y[idx]


def _imagefolder_task(opts, spec, rt, per_rank, eval_bs, seed, workers):
    from pathlib import Path

    from deeplearn.supervised.imagefolder import ImageFolder, find_split, imagenet_stats

    if not opts["data_dir"]:
        raise DataError("--data imagefolder needs --data-dir ROOT (with ROOT/train/<class>/ and ROOT/val/<class>/)")
    root = Path(opts["data_dir"])
    size = spec.input_size[0] if spec.input_size else opts["image_size"]
    train_ds = ImageFolder(find_split(root, "train"), size, train=True)
    mean, std = imagenet_stats()
    enc = dict(pixel_max=255, mean=mean, std=std, size=(size, size), channels=spec.channels)
    pin = rt.device.type == "cuda"
    train = LoaderSource(train_ds, per_rank, shuffle=True, seed=seed, rank=rt.rank, world=rt.world_size,
                         workers=workers, pin_memory=pin, transform=Encoder(**enc))
    val_dir, test_dir = find_split(root, "val"), find_split(root, "test")
    evals = {"val": LoaderSource(ImageFolder(val_dir, size, False, train_ds.classes), eval_bs, shuffle=False,
                                 rank=rt.rank, world=rt.world_size, workers=workers, pin_memory=pin,
                                 transform=Encoder(**enc))}
    evals["test"] = evals["val"] if test_dir == val_dir else LoaderSource(
        ImageFolder(test_dir, size, False, train_ds.classes), eval_bs, shuffle=False, rank=rt.rank,
        world=rt.world_size, workers=workers, pin_memory=pin, transform=Encoder(**enc))
    input_shape = (spec.channels or 3, size, size)
    meta = {"dataset": "imagefolder", "source": str(root), "class_names": train_ds.classes, "pixel_max": 255,
            "mean": mean, "std": std, "data_shape": [3, size, size], "input_shape": list(input_shape),
            "num_train": len(train_ds)}
    model = build_model(opts, len(train_ds.classes), input_shape)
    return ClassificationTask(model, train, evals, len(train_ds.classes), opts, meta)
