"""The twenty binary density-estimation benchmarks (Lowd and Davis 2010; Van Haaren and Davis 2012).

Layout under the data root: `density/<name>/<name>.<split>.data[.gz]` for a complete set, and
`density/partial/<name>/...` for a set whose train split is missing. Each file: one instance per line,
comma-separated 0/1 values, no header.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from deeplearn.paths import DataError, data_root

SPLITS = ("train", "valid", "test")
# Short names users type -> the directory names of the benchmark.
ALIASES = {"audio": "baudio", "netflix": "bnetflix", "retail": "tretail", "pumsb-star": "pumsb_star",
           "pumsb": "pumsb_star", "eachmovie": "tmovie", "webkb": "cwebkb", "reuters-52": "cr52",
           "reuters": "cr52", "20ng": "c20ng", "kddcup2k": "kdd"}
# The nine complete sets, in the order of the benchmark tables.
COMPLETE = ("nltcs", "plants", "baudio", "jester", "bnetflix", "accidents", "pumsb_star", "dna", "bbc")


def canonical(name: str) -> str:
    n = name.lower()
    return ALIASES.get(n, n)


def read_binary(path: Path) -> np.ndarray:
    """A 0/1 matrix from a comma-separated text file (gzip read when the name ends in .gz).

    Returns:
        uint8 array [rows, variables].
    Raises:
        DataError naming the file and line for a value other than 0/1 or a row of another length.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows: list[bytes] = []
    width = None
    try:
        with opener(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                fields = line.split(b",")
                if width is None:
                    width = len(fields)
                elif len(fields) != width:
                    raise DataError(f"{path}: line {lineno} has {len(fields)} values, the first row has {width}; "
                                    f"every row must have one value per variable")
                bad = [v for v in fields if v not in (b"0", b"1")] if line.translate(None, b"01,") or \
                    len(line) != 2 * width - 1 else []
                if bad:
                    raise DataError(f"{path}: line {lineno} holds the value {bad[0].decode(errors='replace')!r}; "
                                    f"the binary benchmarks hold only 0 and 1")
                rows.append(b"".join(fields))
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    if not rows:
        raise DataError(f"{path}: no instances in the file")
    return (np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), width) - ord("0")).astype(np.uint8)


def split_path(root: Path, name: str, split: str) -> Path | None:
    """The file of one split (complete or partial layout, .gz or plain), or None if it is absent."""
    for base in (root / name, root / "partial" / name):
        for suffix in (".data.gz", ".data"):
            p = base / f"{name}.{split}{suffix}"
            if p.exists():
                return p
    return None


def density_root(data_dir=None) -> Path:
    """`<data root>/density` (or the data root itself if it already is that folder)."""
    root = data_root(data_dir)
    return root if (root / "partial").is_dir() or root.name == "density" else root / "density"


