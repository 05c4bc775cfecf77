"""The pictures of docs/detection.md: detections of trained runs drawn on test images (ground truth in white).

    DEEPLEARN_DATA=../shared/data python benchmarks/detect_gallery.py --mnist RUN... --forest RUN... \
        --out docs/img/detection [--score 0.3]

Each mnist run gives a grid of the first 8 mnist-detect test canvases (enlarged 2x); each forest run the
DeepForest test image OSBS_029.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from deeplearn.vision.detect.data import load_detection
from deeplearn.vision.detect.draw import detection_grid, draw_detections
from deeplearn.vision.detect.inference import load_run


def pictures(run: str, ds, n: int, score: float, scale: float):
    det = load_run(run)
    items = [ds[i] for i in range(n)]
    preds = det.predict([im for im, _ in items])
    out = []
    for (im, t), p in zip(items, preds):
        keep = p["scores"] >= score
        out.append(draw_detections(im, {k: v[keep] for k, v in p.items()}, classes=det.classes, target=t,
                                   scale=scale))
    return det.config["task"]["model"], out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", nargs="*", default=[])
    ap.add_argument("--forest", nargs="*", default=[])
    ap.add_argument("--out", default="docs/img/detection")
    ap.add_argument("--score", type=float, default=0.3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for run in a.mnist:
        name, pics = pictures(run, load_detection("mnist-detect", "test"), 8, a.score, 2.0)
        detection_grid(pics, columns=4).save(out / f"{name}-mnist-detect.png")
        print(out / f"{name}-mnist-detect.png")
    for run in a.forest:
        name, pics = pictures(run, load_detection("deepforest", "test"), 1, a.score, 1.0)
        pics[0].save(out / f"{name}-deepforest.png")
        print(out / f"{name}-deepforest.png")


if __name__ == "__main__":
    main()
