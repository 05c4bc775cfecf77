"""Detection data sets: `load_detection(spec, split)` for `mnist-detect` (seeded synthetic digits),
`deepforest` (aerial tree crowns, split by site, tiled) and `voc:DIR` (a user's Pascal VOC folder);
`collate_detection`; the box-moving augmentation (re-exported from `augment`).

    ds = load_detection("deepforest", "train", data_dir="../shared/data")
    image, target = ds[0]          # [3, H, W] in [0, 1]; {"boxes" [N, 4], "labels" [N], "difficult" [N]}
    ds.classes, ds.name            # ["Tree"], "deepforest"
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from deeplearn.paths import DataError, data_root
from deeplearn.registry import Registry
from deeplearn.vision.detect import synthetic
from deeplearn.vision.detect.augment import crop, hflip, random_augment, rescale  # noqa: F401 (re-exported)
from deeplearn.vision.detect.voc import (VocAnnotation, check_classes, parse_voc, read_class_list)

SPLITS = ("train", "val", "test")
DETECTION_DATASETS: Registry = Registry("detection data set")

Target = dict  # {"boxes": float [N, 4], "labels": long [N], "difficult": bool [N]}


class DetectionDataset(Sequence):
    """A sequence of (image [3, H, W] float in [0, 1], target) pairs, made on access by `getter(i)`.

    Attributes: `name` (the spec), `split`, `classes` (label i is classes[i]), `ids` (one string per image).
    """

    def __init__(self, name: str, split: str, classes: list[str], length: int,
                 getter: Callable[[int], tuple[torch.Tensor, Target]], ids: list[str] | None = None):
        self.name, self.split, self.classes = name, split, list(classes)
        self._length, self._getter = length, getter
        self.ids = ids if ids is not None else [f"{split}-{i}" for i in range(length)]

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"image {i} of a {len(self)}-image data set")
        return self._getter(i % len(self))

    def __repr__(self) -> str:
        return f"DetectionDataset({self.name!r}, {self.split!r}, {len(self)} images, {len(self.classes)} classes)"


def _check_split(split: str, allowed=SPLITS) -> None:
    if split not in allowed:
        raise DataError(f"unknown split {split!r}; known: {', '.join(allowed)}")


def load_detection(spec: str, split: str, data_dir=None, seed: int = 0, **kw) -> DetectionDataset:
    """A detection data set by spec: a registered name (`DETECTION_DATASETS`) or `voc:DIR`.

    Args:
        spec: "mnist-detect", "deepforest" or "voc:DIR"; split: "train", "val", "test" (or "all" for voc/deepforest);
        data_dir: the data root (else $DEEPLEARN_DATA; not used by voc:DIR); seed: the synthetic generator's seed;
        kw: the loader's options (see each loader).
    Returns:
        the DetectionDataset.
    """
    if spec.startswith("voc:"):
        return load_voc(Path(spec[4:]).expanduser(), split, seed=seed, **kw)
    return DETECTION_DATASETS.get(spec)(split, data_dir=data_dir, seed=seed, **kw)


def dataset_names() -> list[str]:
    """The registered names plus the voc:DIR form, for help texts."""
    return DETECTION_DATASETS.names() + ["voc:DIR"]


# --- collate -------------------------------------------------------------------------------------------------

def collate_detection(batch: list[tuple[torch.Tensor, Target]]) -> tuple[torch.Tensor, list[Target]]:
    """A list of (image [3, h_i, w_i], target) -> (images [B, 3, max h, max w] zero-padded at the right and
    bottom, list of targets); boxes keep their pixel coordinates (padding is after them)."""
    images = [im for im, _ in batch]
    h = max(im.shape[-2] for im in images)
    w = max(im.shape[-1] for im in images)
    out = images[0].new_zeros((len(images), images[0].shape[0], h, w))
    for k, im in enumerate(images):
        out[k, :, :im.shape[-2], :im.shape[-1]] = im
    return out, [t for _, t in batch]


# --- mnist-detect --------------------------------------------------------------------------------------------

@DETECTION_DATASETS.register("mnist-detect", description="synthetic: MNIST digits on cluttered canvases (seeded)",
                             num_classes=10)
def load_mnist_detect(split: str, data_dir=None, seed: int = 0, num_images: int | None = None,
                      **options) -> DetectionDataset:
    """Seeded synthetic digits (`synthetic.py`). Options: num_images (default 2000/200/500 for
    train/val/test) and the SynthOptions fields (size=128, min_scale=20, max_scale=48, max_objects=4,
    max_fragments=5, clutter=True)."""
    _check_split(split)
    try:
        opts = synthetic.SynthOptions(**options)
    except TypeError as e:
        raise DataError(f"mnist-detect: {e}") from None
    glyphs, labels = synthetic.digit_pool(split, data_dir)
    n = synthetic.DEFAULT_SIZES[split] if num_images is None else int(num_images)

    def getter(i: int):
        return synthetic.make_image(synthetic.image_rng(seed, split, i), glyphs, labels, opts)

    return DetectionDataset("mnist-detect", split, [str(d) for d in range(10)], n, getter)


# --- images, tiles -------------------------------------------------------------------------------------------

def read_rgb(path: Path) -> torch.Tensor:
    """An image file as uint8 [3, H, W] (RGB; alpha dropped)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing image file") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def tile_origins(length: int, tile: int, overlap: int = 0) -> list[int]:
    """Start offsets of tiles of size `tile` covering [0, length): stride tile - overlap, the last one flush
    with the end (so no tile hangs over the edge)."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def tile_target(target: Target, x: int, y: int, w: int, h: int, min_visible: float = 0.5) -> Target:
    """The boxes of a tile [x, x+w) x [y, y+h): shifted and clipped; a box with at least `min_visible` of its area
    inside keeps its flag, one with less (but a visible part of 2 px or more each way) becomes "difficult" (VOC's
    ignore: neither a miss nor a false positive when scored); the others are dropped."""
    b = target["boxes"] - torch.tensor([x, y, x, y], dtype=torch.float32)
    c = torch.stack([b[:, 0].clamp(0, w), b[:, 1].clamp(0, h), b[:, 2].clamp(0, w), b[:, 3].clamp(0, h)], 1)
    cw, ch = c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]
    visible = (cw * ch) / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clamp(min=1e-9)
    keep = (cw >= 2) & (ch >= 2)
    difficult = target["difficult"] | (visible < min_visible)
    return {"boxes": c[keep], "labels": target["labels"][keep], "difficult": difficult[keep]}


def _target_of(ann: VocAnnotation, index: dict[str, int]) -> Target:
    return {"boxes": torch.tensor([o.box for o in ann.objects], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([index[o.name] for o in ann.objects], dtype=torch.long),
            "difficult": torch.tensor([o.difficult for o in ann.objects], dtype=torch.bool)}


def tiled_dataset(name: str, split: str, classes: list[str], anns: list[VocAnnotation], index: dict[str, int],
                  tile: int | None, overlap: int = 0, min_visible: float = 0.5) -> DetectionDataset:
    """Images cut into tile x tile crops (tile=None: whole images); pixels are read on access (a tiled image's once)."""
    pieces, ids = [], []  # (annotation number, x, y, w, h)
    for a, ann in enumerate(anns):
        if tile is None or (ann.width <= tile and ann.height <= tile):
            pieces.append((a, 0, 0, ann.width, ann.height))
            ids.append(ann.image.stem)
            continue
        for y in tile_origins(ann.height, tile, overlap):
            for x in tile_origins(ann.width, tile, overlap):
                pieces.append((a, x, y, min(tile, ann.width), min(tile, ann.height)))
                ids.append(f"{ann.image.stem}@{x},{y}")
    targets = [_target_of(ann, index) for ann in anns]
    pixels: dict[int, torch.Tensor] = {}

    def getter(i: int):
        a, x, y, w, h = pieces[i]
        whole = (w, h) == (anns[a].width, anns[a].height)
        if whole:  # one piece: read on each access (a large VOC folder is not held in memory)
            return read_rgb(anns[a].image).float() / 255.0, {k: v.clone() for k, v in targets[a].items()}
        if a not in pixels:  # tiles of one image: its pixels are read once
            pixels[a] = read_rgb(anns[a].image)
        image = pixels[a][:, y:y + h, x:x + w].float() / 255.0
        return image, tile_target(targets[a], x, y, w, h, min_visible)

    return DetectionDataset(name, split, classes, len(pieces), getter, ids)


# --- deepforest ----------------------------------------------------------------------------------------------

DEEPFOREST_SPLITS = {  # by site, as detection/README.md suggests: no tree in two splits
    "train": ["2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop"],
    "val": ["SOAP_061"],
    "test": ["OSBS_029"],
}


@DETECTION_DATASETS.register("deepforest", description="DeepForest aerial tree crowns (train YELL tiles, "
                             "val SOAP_061, test OSBS_029)", num_classes=1)
def load_deepforest(split: str, data_dir=None, seed: int = 0, tile: int | None = 400, overlap: int = 0,
                    min_visible: float = 0.5) -> DetectionDataset:
    """The four DeepForest images (detection/deepforest/), one class "Tree" (SOAP_061's Alive/Dead are trees).
    Split by site: train = the two Yellowstone images, val = SOAP_061, test = OSBS_029 (split "all": all four).
    Images larger than `tile` are cut into tile x tile crops (`overlap` px shared; None: whole images)."""
    _check_split(split, SPLITS + ("all",))
    folder = data_root(data_dir) / "detection" / "deepforest"
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (deepforest needs detection/deepforest under the data root)")
    stems = sum(DEEPFOREST_SPLITS.values(), []) if split == "all" else DEEPFOREST_SPLITS[split]
    anns = [parse_voc(folder / f"{s}.xml", [folder]) for s in stems]
    return tiled_dataset("deepforest", split, ["Tree"], anns, _AllTree(), tile, overlap, min_visible)


class _AllTree(dict):
    """Every DeepForest label (Tree, Alive, Dead) is class 0."""

    def __missing__(self, key):
        return 0


# --- voc:DIR -------------------------------------------------------------------------------------------------

def _voc_layout(root: Path, split: str, split_seed: int, fractions: tuple[float, float]) -> tuple[list[Path], list[Path], list[Path]]:
    """(the split's XMLs, every XML of the folder, image folders) for the three layouts a folder may have."""
    if (root / "Annotations").is_dir():
        xml_dir, image_dirs = root / "Annotations", [root / "JPEGImages", root / "Annotations"]
        every = sorted(xml_dir.glob("*.xml"))
        main = root / "ImageSets" / "Main"
        if main.is_dir() and split != "all":
            listing = main / f"{split}.txt"
            if not listing.is_file():
                raise DataError(f"{listing}: no such file (the VOC folder lists its {split} split there)")
            ids = [ln.split()[0] for ln in listing.read_text().splitlines() if ln.strip()]
            return [xml_dir / f"{i}.xml" for i in ids], every, image_dirs
        return _seeded_split(every, split, split_seed, fractions), every, image_dirs
    if split != "all" and (root / split).is_dir():
        every = sorted(p for s in SPLITS if (root / s).is_dir() for p in (root / s).glob("*.xml"))
        return sorted((root / split).glob("*.xml")), every, [root / split]
    every = sorted(root.glob("*.xml"))
    return _seeded_split(every, split, split_seed, fractions), every, [root]


def _seeded_split(files: list[Path], split: str, seed: int, fractions: tuple[float, float]) -> list[Path]:
    """A fixed random split of a plain folder: `fractions` = (val, test) shares, at least one image each when the
    folder has three or more."""
    if split == "all":
        return files
    order = np.random.default_rng(seed).permutation(len(files))
    n = len(files)
    n_val = max(1, round(fractions[0] * n)) if n >= 3 else 0
    n_test = max(1, round(fractions[1] * n)) if n >= 3 else 0
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return [files[i] for i in sorted(parts[split])]


def load_voc(root: Path, split: str, seed: int = 0, classes: list[str] | None = None, tile: int | None = None,
             overlap: int = 0, split_seed: int = 0, fractions: tuple[float, float] = (0.1, 0.2)) -> DetectionDataset:
    """A user's folder: Pascal VOC layout (Annotations/, JPEGImages/, ImageSets/Main/{split}.txt), or
    train/ val/ test/ subfolders of images + XMLs, or one plain folder of images with one XML each (matched by
    stem; split at random with `split_seed` into 70/10/20 %). Classes: `classes`, else classes.txt / labels.txt
    in the folder, else the sorted names found in all of its XMLs.

    Every annotation of the split is read and checked at once (bad XML, box outside the image, unknown class,
    missing image: a DataError naming the file); pixels are read on access."""
    _check_split(split, SPLITS + ("all",))
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (voc:DIR wants a Pascal VOC folder or a folder of images + XML)")
    xmls, every, image_dirs = _voc_layout(root, split, split_seed, fractions)
    if not every:
        raise DataError(f"{root}: no *.xml annotations found")
    for x in xmls:
        if not x.is_file():
            raise DataError(f"{x}: missing annotation file (listed for split {split})")
    anns = [parse_voc(x, image_dirs) for x in xmls]
    classes = list(classes) if classes else read_class_list(root)
    if classes is None:
        others = [parse_voc(x, image_dirs) for x in every if x not in set(xmls)]
        classes = sorted({o.name for a in anns + others for o in a.objects})
    for a in anns:
        check_classes(a, classes)
    index = {c: i for i, c in enumerate(classes)}
    return tiled_dataset(f"voc:{root}", split, classes, anns, index, tile, overlap)