def load_split(name: str, split: str, data_dir=None) -> np.ndarray:
    """One split of a data set. Raises DataError if it is absent (listing what there is)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    root, name = density_root(data_dir), canonical(name)
    p = split_path(root, name, split)
    if p is None:
        known = available(root)
        if name not in known:
            raise DataError(f"no data set {name!r} under {root}; known: {', '.join(sorted(known))}")
        raise DataError(f"data set {name!r} has no {split} split under {root} (it has: "
                        f"{', '.join(known[name]) or 'nothing'})")
    return read_binary(p)


def available(root: Path) -> dict[str, list[str]]:
    """{data set name: the splits present} for every data set folder under root."""
    out: dict[str, list[str]] = {}
    for base in (root, root / "partial"):
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.is_dir() and d.name != "partial":
                out[d.name] = [s for s in SPLITS if split_path(root, d.name, s) is not None]
    return out


def load_for_training(name: str, data_dir=None) -> dict[str, np.ndarray]:
    """Train, valid and test of a complete data set, checked for equal widths.

    Raises:
        DataError if any split is missing: a set without its train split (the partial ones) is never trained on
        its valid split, since that would not be the benchmark.
    """
    root, name = density_root(data_dir), canonical(name)
    present = {s: split_path(root, name, s) for s in SPLITS}
    missing = [s for s, p in present.items() if p is None]
    if missing:
        if all(p is None for p in present.values()):
            load_split(name, "train", data_dir)  # raises with the list of known sets
        raise DataError(f"data set {name!r} lacks its {' and '.join(missing)} split under {root}: it is a partial "
                        f"copy and cannot be trained on as a benchmark (training on its valid split would not be the "
                        f"benchmark); use one of the complete sets: {', '.join(COMPLETE)}")
    data = {s: read_binary(p) for s, p in present.items()}
    widths = {s: d.shape[1] for s, d in data.items()}
    if len(set(widths.values())) != 1:
        raise DataError(f"data set {name!r}: the splits have different numbers of variables {widths}")
    return data


DIGITS_STATES = 17  # the embedded 8x8 digits have gray levels 0..16


def load_digits_splits(seed: int = 0) -> dict[str, np.ndarray]:
    """scikit-learn's embedded 8x8 digits (1,797 images, 64 pixels of 17 gray levels) cut into 1,293 train /
    144 valid / 360 test images by a fixed permutation (no download)."""
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    return {"train": x[perm[:1293]], "valid": x[perm[1293:1437]], "test": x[perm[1437:]]}


MNIST_SIDE = 28


def load_mnist_splits(data_dir=None, binarize: bool = True) -> dict[str, np.ndarray]:
    """MNIST (`<data root>/images/mnist.npz`) binarized: a pixel is 1 where its gray value is at least 128 of 255
    (ink); or, with binarize=False, the gray values 0..255. Train: the first 50,000 training images, valid: the last 10,000, test: the 10,000 test images; each
    image a row of 784 pixels, row by row."""
    root = data_root(data_dir)
    cands = (root / "images" / "mnist.npz", root / "mnist.npz", root.parent / "images" / "mnist.npz")
    path = next((p for p in cands if p.exists()), None)
    if path is None:
        raise DataError(f"no MNIST under {root}: expected {root / 'images' / 'mnist.npz'}")
    try:
        with np.load(path) as d:
            xtr, xte = d["x_train"], d["x_test"]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: cannot be read as MNIST (x_train, x_test): {e}") from e
    if xtr.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or xte.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise DataError(f"{path}: images of shape {xtr.shape[1:]}, expected 28x28")
    xtr, xte = xtr.reshape(len(xtr), -1).astype(np.int64), xte.reshape(len(xte), -1).astype(np.int64)
    if binarize:
        xtr, xte = (xtr >= 128).astype(np.int64), (xte >= 128).astype(np.int64)
    return {"train": xtr[:50000], "valid": xtr[50000:], "test": xte}


IMAGE_LEVELS = {"digits": DIGITS_STATES, "mnist": 256}  # gray levels of the image sets


def load_data(name: str, data_dir=None, leaves: str = "categorical") -> tuple[dict[str, np.ndarray], int]:
    """(splits, values per variable) of a benchmark set, of `digits` or of `mnist` (binarized).

    With leaves="gaussian" the image sets come as float gray levels scaled to [0, 1] (values per variable 0);
    the binary benchmarks are refused.
    """
    name = canonical(name)
    if leaves == "gaussian":
        if name not in IMAGE_LEVELS:
            raise DataError(f"Gaussian leaves need real-valued data; {name!r} is binary: use --data digits or "
                            f"--data mnist (gray levels), or categorical leaves")
        splits = load_digits_splits() if name == "digits" else load_mnist_splits(data_dir, binarize=False)
        return {k: (v / (IMAGE_LEVELS[name] - 1)).astype(np.float32) for k, v in splits.items()}, 0
    if name == "digits":
        return load_digits_splits(), DIGITS_STATES
    if name == "mnist":
        return load_mnist_splits(data_dir), 2
    return load_for_training(name, data_dir), 2


def as_tensor(x: np.ndarray, gaussian: bool):
    """A split as the circuit's input: long (categorical leaves) or float32 (Gaussian leaves)."""
    import torch

    return torch.as_tensor(x, dtype=torch.float32 if gaussian else torch.long)
