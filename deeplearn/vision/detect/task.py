"""Detection as an engine Task: the batches are (images [B, 3, H, W] zero-padded, list of targets), the loss is
the detector's own sum of losses, and the metric is the VOC / COCO mAP of its predictions.

An mAP is not a sum over examples, so evaluation keeps the per-image predictions and targets as lists (the
engine gathers lists over replicas, `Runtime.reduce_metrics`) and `summarize` computes the mAP of all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from deeplearn.engine import LoaderSource, Runtime, Task
from deeplearn.paths import DataError
from deeplearn.vision.detect.data import collate_detection, load_detection, random_augment
from deeplearn.vision.detect.metrics import evaluate_detections
from deeplearn.vision.detect.models import build_detector

METRICS = ("map50", "map50_voc07", "coco_map")  # what validation logs (per-class APs go to the report)
EVAL_BATCH = 8


class AugmentBatch:
    """The box-moving augmentation of a training batch, image by image, from the engine's per-batch generator
    (fixed by the batch's position, so a resumed run augments exactly as the uninterrupted one)."""

    random = True

    def __init__(self, flip: bool):
        self.flip = flip

    def __call__(self, batch, generator: torch.Generator):
        images, targets = batch
        return collate_detection([random_augment(im, t, generator, flip=self.flip)
                                  for im, t in zip(images, targets)])


def unwrap(model: nn.Module) -> nn.Module:
    """The detector inside DistributedDataParallel / torch.compile wrappers (predict is not their forward)."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def cpu_targets(targets: list[dict]) -> list[dict]:
    return [{k: v.cpu() for k, v in t.items() if torch.is_tensor(v)} for t in targets]


class DetectionTask(Task):
    def __init__(self, model, train, evals, config: dict, meta: dict):
        self.model, self.train, self.evals, self.config, self.meta = model, train, evals, config, meta

    def forward(self, model, batch):
        images, targets = batch[0], batch[1]
        return model(images, targets)  # through the (DDP) wrapper: the loss dict

    def loss(self, output, batch):
        return output["loss"]

    def batch_size_of(self, batch) -> int:
        return len(batch[1])

    @torch.no_grad()
    def evaluate(self, model, source, device, autocast=None):
        """Predictions and targets of one pass (lists, gathered over replicas) and the image count."""
        net = unwrap(model)
        preds, targets = [], []
        for images, tgts in source.iter_epoch(0):
            images = images.to(device)
            if autocast:
                with autocast():
                    out = net.predict(images)
            else:
                out = net.predict(images)
            preds += [{k: v.float().cpu() if v.is_floating_point() else v.cpu() for k, v in p.items()} for p in out]
            targets += cpu_targets(tgts)
        return {"predictions": preds, "targets": targets, "images": torch.tensor(float(len(preds)))}

    def summarize(self, sums):
        m = evaluate_detections(sums["predictions"], sums["targets"], self.meta["classes"])
        return {k: float(m[k]) for k in METRICS}

    def report(self, sums, split, run_dir) -> None:
        """metrics_<split>.json (per-class APs too) and pr_<split>.png, the precision-recall curves."""
        from deeplearn.vision.detect.metrics import plot_pr_curves

        m = evaluate_detections(sums["predictions"], sums["targets"], self.meta["classes"])
        Path(run_dir, f"metrics_{split}.json").write_text(json.dumps(jsonable(m), indent=1))
        plot_pr_curves(m, Path(run_dir) / f"pr_{split}.png", title=f"{self.config['model']} on "
                       f"{self.config['data']} ({split})")


def jsonable(x):
    """Metric results as JSON values (tensors and arrays become lists, numpy scalars floats)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return x.tolist()
    return x


def split_options(opts: dict, split: str) -> dict:
    """The loader options of one split: mnist-detect is made to measure (--num-images / --val-images)."""
    if opts["data"] != "mnist-detect":
        return {}
    n = {"train": opts.get("num_images"), "val": opts.get("val_images"), "test": opts.get("test_images")}.get(split)
    return {} if n is None else {"num_images": n}


def load_split(opts: dict, split: str):
    ds = load_detection(opts["data"], split, data_dir=opts.get("data_dir"), **split_options(opts, split))
    limit = {"val": opts.get("val_images"), "test": opts.get("test_images")}.get(split)
    if limit and opts["data"] != "mnist-detect" and len(ds) > limit:
        ds = torch.utils.data.Subset(ds, range(limit))
    return ds


def classes_of(ds) -> list[str]:
    return list(getattr(ds, "classes", None) or ds.dataset.classes)


def flip_allowed(opts: dict) -> bool:
    if opts["augment"] == "auto":
        return opts["data"] != "mnist-detect"  # a mirrored digit is another glyph (or none)
    return opts["augment"] == "flip-scale"


def build_task(opts: dict, rt: Runtime, batch_size: int, seed: int, workers: int = 0) -> DetectionTask:
    """The task of options `opts` (DetectOptions fields): data splits, the detector, the evaluation sources."""
    from deeplearn.vision.detect.models import DETECTORS

    if not DETECTORS.get(opts["model"]).engine:
        raise DataError(f"--model {opts['model']} is not trained by gradient descent (it has its own fit)")
    train_ds = load_split(opts, "train")
    classes = classes_of(train_ds)
    per_rank = rt.per_rank_batch(batch_size)
    augment = None if opts["augment"] == "none" else AugmentBatch(flip_allowed(opts))
    train = LoaderSource(train_ds, per_rank, shuffle=True, seed=seed, rank=rt.rank, world=rt.world_size,
                         workers=workers, collate=collate_detection, transform=augment)
    evals = {}
    for split in ("val", "test"):
        try:
            ds = load_split(opts, split)
        except DataError:
            if split == "val":
                raise
            continue  # a user's folder without a test split
        if len(ds):
            evals[split] = LoaderSource(ds, EVAL_BATCH, shuffle=False, rank=rt.rank, world=rt.world_size,
                                        collate=collate_detection)
    model = build_detector(opts, len(classes))
    meta = {"classes": classes, "num_train": len(train_ds), "num_val": len(evals["val"]) if "val" in evals else 0,
            "stride": getattr(model, "stride", None), "paper": DETECTORS.get(opts["model"]).paper}
    return DetectionTask(model, train, evals, dict(opts), meta)


def describe_task(task: DetectionTask) -> str:
    """One line: the detector, its size and the data."""
    m, n = task.meta, sum(p.numel() for p in task.model.parameters())
    return (f"{task.config['model']} ({m['paper']}), {n:,} parameters, {len(m['classes'])} classes, "
            f"{m['num_train']} training / {m['num_val']} validation images, {task.train.batches_per_epoch()} "
            f"steps per epoch")


def load_detector(run, weights: str = "best", device: str = "cpu"):
    """(deep detector in eval mode, config) of a detection run (a RunDir)."""
    cfg = run.config
    model = build_detector(cfg["task"], len(cfg["meta"]["classes"]))
    model.load_state_dict(run.load_checkpoint(weights if run.checkpoint_path(weights).exists() else "last",
                                              map_location=device)["model"])
    return model.to(device).eval(), cfg
