"""Image completion in the manner of Poon and Domingos 2011: the left or bottom half of each test digit is
hidden and filled in by the circuit's MPE and by its conditional mean E[x_v | visible half], against
nearest-neighbour and PCA completion; mean squared error over the hidden pixels (gray levels scaled to [0, 1])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deeplearn.paths import DataError
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.data import DIGITS_STATES, load_digits_splits
from deeplearn.spn.run import load_circuit, write_json_atomic

SIDE = 8


def hidden_mask(half: str) -> np.ndarray:
    """Bool [64]: the pixels hidden for `half` (left: columns 0-3; bottom: rows 4-7)."""
    grid = np.zeros((SIDE, SIDE), dtype=bool)
    if half == "left":
        grid[:, : SIDE // 2] = True
    else:
        grid[SIDE // 2:, :] = True
    return grid.reshape(-1)


@torch.no_grad()
def spn_complete(c: Circuit, x: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(MPE completion, conditional-mean completion) [N, 64] in gray levels."""
    ev = torch.as_tensor(x).clone()
    ev[:, torch.as_tensor(hidden)] = -1
    mpe, _ = c.mpe(ev)
    marg = c.conditional_marginals(ev)  # [N, V, K]
    mean = (marg * torch.arange(c.num_states, dtype=marg.dtype)).sum(-1)
    return mpe.numpy().astype(np.float64), mean.numpy()


def knn_complete(train: np.ndarray, x: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Copy the hidden half of the training image nearest on the visible half."""
    vis = ~hidden
    d = ((x[:, None, vis].astype(np.float64) - train[None, :, vis]) ** 2).sum(-1)
    out = x.astype(np.float64).copy()
    out[:, hidden] = train[d.argmin(1)][:, hidden]
    return out


def pca_complete(train: np.ndarray, x: np.ndarray, hidden: np.ndarray, k: int = 16, ridge: float = 1e-3
                 ) -> np.ndarray:
    """Fit the k principal components of train; find the coefficients that best explain the visible half (ridge
    least squares) and read the hidden half off them."""
    mu = train.mean(0)
    _, _, vt = np.linalg.svd(train - mu, full_matrices=False)
    w = vt[:k].T  # [64, k]
    vis = ~hidden
    wv = w[vis]
    z = np.linalg.solve(wv.T @ wv + ridge * np.eye(k), wv.T @ (x[:, vis] - mu[vis]).T)  # [k, N]
    out = x.astype(np.float64).copy()
    out[:, hidden] = np.clip((w[hidden] @ z).T + mu[hidden], 0, DIGITS_STATES - 1)
    return out


def run_completion(run_dir, half: str, output: str, show: int = 10) -> dict:
    """Complete every test digit; print and save (RUN/completion_<half>.json) the MSE table; draw a picture."""
    c, info = load_circuit(run_dir)
    if info["data"] != "digits":
        raise DataError(f"{run_dir} was trained on {info['data']}; completion needs a run trained with "
                        f"--data digits")
    data = load_digits_splits()
    train = np.concatenate([data["train"], data["valid"]]).astype(np.float64)
    x = data["test"]
    hidden = hidden_mask(half)
    mpe, mean = spn_complete(c, x, hidden)
    methods = {"SPN MPE": mpe, "SPN conditional mean": mean, "nearest neighbour": knn_complete(train, x, hidden),
               "PCA (16 components)": pca_complete(train, x, hidden)}
    scale = DIGITS_STATES - 1
    mse = {m: float((((v - x) / scale)[:, hidden] ** 2).mean()) for m, v in methods.items()}
    print(f"{half} half of {len(x)} test digits; mean squared error per hidden pixel (gray levels in [0, 1]):")
    for m, v in mse.items():
        print(f"  {m:22s} {v:.4f}")
    write_json_atomic(Path(run_dir) / f"completion_{half}.json", {"half": half, "test_images": len(x), "mse": mse})
    draw(x[:show], hidden, methods, output, show)
    print(f"picture: {output}")
    return mse


def draw(x: np.ndarray, hidden: np.ndarray, methods: dict, output: str, show: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    masked = x.astype(np.float64).copy()
    masked[:, hidden] = np.nan
    rows = [("original", x), ("visible half", masked)] + [(m, v[:show]) for m, v in methods.items()]
    fig, axes = plt.subplots(len(rows), show, figsize=(show * 0.9, len(rows) * 1.0))
    for r, (name, imgs) in enumerate(rows):
        for j in range(show):
            ax = axes[r, j]
            ax.imshow(np.asarray(imgs[j], dtype=np.float64).reshape(SIDE, SIDE), cmap="gray_r", vmin=0,
                      vmax=DIGITS_STATES - 1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
