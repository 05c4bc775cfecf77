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
import math
import zipfile
import zlib
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
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y_{split} has dtype {y.dtype}; expected integer class labels")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{path}: y_{split} has labels {int(y.min())}..{int(y.max())}, outside 0..{num_classes - 1}")


def _to_nchw(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def read_npz(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The named arrays of an .npz archive, read without pickle (object arrays are refused, never unpickled).

    Raises:
        DataError: naming the file, for a missing key, an object array, or a file that is not an .npz archive.
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise DataError(f"{path}: a single .npy array, not an .npz archive of {', '.join(keys)}")
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing keys {missing}; found {f.files} (expected {', '.join(keys)})")
            return {k: _npz_member(path, f, k) for k in keys}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:
        if "pickle" in str(e):  # NumPy's own message would suggest unpickling, which runs code from the file
            raise DataError(f"{path}: not an .npz archive of plain arrays (it holds pickled Python objects, "
                            "which deeplearn never loads)") from None
        raise DataError(f"{path}: not a readable .npz archive ({e})") from None


def _npz_member(path: Path, f, key: str) -> np.ndarray:
    try:
        return f[key]
    except ValueError as e:
        if "pickle" in str(e):
            raise DataError(f"{path}: array {key!r} has dtype object (pickled Python objects, which deeplearn "
                            "never loads); save it as a numeric array, e.g. np.uint8 pixels, int64 labels") from None
        raise


def load_npz(path: Path, name: str, classes: list[str], hw=None) -> ImageData:
    arrays = read_npz(path, ["x_train", "y_train", "x_test", "y_test"])
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
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError; a bad stream, zlib.error
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({ndim} dimensions need {4 + 4 * ndim} bytes, file has "
                        f"{len(raw)})")
    dims = [int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)]
    if any(d < 0 for d in dims):
        raise DataError(f"{path}: bad IDX header: negative dimension in {dims}")
    n = math.prod(dims)  # Python ints: no overflow
    if math.prod(max(d, 1) for d in dims) >= 2**48:  # even an empty array of such dimensions cannot be made
        raise DataError(f"{path}: bad IDX header: dimensions {dims} are impossibly large")
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
    """The official CIFAR-10 python version: data_batch_1..5 and test_batch, each a pickled dict, read with a
    restricted unpickler (plain containers and NumPy arrays only: a planted pickle cannot run code)."""
    parts = [_cifar_batch(d / f"data_batch_{i}") for i in range(1, 6)]
    xte, yte = _cifar_batch(d / "test_batch")
    xtr, ytr = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return ImageData("cifar10", torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte),
                     torch.from_numpy(yte), CIFAR10, 255, str(d))


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch: (uint8 N x 3 x 32 x 32 images, int64 N labels)."""
    from deeplearn.safe_pickle import load_restricted

    what = "CIFAR-10 python batch"
    b = load_restricted(path, what, encoding="bytes")
    if not isinstance(b, dict) or b"data" not in b or b"labels" not in b:
        keys = sorted(map(repr, b)) if isinstance(b, dict) else type(b).__name__
        raise DataError(f"{path}: not a {what} (expected a dict with b'data' and b'labels', found {keys})")
    data, labels = b[b"data"], b[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data' is a {desc}; a {what} holds a uint8 N x 3072 array")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise DataError(f"{path}: b'labels' is not a list of integers")
    x, y = data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)
    _check(path, x, y, "batch", len(CIFAR10))
    return x, y


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

    a = read_npz(path, ["train_jpeg", "train_offsets", "test_jpeg", "test_offsets", "y_train", "y_test"])
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
