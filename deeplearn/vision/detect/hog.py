"""The pre-deep detector: HOG features + linear SVMs over a sliding window on an image pyramid, with rounds of
hard-negative mining and non-maximum suppression (Dalal and Triggs 2005).

Multi-class: one linear SVM per class (one-vs-rest), each with its own window: the class's median box aspect,
its long side `object_cells` cells, plus a `margin_cells` ring of context (Dalal and Triggs' 64 x 128 person
window has a 16-px margin). Training, per class:
  1. positives: for every non-difficult box (optionally also of the mirrored image), the pyramid window that fits
     it best (the level nearest its scale, the position nearest its centre: training sees exactly the features
     detection scans); negatives: the same for the other classes' boxes, and random pyramid windows that overlap
     no box of the class by IoU >= `negative_iou`;
  2. a linear SVM (scikit-learn LinearSVC, hinge loss, C);
  3. `mining_rounds` times: scan the mining images, add the highest-scoring false windows (score > -1, the
     margin) as hard negatives, retrain.
Detection: every window of every pyramid level and class is scored by one correlation of the HOG block map with
the class's filter; windows above `score_threshold` go through per-class NMS. Scores are sigmoid(2 * margin).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from deeplearn.paths import DataError
from deeplearn.vision.detect.boxes import batched_nms, box_iou
from deeplearn.vision.detect.hog_features import pyramid, score_maps, window_features

FORMAT = "deeplearn-hog-svm-1"


@dataclass
class HogOptions:
    cell: int = 4                  # HOG cell side (px); blocks of 2 x 2 cells, 9 orientations, L2-Hys
    object_cells: int = 6          # the long side of a class's object box in the window, in cells
    margin_cells: int = 1          # context ring around the object box
    levels_per_octave: int = 5     # pyramid scales per factor 2
    C: float = 0.01                # the SVM's soft-margin constant (Dalal and Triggs: 0.01)
    negatives_per_image: int = 10  # random negatives per class and image
    mining_rounds: int = 2
    hard_per_image: int = 10       # hard negatives per class, image and round
    mining_images: int = 200       # images scanned for negatives (evenly spaced over the training set)
    max_images: int | None = None  # images whose boxes are positives (None: all)
    negative_iou: float = 0.3      # a window is negative below this IoU with every box of its class
    flip_positives: bool = False   # also the mirrored positives (trees: yes; digits: no)
    score_threshold: float = -1.0  # windows with a margin below this are not reported
    nms_iou: float = 0.3
    pre_nms: int = 500             # best windows per class and image kept before NMS
    max_detections: int = 100
    seed: int = 0


@dataclass
class Template:
    oh: int  # object box, cells
    ow: int

    def window(self, margin: int) -> tuple[int, int]:
        return self.oh + 2 * margin, self.ow + 2 * margin

    def blocks(self, margin: int) -> tuple[int, int]:
        wh, ww = self.window(margin)
        return wh - 1, ww - 1


def _template(aspect: float, cells: int) -> Template:
    """aspect = width / height of the class's median box."""
    if aspect <= 1:
        return Template(cells, max(2, round(cells * aspect)))
    return Template(max(2, round(cells / aspect)), cells)


def _scales(long_sides: np.ndarray, object_px: float, per_octave: int) -> list[float]:
    """Pyramid scales taking the 2nd..98th percentile of box long sides to the template's object size."""
    lo, hi = np.percentile(long_sides, [2, 98]) if len(long_sides) else (object_px, object_px)
    top, bottom = object_px / max(lo, 1.0), object_px / max(hi, 1.0)
    n = max(1, math.ceil(math.log2(top / bottom) * per_octave) + 1)
    return [float(top * 2 ** (-k / per_octave)) for k in range(n)]


