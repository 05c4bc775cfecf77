"""Image completion in the manner of Poon and Domingos 2011: the left or bottom half of each test image is
hidden and filled in by the circuit's MPE and by its conditional mean E[x_v | visible half], against
nearest-neighbour and PCA completion; mean squared error over the hidden pixels (values scaled to [0, 1]).

Two image sets: scikit-learn's 8x8 digits (17 gray levels, categorical leaves) and MNIST binarized at 128 of 255
(28x28, Bernoulli leaves; the conditional mean is then p(pixel = 1 | visible half))."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deeplearn.paths import DataError
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.data import DIGITS_STATES, IMAGE_LEVELS, MNIST_SIDE, load_digits_splits, load_mnist_splits
from deeplearn.spn.run import load_circuit, write_json_atomic

PCA_CHOICES = (4, 8, 16, 32, 64)


@dataclass
class ImageSet:
    name: str
    side: int
    levels: int  # values per pixel (gray levels), the largest being levels - 1
    default_limit: int | None  # test images completed by default (None: all)


IMAGE_SETS = {"digits": ImageSet("digits", 8, DIGITS_STATES, None), "mnist": ImageSet("mnist", MNIST_SIDE, 2, 1000)}


def hidden_mask(half: str, side: int = 8) -> np.ndarray:
    """Bool [side * side]: the pixels hidden for `half` (left: the left columns; bottom: the bottom rows)."""
    grid = np.zeros((side, side), dtype=bool)
    if half == "left":
        grid[:, : side // 2] = True
    else:
        grid[side // 2:, :] = True
    return grid.reshape(-1)


@torch.no_grad()
def spn_complete(c: Circuit, x: np.ndarray, hidden: np.ndarray, batch_size: int = 250, top: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(MPE completion, conditional-mean completion) [N, V] in pixel values, in batches (a circuit with Gaussian
    leaves works on the values scaled to [0, 1], i.e. divided by `top`)."""
    mpes, means = [], []
    for s in range(0, len(x), batch_size):
        if c.gaussian:
            ev = torch.as_tensor(x[s:s + batch_size] / top, dtype=torch.float32)
            ev[:, torch.as_tensor(hidden)] = float("nan")
        else:
            ev = torch.as_tensor(x[s:s + batch_size]).clone()
            ev[:, torch.as_tensor(hidden)] = -1
        mpe, _ = c.mpe(ev)
        scale = top if c.gaussian else 1.0
        means.append(c.conditional_means(ev).double().numpy() * scale)
        mpes.append(mpe.double().numpy() * scale)
    return np.concatenate(mpes), np.concatenate(means)


