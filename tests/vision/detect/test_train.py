"""Detectors trained through the engine: they overfit a handful of images to mAP 1, and a resumed run equals
the uninterrupted one bit for bit (RPN sampling and box-moving augmentation included)."""

import json

import pytest
import torch

from deeplearn.engine import LoaderSource, Runtime, TrainConfig, fit
from deeplearn.engine import checkpoint as ckpt
from deeplearn.vision.detect.data import collate_detection
from deeplearn.vision.detect.models import build_detector
from deeplearn.vision.detect.task import AugmentBatch, DetectionTask

from .shapes import ShapeSet

TINY = {"widths": [8, 16, 16, 32], "features": 32, "anchor_sizes": [16, 32]}


def shape_task(model: str, n: int = 4, augment: bool = False, batch: int = 4) -> DetectionTask:
    ds = ShapeSet(n)
    opts = {"model": model, "data": "shapes", **TINY}
    train = LoaderSource(ds, batch, shuffle=True, seed=0, collate=collate_detection,
                         transform=AugmentBatch(flip=True) if augment else None)
    val = LoaderSource(ds, batch, shuffle=False, collate=collate_detection)
    return DetectionTask(build_detector(opts, len(ds.classes)), train, {"val": val}, opts, {"classes": ds.classes})


def overfit(tmp_path, model: str, steps: int, lr: float) -> dict:
    torch.manual_seed(0)
    c = TrainConfig(steps=steps, batch_size=4, optimizer="adam", lr=lr, eval_every=steps, progress="none",
                    monitor="val_map50", monitor_mode="max", threads=1)
    return fit(shape_task(model), c, Runtime(torch.device("cpu")), tmp_path / model)


def test_centernet_overfits_four_images_to_map_1(tmp_path):
    s = overfit(tmp_path, "centernet", 100, 3e-3)
    assert s["final"]["val_map50"] == 1.0 and s["final"]["val_map50_voc07"] == 1.0


@pytest.mark.slow
def test_faster_rcnn_overfits_four_images_to_map_1(tmp_path):
    s = overfit(tmp_path, "faster-rcnn", 120, 2e-3)
    assert s["final"]["val_map50"] == 1.0


class Crash(Exception):
    pass


def _run(tmp_path, name, on_step_end=None, resume=False):
    c = TrainConfig(steps=12, batch_size=2, optimizer="adamw", lr=1e-3, schedule="cosine", warmup_steps=2,
                    eval_every=6, checkpoint_every=4, log_every=2, progress="none", deterministic=True, threads=1,
                    monitor="val_map50", monitor_mode="max")
    torch.manual_seed(c.seed)
    task = shape_task("faster-rcnn", n=6, augment=True, batch=2)
    fit(task, c, Runtime(torch.device("cpu")), tmp_path / name, resume=resume, on_step_end=on_step_end)
    return task.model.state_dict()


def _crash_at(step):
    def hook(s):
        if s == step:
            raise Crash()
    return hook


def _rows(path):
    """metrics.jsonl without the timing column."""
    return [{k: v for k, v in json.loads(r).items() if k != "samples_per_s"} for r in path.read_text().splitlines()]


def test_a_resumed_detector_run_equals_the_uninterrupted_run(tmp_path):
    straight = _run(tmp_path, "straight")
    with pytest.raises(Crash):
        _run(tmp_path, "crashed", on_step_end=_crash_at(7))  # after the checkpoints of steps 4 and 6
    assert ckpt.load(tmp_path / "crashed/checkpoints/last.pt")["state"]["step"] == 6
    resumed = _run(tmp_path, "crashed", resume=True)
    assert [k for k in straight if not torch.equal(straight[k], resumed[k])] == []  # bit for bit
    assert _rows(tmp_path / "straight/metrics.jsonl") == _rows(tmp_path / "crashed/metrics.jsonl")