class HogSvmDetector:
    """HOG + linear SVM sliding-window detector. Options: the `HogOptions` fields."""

    def __init__(self, **options):
        names = {f.name for f in fields(HogOptions)}
        unknown = set(options) - names
        if unknown:
            raise DataError(f"unknown HOG-SVM option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
        self.options = HogOptions(**options)
        self.classes: list[str] = []
        self.templates: list[Template] = []
        self.scales: list[float] = []
        self.weights: list[np.ndarray] = []  # per class [bh, bw, 2, 2, 9]
        self.biases: list[float] = []
        self.history: dict = {}

    # --- windows and boxes -----------------------------------------------------------------------------------

    def _window_boxes(self, rows: np.ndarray, cols: np.ndarray, scale: float, t: Template) -> torch.Tensor:
        """Object boxes [n, 4] in image pixels of the windows at block positions (rows, cols) of a level."""
        c, m = self.options.cell, self.options.margin_cells
        x1 = (cols + m) * c / scale
        y1 = (rows + m) * c / scale
        return torch.from_numpy(np.stack([x1, y1, x1 + t.ow * c / scale, y1 + t.oh * c / scale], 1)).float()

    # --- training --------------------------------------------------------------------------------------------

    def _setup(self, dataset) -> list[tuple[torch.Tensor, dict]]:
        o = self.options
        n = len(dataset) if o.max_images is None else min(len(dataset), o.max_images)
        items = [dataset[i] for i in range(n)]
        self.classes = list(dataset.classes)
        boxes = [(t["boxes"][~t["difficult"]], t["labels"][~t["difficult"]]) for _, t in items]
        self.templates, long_sides = [], []
        for c in range(len(self.classes)):
            b = torch.cat([bb[ll == c] for bb, ll in boxes]) if boxes else torch.zeros(0, 4)
            if len(b) == 0:
                raise DataError(f"HOG-SVM: class {self.classes[c]!r} has no training box in {dataset.name}")
            wh = (b[:, 2:] - b[:, :2]).clamp(min=1)
            self.templates.append(_template(float((wh[:, 0] / wh[:, 1]).median()), o.object_cells))
            long_sides.append(wh.max(1).values.numpy())
        self.scales = _scales(np.concatenate(long_sides), o.object_cells * o.cell, o.levels_per_octave)
        return items

    def _best_window(self, box: torch.Tensor, t: Template) -> tuple[int, int, int]:
        """(level, block row, block column) of the window whose object box fits `box` best: the pyramid level
        nearest the box's scale, the position nearest its centre."""
        o = self.options
        x1, y1, x2, y2 = box.tolist()
        k = max((y2 - y1) / (t.oh * o.cell), (x2 - x1) / (t.ow * o.cell))
        level = int(np.argmin(np.abs(np.log(self.scales) + math.log(max(k, 1e-6)))))
        s = self.scales[level]
        col = round(((x1 + x2) / 2 * s - (t.ow / 2 + o.margin_cells) * o.cell) / o.cell)
        row = round(((y1 + y2) / 2 * s - (t.oh / 2 + o.margin_cells) * o.cell) / o.cell)
        return level, row, col

    def _positives(self, items, progress: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per class: (features of the pyramid window that fits each of its boxes best, the same for the other
        classes' boxes, as negatives). Features come from the pyramid itself, so training sees exactly what
        detection scans; boxes cut by the image (or tile) border are left out, as Dalal and Triggs did."""
        from tqdm import tqdm

        from deeplearn.vision.detect.augment import hflip

        o, n = self.options, len(self.classes)
        pos, other = [[] for _ in range(n)], [[] for _ in range(n)]
        min_cells = max(max(t.window(o.margin_cells)) for t in self.templates)
        views = ((image, target, flip) for image, target in items for flip in ([False, True] if o.flip_positives else [False]))
        for image, target, flip in tqdm(views, desc="positives", disable=not progress, leave=False,
                                        total=len(items) * (2 if o.flip_positives else 1)):
            if flip:
                image, target = hflip(image, target)
            h, w = image.shape[-2:]
            b = target["boxes"]
            keep = ~target["difficult"] & (b[:, 0] > 0) & (b[:, 1] > 0) & (b[:, 2] < w) & (b[:, 3] < h)
            levels: dict[int, np.ndarray | None] = {}
            for box, label in zip(b[keep], target["labels"][keep].tolist()):
                for c, t in enumerate(self.templates):
                    if c != label and flip:
                        continue
                    level, row, col = self._best_window(box, t)
                    if level not in levels:
                        got = pyramid(image, [self.scales[level]], o.cell, min_cells)
                        levels[level] = got[0][1] if got else None
                    blocks, (bh, bw) = levels[level], t.blocks(o.margin_cells)
                    if blocks is None or not (0 <= row <= blocks.shape[0] - bh and 0 <= col <= blocks.shape[1] - bw):
                        continue
                    (pos if c == label else other)[c].append(blocks[row:row + bh, col:col + bw].ravel())
        out = []
        for c, t in enumerate(self.templates):
            dim = int(np.prod(t.blocks(o.margin_cells))) * 36
            as_array = lambda x: np.stack(x).astype(np.float32) if x else np.zeros((0, dim), np.float32)  # noqa: E731
            out.append((as_array(pos[c]), as_array(other[c])))
        return out

    def _negatives_of_level(self, rng, blocks, scale, target, c, scores=None) -> np.ndarray:
        """Window features of one level that overlap no box of class c: random ones, or (scores given) the
        highest-scoring ones above the margin -1."""
        o, t = self.options, self.templates[c]
        bh, bw = t.blocks(o.margin_cells)
        nr, nc = blocks.shape[0] - bh + 1, blocks.shape[1] - bw + 1
        if nr <= 0 or nc <= 0:
            return np.zeros((0, bh * bw * 36), np.float32)
        if scores is None:
            k = o.negatives_per_image
            rows, cols = rng.integers(0, nr, 4 * k), rng.integers(0, nc, 4 * k)
        else:
            flat = np.argsort(-scores.ravel())[: 20 * o.hard_per_image]
            flat = flat[scores.ravel()[flat] > -1.0]
            rows, cols = np.unravel_index(flat, scores.shape)
            k = o.hard_per_image
        gt = target["boxes"][target["labels"] == c]
        if len(gt) and len(rows):
            free = box_iou(self._window_boxes(rows, cols, scale, t), gt).max(1).values < o.negative_iou
            rows, cols = rows[free.numpy()], cols[free.numpy()]
        rows, cols = rows[:k], cols[:k]
        return window_features(blocks, rows, cols, bh, bw).astype(np.float32)

    def _scan_negatives(self, items, rng, hard: bool, progress: bool, what: str) -> list[list[np.ndarray]]:
        """Per class, the negatives found on the mining images (random, or hard under the current SVMs)."""
        from tqdm import tqdm

        o = self.options
        found: list[list[np.ndarray]] = [[] for _ in self.classes]
        min_cells = max(max(t.window(o.margin_cells)) for t in self.templates)
        picks = np.unique(np.linspace(0, len(items) - 1, min(o.mining_images, len(items))).round().astype(int))
        for i in tqdm(picks.tolist(), desc=what, disable=not progress, leave=False):
            image, target = items[i]
            if i not in self._pyramids:  # kept for the mining rounds (float32)
                self._pyramids[i] = [(s, b.astype(np.float32)) for s, b in pyramid(image, self.scales, o.cell, min_cells)]
            levels = self._pyramids[i]
            maps = [score_maps(blocks, self.weights, self.biases) if hard else None for _, blocks in levels]
            for c in range(len(self.classes)):
                per_level = []
                for (scale, blocks), m in zip(levels, maps):
                    scores = m[c] if hard else None
                    per_level.append(self._negatives_of_level(rng, blocks, scale, target, c, scores))
                feats = np.concatenate(per_level) if per_level else np.zeros((0, 1))
                if hard:  # the hardest of the image over all levels
                    feats = feats[np.argsort(-(feats @ self.weights[c].ravel()))[: o.hard_per_image]]
                else:
                    feats = feats[rng.permutation(len(feats))[: o.negatives_per_image]]
                found[c].append(feats)
        return found

    def _train_svm(self, c: int, pos: np.ndarray, neg: np.ndarray) -> None:
        from sklearn.svm import LinearSVC

        x = np.concatenate([pos, neg])
        y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
        svm = LinearSVC(C=self.options.C, loss="hinge", dual=True, max_iter=5000, random_state=self.options.seed)
        import warnings
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(x, y)
        bh, bw = self.templates[c].blocks(self.options.margin_cells)
        self.weights[c] = svm.coef_[0].reshape(bh, bw, 2, 2, 9).astype(np.float32)
        self.biases[c] = float(svm.intercept_[0])

    def fit(self, dataset, progress: bool = True) -> "HogSvmDetector":
        """Train on a DetectionDataset (its `classes` become the detector's). Returns self."""
        start = time.perf_counter()
        rng = np.random.default_rng(self.options.seed)
        items = self._setup(dataset)
        self._pyramids: dict[int, list] = {}
        n_classes = len(self.classes)
        self.weights = [np.zeros((*t.blocks(self.options.margin_cells), 2, 2, 9), np.float32) for t in self.templates]
        self.biases = [0.0] * n_classes
        positives = self._positives(items, progress)
        negatives = self._scan_negatives(items, rng, hard=False, progress=progress, what="random negatives")
        negatives = [[other] + neg for (_, other), neg in zip(positives, negatives)]
        rounds = []
        for r in range(self.options.mining_rounds + 1):
            for c in range(n_classes):
                self._train_svm(c, positives[c][0], np.concatenate(negatives[c]))
            rounds.append({"round": r, "positives": [len(p) for p, _ in positives],
                           "negatives": [int(sum(len(x) for x in n)) for n in negatives]})
            if r < self.options.mining_rounds:
                hard = self._scan_negatives(items, rng, hard=True, progress=progress, what=f"hard negatives {r + 1}")
                for c in range(n_classes):
                    negatives[c].extend(hard[c])
        self._pyramids = {}
        self.history = {"rounds": rounds, "train_seconds": time.perf_counter() - start, "images": len(items)}
        return self

    # --- detection -------------------------------------------------------------------------------------------

    def predict(self, image: torch.Tensor) -> dict:
        """Detections in one image [3, H, W]: {"boxes" [K, 4], "scores" [K] (sigmoid(2 * margin)), "labels" [K]}."""
        if not self.weights:
            raise DataError("HOG-SVM: predict before fit (or load)")
        o = self.options
        min_cells = max(max(t.window(o.margin_cells)) for t in self.templates)
        boxes, scores, labels = [], [], []
        levels = pyramid(image, self.scales, o.cell, min_cells)
        maps = [score_maps(blocks, self.weights, self.biases) for _, blocks in levels]
        for c, t in enumerate(self.templates):
            cb, cs = [], []
            for (scale, blocks), level_maps in zip(levels, maps):
                s = level_maps[c]
                rows, cols = np.nonzero(s > o.score_threshold)
                cb.append(self._window_boxes(rows, cols, scale, t))
                cs.append(torch.from_numpy(s[rows, cols]).float())
            cb, cs = torch.cat(cb) if cb else torch.zeros(0, 4), torch.cat(cs) if cs else torch.zeros(0)
            top = torch.argsort(cs, descending=True)[: o.pre_nms]
            boxes.append(cb[top])
            scores.append(cs[top])
            labels.append(torch.full((len(top),), c, dtype=torch.long))
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        h, w = image.shape[-2:]
        boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h),
                             boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], 1)
        keep = batched_nms(boxes, scores, labels, o.nms_iou)[: o.max_detections]
        return {"boxes": boxes[keep], "scores": torch.sigmoid(2 * scores[keep]), "labels": labels[keep]}

    # --- files -----------------------------------------------------------------------------------------------

    def save(self, path) -> Path:
        """`path` (a .npz: the filters and biases) and `path` with .json (options, classes, windows, scales)."""
        path = Path(path).with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, biases=np.array(self.biases, np.float64), **{f"w{c}": w for c, w in enumerate(self.weights)})
        meta = {"format": FORMAT, "options": asdict(self.options), "classes": self.classes,
                "templates": [[t.oh, t.ow] for t in self.templates], "scales": self.scales, "history": self.history}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path) -> "HogSvmDetector":
        path = Path(path).with_suffix(".npz")
        meta_path = path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text())
            arrays = np.load(path, allow_pickle=False)
        except FileNotFoundError as e:
            raise DataError(f"{e.filename}: no such file (a HOG-SVM model is a .npz plus its .json)") from None
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a HOG-SVM model ({e})") from None
        if meta.get("format") != FORMAT:
            raise DataError(f"{meta_path}: not a HOG-SVM model (format {meta.get('format')!r})")
        det = cls(**meta["options"])
        det.classes, det.scales, det.history = meta["classes"], meta["scales"], meta.get("history", {})
        det.templates = [Template(*t) for t in meta["templates"]]
        det.weights = [arrays[f"w{c}"].astype(np.float32) for c in range(len(det.classes))]
        det.biases = arrays["biases"].tolist()
        return det
