"""mnist-detect: a seeded synthetic detection set made from MNIST digits (../shared/data/images/mnist.npz).

Each image is a canvas with a smooth coloured background, pixel noise and digit fragments (random crops of
other digits, unlabelled) as distractors, and 1..max_objects whole digits pasted at random scales and
non-overlapping positions, each in a random colour. A digit's box is exact: the tight extent of the pixels of
its resized glyph whose alpha is at least ALPHA_THRESHOLD. Image i of a split is a pure function of
(seed, split, i), so nothing is stored: train draws its digits from MNIST train[:50000], val from
train[50000:], test from the MNIST test set, so no glyph appears in two splits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from deeplearn.paths import DataError, data_root

ALPHA_THRESHOLD = 0.25
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES = {"train": 2000, "val": 200, "test": 500}


@dataclass(frozen=True)
class SynthOptions:
    size: int = 128                       # canvas side (px)
    min_scale: int = 20                   # digit glyph side (the 28-px MNIST square resized), px
    max_scale: int = 48
    max_objects: int = 4
    max_fragments: int = 5
    clutter: bool = True                  # background texture, noise and fragments; False: plain black canvas


@functools.lru_cache(maxsize=2)
def _mnist_arrays(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as d:
            return {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (mnist-detect needs images/mnist.npz under the data root)") from None
    except (KeyError, ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable MNIST npz ({e})") from None


def digit_pool(split: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST glyphs [n, 28, 28] uint8 and labels [n] that one split draws from."""
    d = _mnist_arrays(str(data_root(data_dir) / "images" / "mnist.npz"))
    if split == "train":
        return d["x_train"][:50000], d["y_train"][:50000]
    if split == "val":
        return d["x_train"][50000:], d["y_train"][50000:]
    return d["x_test"], d["y_test"]


def _resize(glyph: np.ndarray, h: int, w: int) -> np.ndarray:
    """uint8 [a, b] -> float [h, w] in [0, 1] (bilinear, antialiased)."""
    t = torch.from_numpy(glyph.astype(np.float32) / 255.0)[None, None]
    out = torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].clamp(0, 1).numpy()


def _paste(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, x: int, y: int) -> None:
    """Alpha-composite a glyph of `colour` into canvas [H, W, 3] at (x, y), in place."""
    h, w = alpha.shape
    region = canvas[y:y + h, x:x + w]
    a = alpha[..., None]
    region[...] = region * (1 - a) + colour[None, None, :] * a


def _background(rng: np.random.Generator, size: int, clutter: bool) -> np.ndarray:
    if not clutter:
        return np.zeros((size, size, 3), np.float32)
    coarse = torch.from_numpy(rng.uniform(0, 0.35, (1, 3, 6, 6)).astype(np.float32))
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    bg = smooth[0].permute(1, 2, 0).numpy() + rng.normal(0, 0.03, (size, size, 3)).astype(np.float32)
    return np.clip(bg, 0, 1)


def _add_fragments(rng, canvas, glyphs, opts: SynthOptions) -> None:
    for _ in range(int(rng.integers(0, opts.max_fragments + 1))):
        g = glyphs[int(rng.integers(len(glyphs)))]
        fh, fw = int(rng.integers(8, 16)), int(rng.integers(8, 16))  # a part of the 28-px square
        fy, fx = int(rng.integers(0, 28 - fh)), int(rng.integers(0, 28 - fw))
        scale = rng.uniform(0.6, 1.6)
        h, w = max(3, round(fh * scale)), max(3, round(fw * scale))
        alpha = _resize(g[fy:fy + fh, fx:fx + fw], h, w)
        x, y = int(rng.integers(0, opts.size - w + 1)), int(rng.integers(0, opts.size - h + 1))
        _paste(canvas, alpha, rng.uniform(0.4, 1.0, 3).astype(np.float32), x, y)


def _tight_box(alpha: np.ndarray, x: int, y: int) -> list[float] | None:
    rows = np.nonzero((alpha >= ALPHA_THRESHOLD).any(axis=1))[0]
    cols = np.nonzero((alpha >= ALPHA_THRESHOLD).any(axis=0))[0]
    if len(rows) == 0:
        return None
    return [x + cols[0], y + rows[0], x + cols[-1] + 1.0, y + rows[-1] + 1.0]


def _overlaps(box: list[float], boxes: list[list[float]]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes)


def make_image(rng: np.random.Generator, glyphs: np.ndarray, labels: np.ndarray, opts: SynthOptions):
    """One canvas: (image [3, S, S] float in [0, 1], target dict)."""
    canvas = _background(rng, opts.size, opts.clutter)
    if opts.clutter:
        _add_fragments(rng, canvas, glyphs, opts)
    boxes, classes = [], []
    for _ in range(int(rng.integers(1, opts.max_objects + 1))):
        for _try in range(30):  # rejection sampling of a free spot
            s = int(rng.integers(opts.min_scale, opts.max_scale + 1))
            x, y = int(rng.integers(0, opts.size - s + 1)), int(rng.integers(0, opts.size - s + 1))
            k = int(rng.integers(len(glyphs)))
            alpha = _resize(glyphs[k], s, s)
            box = _tight_box(alpha, x, y)
            if box is not None and not _overlaps(box, boxes):
                _paste(canvas, alpha, rng.uniform(0.6, 1.0, 3).astype(np.float32), x, y)
                boxes.append(box)
                classes.append(int(labels[k]))
                break
    image = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1))).float().clamp(0, 1)
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
              "labels": torch.tensor(classes, dtype=torch.long),
              "difficult": torch.zeros(len(boxes), dtype=torch.bool)}
    return image, target


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), SPLIT_CODES[split], int(index)])