def knn_complete(train: np.ndarray, x: np.ndarray, hidden: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Copy the hidden half of the training image nearest (Euclidean) on the visible half."""
    vis = ~hidden
    t = train[:, vis].astype(np.float64)
    t2 = (t ** 2).sum(1)
    out = x.astype(np.float64).copy()
    for s in range(0, len(x), chunk):
        q = x[s:s + chunk, vis].astype(np.float64)
        d = t2[None, :] - 2 * q @ t.T  # + |q|^2, the same for every candidate
        out[s:s + chunk, hidden] = train[d.argmin(1)][:, hidden]
    return out


class PCACompletion:
    """The k principal components of the training images; a test image's coefficients are those that best
    explain its visible half (ridge least squares), and its hidden half is read off them."""

    def __init__(self, train: np.ndarray, top: float, ridge: float = 1e-3):
        self.mu = train.mean(0)
        _, _, vt = np.linalg.svd(train - self.mu, full_matrices=False)
        self.vt, self.top, self.ridge = vt, top, ridge

    def __call__(self, x: np.ndarray, hidden: np.ndarray, k: int) -> np.ndarray:
        w = self.vt[:k].T  # [V, k]
        vis = ~hidden
        wv = w[vis]
        z = np.linalg.solve(wv.T @ wv + self.ridge * np.eye(k), wv.T @ (x[:, vis] - self.mu[vis]).T)  # [k, N]
        out = x.astype(np.float64).copy()
        out[:, hidden] = np.clip((w[hidden] @ z).T + self.mu[hidden], 0, self.top)
        return out


def pca_complete(train: np.ndarray, x: np.ndarray, hidden: np.ndarray, k: int = 16, top: float = DIGITS_STATES - 1
                 ) -> np.ndarray:
    return PCACompletion(train, top)(x, hidden, k)


def choose_pca_k(train: np.ndarray, valid: np.ndarray, hidden: np.ndarray, top: float) -> int:
    """The number of components with the lowest completion MSE on the valid images (PCA fitted on train)."""
    pca = PCACompletion(train, top)
    errs = {k: float(((pca(valid, hidden, k) - valid)[:, hidden] ** 2).mean()) for k in PCA_CHOICES
            if k < min(train.shape)}
    return min(errs, key=errs.get)


def load_images(name: str, data_dir=None, binarize: bool = True) -> dict[str, np.ndarray]:
    return load_digits_splits() if name == "digits" else load_mnist_splits(data_dir, binarize)


def run_completion(run_dir, half: str, output: str, show: int = 10, limit: int | None = None, data_dir=None,
                   data: str | None = None) -> dict:
    """Complete test images; print and save (RUN/completion_<half>.json) the MSE table; draw a picture."""
    c, info = load_circuit(run_dir)
    if info["data"] not in IMAGE_SETS:
        raise DataError(f"{run_dir} was trained on {info['data']}; completion needs a run trained with "
                        f"--data digits or --data mnist")
    if data is not None and data != info["data"]:
        raise DataError(f"--data {data}, but {run_dir} was trained on {info['data']}")
    spec = IMAGE_SETS[info["data"]]
    if c.gaussian:  # gray levels, not the binarized MNIST
        spec = ImageSet(spec.name, spec.side, IMAGE_LEVELS[spec.name], spec.default_limit)
    splits = load_images(spec.name, data_dir, binarize=not c.gaussian)
    limit = limit if limit is not None else spec.default_limit
    x = splits["test"][:limit] if limit else splits["test"]
    hidden = hidden_mask(half, spec.side)
    top = spec.levels - 1
    k = choose_pca_k(splits["train"].astype(np.float64), splits["valid"][:1000].astype(np.float64), hidden, top)
    ref = np.concatenate([splits["train"], splits["valid"]]).astype(np.float64)
    mpe, mean = spn_complete(c, x, hidden, top=top)
    methods = {"SPN MPE": mpe, "SPN conditional mean": mean, "nearest neighbour": knn_complete(ref, x, hidden),
               "PCA": pca_complete(ref, x, hidden, k, top)}  # (stable keys: completion_<half>.json, the lecture)
    mse = {m: float((((v - x) / top)[:, hidden] ** 2).mean()) for m, v in methods.items()}
    label = {"PCA": f"PCA ({k} components)"}
    what = "gray levels" if spec.levels > 2 else "binary pixels"
    what += ", Gaussian leaves" if c.gaussian else ""
    print(f"{half} half of {len(x)} {spec.name} test images; mean squared error per hidden pixel ({what} in "
          f"[0, 1]; PCA components chosen on valid):")
    for m, v in mse.items():
        print(f"  {label.get(m, m):22s} {v:.4f}")
    write_json_atomic(Path(run_dir) / f"completion_{half}.json",
                      {"data": spec.name, "leaves": "gaussian" if c.gaussian else "categorical", "half": half, "test_images": len(x), "pca_components": k, "mse": mse})
    draw(x[:show], hidden, {label.get(m, m): v for m, v in methods.items()}, output, show, spec)
    print(f"picture: {output}")
    return mse


def draw(x: np.ndarray, hidden: np.ndarray, methods: dict, output: str, show: int, spec: ImageSet) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    masked = x.astype(np.float64).copy()
    masked[:, hidden] = np.nan
    rows = [("original", x), ("visible half", masked)] + [(m, v[:show]) for m, v in methods.items()]
    fig, axes = plt.subplots(len(rows), show, figsize=(show * 0.9, len(rows) * 1.0), squeeze=False)
    cmap = matplotlib.colormaps["gray_r"].with_extremes(bad="#d9534f")  # the hidden half, in the second row
    for r, (name, imgs) in enumerate(rows):
        for j in range(min(show, len(imgs))):
            ax = axes[r, j]
            ax.imshow(np.asarray(imgs[j], dtype=np.float64).reshape(spec.side, spec.side), cmap=cmap, vmin=0,
                      vmax=spec.levels - 1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
