"""HOG features (Dalal and Triggs 2005) for dense sliding windows: scikit-image's cell histograms with the block
normalization vectorized, so a whole pyramid level costs one pass (skimage.feature.hog normalizes block by block
in a Python loop). `hog_blocks(x)` equals `skimage.feature.hog(x, ..., feature_vector=False)` (tested).

A window of (h, w) cells at block position (i, j) of a level has the feature
blocks[i:i + h - 1, j:j + w - 1].ravel(): the HOG of that window cut out of the level (up to the gradients at
its border pixels)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-5


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences per channel, zero on the border; for each pixel the channel of largest magnitude."""
    g_row = np.zeros_like(image)
    g_col = np.zeros_like(image)
    g_row[1:-1] = image[2:] - image[:-2]
    g_col[:, 1:-1] = image[:, 2:] - image[:, :-2]
    best = np.hypot(g_row, g_col).argmax(axis=2)[..., None]
    return np.take_along_axis(g_row, best, 2)[..., 0], np.take_along_axis(g_col, best, 2)[..., 0]


def _cell_histograms(g_row, g_col, cell: int, orientations: int) -> np.ndarray:
    """[n_cells_row, n_cells_col, orientations], by scikit-image's compiled binning."""
    from skimage.feature import _hoghistogram

    s_row, s_col = g_row.shape
    n_row, n_col = s_row // cell, s_col // cell
    hist = np.zeros((n_row, n_col, orientations), dtype=float)
    _hoghistogram.hog_histograms(np.ascontiguousarray(g_col, dtype=float), np.ascontiguousarray(g_row, dtype=float),
                                 cell, cell, s_col, s_row, n_col, n_row, orientations, hist)
    return hist


def normalize_blocks(hist: np.ndarray, block: int = 2) -> np.ndarray:
    """L2-Hys over every block x block group of cells: [R, C, o] -> [R-b+1, C-b+1, b, b, o]."""
    win = np.lib.stride_tricks.sliding_window_view(hist, (block, block), axis=(0, 1))  # [r, c, o, b, b]
    blocks = np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2))
    out = blocks / np.sqrt((blocks ** 2).sum(axis=(2, 3, 4), keepdims=True) + EPS ** 2)
    out = np.minimum(out, 0.2)
    return out / np.sqrt((out ** 2).sum(axis=(2, 3, 4), keepdims=True) + EPS ** 2)


def hog_blocks(image: np.ndarray, cell: int = 4, block: int = 2, orientations: int = 9) -> np.ndarray:
    """HOG of an [H, W, 3] (or [H, W]) float image: normalized blocks [nby, nbx, block, block, orientations]."""
    if image.ndim == 2:
        image = image[..., None]
    g_row, g_col = _gradients(image.astype(float))
    return normalize_blocks(_cell_histograms(g_row, g_col, cell, orientations), block)


def resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[3, H, W] -> [3, height, width] (bilinear, antialiased when shrinking)."""
    if (height, width) == tuple(image.shape[-2:]):
        return image
    shrink = height < image.shape[-2] or width < image.shape[-1]
    return F.interpolate(image[None].float(), size=(height, width), mode="bilinear", align_corners=False,
                         antialias=shrink)[0]


def to_hwc(image: torch.Tensor) -> np.ndarray:
    return image.detach().cpu().float().permute(1, 2, 0).numpy().astype(float)


def pyramid(image: torch.Tensor, scales: list[float], cell: int, min_cells: int) -> list[tuple[float, np.ndarray]]:
    """(scale, HOG blocks) for each scale at which the image is at least `min_cells` cells each way; the scale is
    the exact ratio of the resized to the original width."""
    h, w = image.shape[-2:]
    levels = []
    for s in scales:
        nh, nw = round(h * s), round(w * s)
        if nh < min_cells * cell or nw < min_cells * cell:
            continue
        levels.append((nw / w, hog_blocks(to_hwc(resize(image, nh, nw)), cell)))
    return levels


def window_features(blocks: np.ndarray, rows: np.ndarray, cols: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """Features [n, bh * bw * block * block * o] of the windows with top-left blocks (rows[k], cols[k])."""
    return np.stack([blocks[r:r + bh, c:c + bw].ravel() for r, c in zip(rows.tolist(), cols.tolist())]) \
        if len(rows) else np.zeros((0, bh * bw * int(np.prod(blocks.shape[2:]))))


def score_map(blocks: np.ndarray, weight: np.ndarray, bias: float) -> np.ndarray:
    """w . x + b of every window position: a correlation of the block map with the filter [bh, bw, b, b, o]."""
    bh, bw = weight.shape[:2]
    x = torch.from_numpy(blocks.reshape(blocks.shape[0], blocks.shape[1], -1)).permute(2, 0, 1)[None].float()
    k = torch.from_numpy(weight.reshape(bh, bw, -1)).permute(2, 0, 1)[None].float()
    if x.shape[-2] < bh or x.shape[-1] < bw:
        return np.zeros((0, 0), np.float32)
    return (F.conv2d(x, k)[0, 0] + bias).numpy()


def score_maps(blocks: np.ndarray, weights: list[np.ndarray], biases: list[float]) -> list[np.ndarray]:
    """`score_map` for several filters of different sizes in one correlation: the filters are zero-padded at the
    bottom/right to the largest, the block map likewise, and each class keeps its own valid positions."""
    bh = max(w.shape[0] for w in weights)
    bw = max(w.shape[1] for w in weights)
    nby, nbx = blocks.shape[:2]
    x = torch.from_numpy(blocks.reshape(nby, nbx, -1)).permute(2, 0, 1)[None].float()
    x = F.pad(x, (0, bw - min(w.shape[1] for w in weights), 0, bh - min(w.shape[0] for w in weights)))
    k = torch.zeros(len(weights), x.shape[1], bh, bw)
    for c, w in enumerate(weights):
        k[c, :, :w.shape[0], :w.shape[1]] = torch.from_numpy(w.reshape(w.shape[0], w.shape[1], -1)).permute(2, 0, 1)
    if x.shape[-2] < bh or x.shape[-1] < bw:
        return [np.zeros((0, 0), np.float32) for _ in weights]
    out = F.conv2d(x, k)[0].numpy()
    return [out[c, :max(0, nby - w.shape[0] + 1), :max(0, nbx - w.shape[1] + 1)] + b
            for c, (w, b) in enumerate(zip(weights, biases))]
