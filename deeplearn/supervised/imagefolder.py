"""ImageFolder data (ROOT/<split>/<class>/<image>), decoded with Pillow in DataLoader workers.

ImageNet-style encoding: training takes a random-resized crop (scale 0.08-1, aspect 3/4-4/3) and a horizontal
flip; evaluation resizes the short side to size*256/224 and takes the center crop (Szegedy et al. 2014 and the
usual ImageNet recipe).
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from deeplearn.paths import DataError

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".webp", ".tif", ".tiff"}


def find_split(root: Path, split: str) -> Path:
    names = {"train": ["train"], "val": ["val", "valid", "validation"], "test": ["test", "val", "valid"]}[split]
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise DataError(f"{root}: no {split} folder (looked for {', '.join(names)})")


class ImageFolder(Dataset):
    """Samples (uint8 C x H x W tensor, class index); classes are the sorted sub-folder names."""

    def __init__(self, root: Path, size: int = 224, train: bool = True, classes: list[str] | None = None):
        self.root, self.size, self.train = Path(root), size, train
        found = sorted(d.name for d in self.root.iterdir() if d.is_dir()) if self.root.is_dir() else []
        self.classes = classes or found
        if not self.classes:
            raise DataError(f"{root}: no class folders")
        index = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in found:
            if c not in index:
                raise DataError(f"{root}: class folder {c!r} is not one of the training classes")
            for p in sorted((self.root / c).iterdir()):
                if p.is_file() and p.suffix.lower() in EXTENSIONS:
                    self.samples.append((p, index[c]))
                elif p.is_file():
                    raise DataError(f"{p}: not an image file (extension {p.suffix or 'none'}); "
                                    f"expected one of {', '.join(sorted(EXTENSIONS))}")
        if not self.samples:
            raise DataError(f"{root}: no images")

    def __len__(self) -> int:
        return len(self.samples)

    def _open(self, path: Path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except Image.DecompressionBombError as e:  # a header claiming a gigantic image: refused before decoding
            raise DataError(f"{path}: refused, the image is too large to decode safely ({e})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
            # Pillow's plugins raise any of these on a damaged file
            raise DataError(f"{path}: cannot decode image ({e})") from None

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        img = self._open(path)
        img = random_resized_crop(img, self.size) if self.train else center_crop(img, self.size)
        if self.train and random.random() < 0.5:  # workers are seeded per epoch (engine.data)
            img = img.transpose(0)  # FLIP_LEFT_RIGHT
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
        return x, label


def random_resized_crop(img, size: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    w, h = img.size
    area = w * h
    for _ in range(10):
        target = area * random.uniform(*scale)
        aspect = math.exp(random.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = random.randint(0, w - cw), random.randint(0, h - ch)
            return img.resize((size, size), box=(x0, y0, x0 + cw, y0 + ch), resample=2)  # bilinear
    return center_crop(img, size)


def center_crop(img, size: int):
    w, h = img.size
    short = round(size * 256 / 224)
    scale = short / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), resample=2)
    w, h = img.size
    x0, y0 = (w - size) // 2, (h - size) // 2
    return img.crop((x0, y0, x0 + size, y0 + size))


def imagenet_stats() -> tuple[list[float], list[float]]:
    """The usual ImageNet per-channel mean/std; an ImageFolder is streamed, so its own stats are not computed."""
    return [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
