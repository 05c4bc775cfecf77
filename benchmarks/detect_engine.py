"""Detector training through the engine against a plain, hand-written loop of the same model, alternating in one
process: training images/s of each and the ratio engine / plain (the issue asks >= 0.97).

    DEEPLEARN_DATA=../shared/data python benchmarks/detect_engine.py [--steps 30] [--repeats 3] [--threads 2]

Both read mnist-detect's training canvases (128 px, made on access) in the same shuffled batches of 16 through a
DataLoader with the detection collate, and run the detector's losses, backward and an AdamW update. The engine's
time is its training time (batches fetched and steps; no evaluation falls inside); the plain loop's the wall
time of its steps. With --inference RUN ...: also milliseconds per 400-px DeepForest image of trained runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from deeplearn.engine import LoaderSource, Runtime, TrainConfig, fit  # noqa: E402
from deeplearn.vision.detect.data import collate_detection, load_detection  # noqa: E402
from deeplearn.vision.detect.models import build_detector  # noqa: E402
from deeplearn.vision.detect.options import TASK_DEFAULTS  # noqa: E402
from deeplearn.vision.detect.task import DetectionTask  # noqa: E402

LR = 1e-3


def build(name: str, classes: int):
    torch.manual_seed(0)
    return build_detector({**TASK_DEFAULTS, "model": name}, classes)


def plain(name, ds, steps, batch):
    """The loop anyone would write by hand."""
    model = build(name, len(ds.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    model.train()
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True,
                                         collate_fn=collate_detection, generator=torch.Generator().manual_seed(0))
    epochs = itertools.chain.from_iterable(iter(lambda: loader, None))  # epoch after epoch
    t0 = time.perf_counter()
    for images, targets in itertools.islice(epochs, steps):
        opt.zero_grad(set_to_none=True)
        model(images, targets)["loss"].backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def engine(name, ds, steps, batch):
    model = build(name, len(ds.classes))
    src = LoaderSource(ds, batch, shuffle=True, collate=collate_detection)
    task = DetectionTask(model, src, {}, {"model": name, "data": ds.name}, {"classes": ds.classes})
    c = TrainConfig(steps=steps, batch_size=batch, optimizer="adamw", lr=LR, weight_decay=1e-4, progress="none",
                    log_every=10)
    with tempfile.TemporaryDirectory() as d:
        s = fit(task, c, Runtime(torch.device("cpu")), Path(d) / "run")
    return s["samples_per_s"]


def inference(runs: list[str], repeats: int) -> None:
    """Milliseconds per image of each trained run on the 400-px DeepForest val and test images (one at a time)."""
    from deeplearn.vision.detect.inference import load_run

    images = [load_detection("deepforest", s)[0][0] for s in ("val", "test")]
    print(f"{'run':<40}{'model':<14}{'ms per 400-px image':>22}   (median of {repeats} passes over "
          f"{len(images)} images, batch 1)")
    for run in runs:
        det = load_run(run)
        det.predict(images[:1])  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for im in images:
                det.predict([im])
            times.append(1000 * (time.perf_counter() - t0) / len(images))
        print(f"{run:<40}{det.config['task']['model']:<14}{statistics.median(times):>22.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--models", nargs="+", default=["centernet", "faster-rcnn"])
    ap.add_argument("--inference", nargs="*", default=[], metavar="RUN", help="trained runs to time")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = load_detection("mnist-detect", "train", num_images=a.batch * (a.steps + 1))
    print(machine())
    print(f"{'model':<14}{'plain images/s':>16}{'engine images/s':>17}{'ratio':>8}   ({a.steps} steps, batch "
          f"{a.batch}, 128-px canvases, median of {a.repeats} alternating runs)")
    for name in a.models:
        engine(name, ds, 5, a.batch)  # warm-up (allocator, kernels)
        p, e = [], []
        for _ in range(a.repeats):
            p.append(plain(name, ds, a.steps, a.batch))
            e.append(engine(name, ds, a.steps, a.batch))
        mp, me = statistics.median(p), statistics.median(e)
        print(f"{name:<14}{mp:>16.1f}{me:>17.1f}{me / mp:>8.3f}   plain {['%.1f' % v for v in p]}, "
              f"engine {['%.1f' % v for v in e]}", flush=True)
    if a.inference:
        inference(a.inference, a.repeats)


if __name__ == "__main__":
    main()
