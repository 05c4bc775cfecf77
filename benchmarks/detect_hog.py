"""HOG-SVM (Dalal and Triggs 2005) on mnist-detect and DeepForest: training time, mAP@0.5 (all-point and VOC07),
COCO mAP on the test split, inference ms per image; and our HOG blocks against skimage.feature.hog (same numbers,
one vectorized normalization) side by side, as a speed ratio.

    flock /tmp/deeplearn-cpu.lock python benchmarks/detect_hog.py --threads 2

Writes benchmarks/results/detect_hog.txt, PR curves and a picture of detections in docs/img/detect/."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.vision.detect.data import load_detection  # noqa: E402
from deeplearn.vision.detect.draw import detection_grid, draw_detections  # noqa: E402
from deeplearn.vision.detect.hog import HogSvmDetector  # noqa: E402
from deeplearn.vision.detect.metrics import evaluate_detections, plot_pr_curves  # noqa: E402

# Dalal and Triggs' C = 0.01 on the digits; on the trees it leaves every training crown below the margin
# (no positive scored > 0), so the trees use C = 1 and mirrored positives (crowns have no handedness).
CONFIGS = {
    "mnist-detect": ({}, {}),
    "deepforest": ({}, {"C": 1.0, "flip_positives": True, "levels_per_octave": 4, "mining_images": 27,
                        "negatives_per_image": 40, "hard_per_image": 40, "max_detections": 300}),
}


def hog_speed(runs: int = 5) -> str:
    from skimage.feature import hog

    from deeplearn.vision.detect.hog_features import hog_blocks

    image = np.random.default_rng(0).random((400, 400, 3))
    t0 = time.perf_counter()
    for _ in range(runs):
        ref = hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys",
                  feature_vector=False, channel_axis=-1)
    t1 = time.perf_counter()
    for _ in range(runs):
        ours = hog_blocks(image, cell=4)
    t2 = time.perf_counter()
    assert np.allclose(ref, ours)
    a, b = (t1 - t0) / runs * 1e3, (t2 - t1) / runs * 1e3
    return f"HOG of a 400x400 RGB image (4-px cells): skimage.feature.hog {a:.1f} ms, ours {b:.1f} ms, ratio {a / b:.2f}x (equal output)"


def run(name: str, data_dir, train_images, test_images, img_dir: Path, progress: bool) -> dict:
    data_kw, options = CONFIGS[name]
    kw = dict(data_kw)
    if name == "mnist-detect":
        train = load_detection(name, "train", data_dir, num_images=train_images, **kw)
        test = load_detection(name, "test", data_dir, num_images=test_images, **kw)
    else:
        train, test = load_detection(name, "train", data_dir), load_detection(name, "test", data_dir)
    det = HogSvmDetector(**options)
    t0 = time.perf_counter()
    det.fit(train, progress=progress)
    train_s = time.perf_counter() - t0
    items = [test[i] for i in range(len(test))]
    t0 = time.perf_counter()
    preds = [det.predict(image) for image, _ in items]
    ms = (time.perf_counter() - t0) / len(items) * 1e3
    r = evaluate_detections(preds, [t for _, t in items], test.classes)
    plot_pr_curves(r, img_dir / f"pr-hog-{name}.png", title=f"HOG-SVM on {name} test")
    top = lambda p, t: {k: v[: len(t["boxes"])] for k, v in p.items()}  # noqa: E731 (the best as many as truth)
    if name == "mnist-detect":  # (no picture of the DeepForest imagery is kept in the repository)
        pics = [draw_detections(im, top(p, t), test.classes, target=t, scale=2) for (im, t), p in list(zip(items, preds))[:4]]
        detection_grid(pics, columns=4).save(img_dir / f"detections-hog-{name}.png")
    return {"data": name, "train_images": len(train), "test_images": len(test), "train_s": round(train_s, 1),
            "infer_ms_per_image": round(ms, 1), "map50": round(r["map50"], 4), "map50_voc07": round(r["map50_voc07"], 4),
            "coco_map": round(r["coco_map"], 4), "map75": round(r["map75"], 4),
            "ap_per_class": {k: (None if v is None else round(v, 4)) for k, v in r["ap_per_class"].items()},
            "options": options, "rounds": det.history["rounds"][-1]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-images", type=int, default=2000, help="mnist-detect training images")
    ap.add_argument("--test-images", type=int, default=500, help="mnist-detect test images")
    ap.add_argument("--out", default="benchmarks/results/detect_hog.txt")
    ap.add_argument("--img-dir", default="docs/img/detect")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    img_dir = Path(args.img_dir)
    img_dir.mkdir(parents=True, exist_ok=True)
    sha = commit()
    lines = [f"# commit {sha}; command: python benchmarks/detect_hog.py {' '.join(argv or sys.argv[1:])}; runs: 1",
             f"# machine: {machine()}", "# " + hog_speed()]
    print("\n".join(lines), flush=True)
    for name in args.data:
        res = run(name, args.data_dir, args.train_images, args.test_images, img_dir, args.progress)
        lines.append(json.dumps(res))
        print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
