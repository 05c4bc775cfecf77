"""Using a trained detector, whatever its kind: load a run (deep: checkpoint; HOG-SVM: its saved SVMs), predict
a data set or image files, and fit the HOG-SVM run (its own routine, not the engine: it is not SGD).

    det = load_run("runs/centernet")        # a Predictor
    preds = det.predict([image, ...])       # one prediction dict per image [3, H, W]
"""

from __future__ import annotations

import time

import torch

from deeplearn.engine.rundir import RunDir
from deeplearn.paths import DataError

SYSTEM = "vision"  # config.json's "system" of every detection run (`deeplearn vision detect train`)
HOG_DIR = "hog-svm"  # the HOG-SVM's files inside its run directory


class Predictor:
    """Predictions of a deep detector (images padded into batches) or of HOG-SVM (image by image)."""

    def __init__(self, model, config: dict, deep: bool, device: str = "cpu", batch_size: int = 8):
        self.model, self.config, self.deep = model, config, deep
        self.device, self.batch_size = torch.device(device), batch_size
        self.classes = config["meta"]["classes"]

    @torch.no_grad()
    def predict(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        if not self.deep:
            return [self.model.predict(im) for im in images]
        from deeplearn.vision.detect.data import collate_detection

        out = []
        for i in range(0, len(images), self.batch_size):
            batch, _ = collate_detection([(im, {}) for im in images[i:i + self.batch_size]])
            out += [{k: v.cpu() for k, v in p.items()} for p in self.model.predict(batch.to(self.device))]
        return out


def load_run(run_dir, weights: str = "best", device: str = "cpu") -> Predictor:
    """The Predictor of a detection run directory (an error names a run of another system)."""
    from deeplearn.vision.detect.models import DETECTORS

    run = RunDir(run_dir).require_system(SYSTEM)
    cfg = run.config
    if "classes" not in cfg.get("meta", {}):
        raise DataError(f"{run}: not a detection run (config.json has no class list)")
    if DETECTORS.get(cfg["task"]["model"]).engine:
        from deeplearn.vision.detect.task import load_detector

        model, _ = load_detector(run, weights, device)
        return Predictor(model, cfg, True, device)
    from deeplearn.vision.detect.hog import HogSvmDetector

    return Predictor(HogSvmDetector.load(run / HOG_DIR), cfg, False)


def predict_dataset(det: Predictor, ds, progress: bool = True) -> tuple[list[dict], list[dict], float]:
    """(predictions, targets, seconds per image) over a data set."""
    from tqdm import tqdm

    preds, targets, seconds = [], [], 0.0
    step = det.batch_size if det.deep else 1
    for i in tqdm(range(0, len(ds), step), desc="predict", unit="batch", disable=not progress, leave=False):
        items = [ds[j] for j in range(i, min(i + step, len(ds)))]
        t = time.perf_counter()
        preds += det.predict([im for im, _ in items])
        seconds += time.perf_counter() - t
        targets += [tgt for _, tgt in items]
    return preds, targets, seconds / max(len(ds), 1)


def fit_hog(opts: dict, out: str, progress: bool = True) -> dict:
    """Fit HOG-SVM on the training split, save it in `out`, test it; the summary (also summary.json)."""
    from deeplearn.vision.detect.hog import HogSvmDetector
    from deeplearn.vision.detect.metrics import evaluate_detections
    from deeplearn.vision.detect.task import METRICS, classes_of, flip_allowed, load_split

    run = RunDir(out)
    if run.exists():
        raise DataError(f"{run} already holds a run; choose another --out")
    train = load_split(opts, "train")
    classes = classes_of(train)
    det = HogSvmDetector(flip_positives=flip_allowed(opts))  # mirrored trees are trees, mirrored digits not
    t = time.perf_counter()
    det.fit(train, progress=progress)
    train_time = time.perf_counter() - t
    run.path.mkdir(parents=True, exist_ok=True)
    det.save(run / HOG_DIR)
    meta = {"classes": classes, "num_train": len(train), "paper": "Dalal and Triggs 2005"}
    run.write_config(SYSTEM, {}, dict(opts), meta)
    summary = {"status": "completed", "train_time_s": round(train_time, 3)}
    try:
        test = load_split(opts, "test")
    except DataError:
        test = None
    if test is not None and len(test):
        preds, targets, per_image = predict_dataset(Predictor(det, {"meta": meta}, False), test, progress)
        m = evaluate_detections(preds, targets, classes)
        summary["test"] = {f"test_{k}": float(m[k]) for k in METRICS}
        summary["inference_ms_per_image"] = round(1000 * per_image, 2)
    run.write_summary(summary)
    return summary
