"""Data sets for image classification, read from standard formats under the data root.

| name          | format                                                                  | found as                        |
|---------------|-------------------------------------------------------------------------|---------------------------------|
| digits        | scikit-learn's bundled 8x8 digits (embedded: needs no data root)        | -                               |
| mnist         | .npz with x_train/y_train/x_test/y_test, or the four IDX files (.gz ok) | images/mnist.npz, mnist/        |
| fashion-mnist | the same                                                                | images/fashion-mnist.npz, ...   |
| cifar10       | the official python pickle batches, or the JPEG .npz of shared/data     | cifar-10-batches-py/, images/cifar10_jpeg.npz |
| imagefolder   | ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg (or test/)          | the data dir itself             |

Images are kept as uint8 tensors N x C x H x W; the encoding to floats (scale, normalize with the training
split's statistics, resize or pad to the model's input) happens per batch, see `encoding.py`.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deeplearn.datasets import DATASETS
from deeplearn.paths import DataError, data_root


@dataclass
class ImageData:
    name: str
    x_train: torch.Tensor  # uint8, N x C x H x W
    y_train: torch.Tensor  # int64, N
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: list[str]
    pixel_max: int  # 255, or 16 for digits
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]


FASHION = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load(name: str, data_dir: str | None = None) -> ImageData:
    """An in-memory image data set by its registered name (deeplearn.datasets.DATASETS)."""
    if name == "imagefolder":
        raise DataError("imagefolder data is streamed from disk: use deeplearn.supervised.imagefolder")
    return DATASETS.get(name)(data_dir)


@DATASETS.register("digits", kind="images", description="scikit-learn's embedded 8x8 digits (no download)")
def _digits(data_dir=None) -> ImageData:
    return load_digits()


def _mnist_like(name: str, data_dir, classes) -> ImageData:
    root = data_root(data_dir)
    for cand in (f"images/{name}.npz", f"{name}.npz"):
        if (root / cand).exists():
            return load_npz(root / cand, name, classes, (28, 28))
    if root.is_file() and root.suffix == ".npz":
        return load_npz(root, name, classes, (28, 28))
    for cand in (root / name, root / "images" / name, root):
        if (cand / "train-images-idx3-ubyte").exists() or (cand / "train-images-idx3-ubyte.gz").exists():
            return load_idx_dir(cand, name, classes)
    raise DataError(f"no {name} data under {root}: expected images/{name}.npz or {name}/ with IDX files")


@DATASETS.register("mnist", kind="images", description="MNIST (images/mnist.npz or IDX files)")
def _mnist(data_dir=None) -> ImageData:
    return _mnist_like("mnist", data_dir, [str(i) for i in range(10)])


@DATASETS.register("fashion-mnist", kind="images", description="Fashion-MNIST (npz or IDX files)")
def _fashion(data_dir=None) -> ImageData:
    return _mnist_like("fashion-mnist", data_dir, FASHION)


@DATASETS.register("cifar10", kind="images",
                   description="CIFAR-10 (cifar-10-batches-py/ or the project's images/cifar10_jpeg.npz)")
def _cifar10(data_dir=None) -> ImageData:
    root = data_root(data_dir)
    for cand in (root / "cifar-10-batches-py", root / "images" / "cifar-10-batches-py"):
        if cand.is_dir():
            return load_cifar_pickles(cand)
    for cand in (root / "images" / "cifar10_jpeg.npz", root / "cifar10_jpeg.npz"):
        if cand.exists():
            return load_cifar_jpeg_npz(cand)
    raise DataError(f"no CIFAR-10 under {root}: expected cifar-10-batches-py/ or images/cifar10_jpeg.npz")


DATASETS.add("imagefolder", None, kind="images",
             description="a folder ROOT/train/<class>/*.jpg, ROOT/val/<class>/ (streamed; --data-dir ROOT)")


def load_digits() -> ImageData:
    """scikit-learn's 1,797 8x8 digits (pixels 0..16); a fixed stratified 80/20 train/test split."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    d = sk_digits()
    x = d.images.astype(np.uint8)[:, None]  # N x 1 x 8 x 8
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)
    return ImageData("digits", torch.from_numpy(xtr), torch.from_numpy(ytr).long(), torch.from_numpy(xte),
                     torch.from_numpy(yte).long(), [str(i) for i in range(10)], 16, "sklearn.datasets.load_digits")


def _check(path, x: np.ndarray, y: np.ndarray, split: str, num_classes: int, hw=None) -> None:
    if x.ndim not in (3, 4):
        raise DataError(f"{path}: x_{split} has shape {x.shape}; expected N x H x W or N x H x W x C images")
    if hw is not None and tuple(x.shape[1:3]) != hw:
        raise DataError(f"{path}: x_{split} images are {x.shape[1]}x{x.shape[2]}; expected {hw[0]}x{hw[1]}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: y_{split} has shape {y.shape} but x_{split} holds {len(x)} images")
    if x.dtype != np.uint8:
        raise DataError(f"{path}: x_{split} has dtype {x.dtype}; expected uint8 pixels")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{path}: y_{split} has labels {int(y.min())}..{int(y.max())}, outside 0..{num_classes - 1}")


def _to_nchw(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def load_npz(path: Path, name: str, classes: list[str], hw=None) -> ImageData:
    try:
        with np.load(path) as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing keys {missing}; found {f.files} "
                                "(expected x_train, y_train, x_test, y_test)")
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from e
    for split in ("train", "test"):
        _check(path, arrays[f"x_{split}"], arrays[f"y_{split}"], split, len(classes), hw)
    return ImageData(name, _to_nchw(arrays["x_train"]), torch.from_numpy(arrays["y_train"].astype(np.int64)),
                     _to_nchw(arrays["x_test"]), torch.from_numpy(arrays["y_test"].astype(np.int64)), classes, 255,
                     str(path))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): magic 0x00 0x00 <type> <ndim>, big-endian int32 dims, payload."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    n = int(np.prod(dims))
    if len(raw) != 4 + 4 * ndim + n:
        raise DataError(f"{path}: truncated or padded: header says {n} bytes of data, file has "
                        f"{len(raw) - 4 - 4 * ndim}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def load_idx_dir(d: Path, name: str, classes: list[str]) -> ImageData:
    def f(stem):
        p = d / stem
        return p if p.exists() else d / (stem + ".gz")

    xtr, ytr = read_idx(f("train-images-idx3-ubyte")), read_idx(f("train-labels-idx1-ubyte"))
    xte, yte = read_idx(f("t10k-images-idx3-ubyte")), read_idx(f("t10k-labels-idx1-ubyte"))
    _check(d, xtr, ytr, "train", len(classes), (28, 28))
    _check(d, xte, yte, "test", len(classes), (28, 28))
    return ImageData(name, _to_nchw(xtr), torch.from_numpy(ytr.astype(np.int64)), _to_nchw(xte),
                     torch.from_numpy(yte.astype(np.int64)), classes, 255, str(d))


def load_cifar_pickles(d: Path) -> ImageData:
    """The official CIFAR-10 python version: data_batch_1..5 and test_batch, each a pickled dict."""

    def batch(name):
        p = d / name
        try:
            with open(p, "rb") as f:
                b = pickle.load(f, encoding="bytes")  # the official files are pickles of plain dicts
            x = np.asarray(b[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            return x, np.asarray(b[b"labels"], dtype=np.int64)
        except (OSError, EOFError, KeyError, ValueError, pickle.UnpicklingError) as e:
            raise DataError(f"{p}: not a CIFAR-10 python batch ({e})") from e

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    xte, yte = batch("test_batch")
    xtr, ytr = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return ImageData("cifar10", torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                     torch.from_numpy(yte), CIFAR10, 255, str(d))


def _decode_jpegs(path: Path, blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(offsets) - 1, 32, 32, 3), dtype=np.uint8)
    for i in range(len(offsets) - 1):
        try:
            img = Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB")
        except Exception as e:
            raise DataError(f"{path}: image {i} is not a decodable JPEG ({e})") from e
        if img.size != (32, 32):
            raise DataError(f"{path}: image {i} is {img.size[0]}x{img.size[1]}; expected 32x32")
        out[i] = np.asarray(img)
    return out


def load_cifar_jpeg_npz(path: Path) -> ImageData:
    """shared/data's CIFAR-10 copy: JPEG (quality 75) bytes + offsets; decoded once and cached as .npy."""
    from deeplearn.supervised.cache import cached_array

    try:
        with np.load(path) as f:
            need = ["train_jpeg", "train_offsets", "test_jpeg", "test_offsets", "y_train", "y_test"]
            missing = [k for k in need if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing keys {missing}")
            a = {k: f[k] for k in need}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from e
    xtr = cached_array(path, "train", lambda: _decode_jpegs(path, a["train_jpeg"], a["train_offsets"]))
    xte = cached_array(path, "test", lambda: _decode_jpegs(path, a["test_jpeg"], a["test_offsets"]))
    for split, x, y in (("train", xtr, a["y_train"]), ("test", xte, a["y_test"])):
        _check(path, x, y, split, 10, (32, 32))
    return ImageData("cifar10", _to_nchw(xtr), torch.from_numpy(a["y_train"].astype(np.int64)), _to_nchw(xte),
                     torch.from_numpy(a["y_test"].astype(np.int64)), CIFAR10, 255, str(path))


def split_validation(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0):
    """Carve a validation split from the training data (never from test), with a fixed seed."""
    n_val = int(round(len(x) * fraction))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:n_val], perm[n_val:]
    return (x[train], y[train]), (x[val], y[val])
