"""What a network learns (the lecture's "Low level features learned by vision networks" slide): first-layer
filters and a layer's feature maps, drawn as image grids with PIL."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

CELL = 48  # minimum drawn size of one filter / map in pixels: small kernels are enlarged (nearest neighbour)
GAP = 2    # pixels between cells


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first nn.Conv2d in module order (every model here defines its layers in forward order)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    raise ValueError(f"{type(model).__name__} has no Conv2d layer")


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The first convolution's weights, out_channels x in_channels x kH x kW (a detached copy)."""
    return first_conv(model)[1].weight.detach().cpu().clone()


def low_frequency_share(weights: torch.Tensor) -> float:
    """Mean share of each filter's energy (mean removed, summed over input channels) at spatial frequencies up to a
    quarter of the sampling rate: about 0.17 for white noise (a random init), near 1 for smooth edges and blobs.
    A number for "readable": learned first-layer structure is smooth, leftover initialisation is not."""
    w = weights.detach().float().cpu().numpy()
    w = w - w.mean(axis=(2, 3), keepdims=True)
    power = (np.abs(np.fft.fft2(w, axes=(2, 3))) ** 2).sum(1)  # O x kH x kW
    fy, fx = np.fft.fftfreq(w.shape[2]), np.fft.fftfreq(w.shape[3])
    low = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2) <= 0.25
    total = power.sum((1, 2))
    return float(np.mean(power[:, low].sum(1) / np.where(total > 0, total, 1.0)))


def _normalize(cells: np.ndarray) -> np.ndarray:
    """Scale each cell (first axis) to [0, 1] on its own, so weak filters are as visible as strong ones."""
    flat = cells.reshape(len(cells), -1)
    lo, hi = flat.min(1), flat.max(1)
    span = np.where(hi > lo, hi - lo, 1.0)
    shape = (-1,) + (1,) * (cells.ndim - 1)
    return (cells - lo.reshape(shape)) / span.reshape(shape)


MIN_WIDTH = 480  # px: a grid of a few 5x5 filters (LeNet's six) must still be big enough to see


def _grid(cells: np.ndarray, path, min_cell: int = CELL) -> Path:
    """Tile n cells (n x h x w x 3 floats in [0, 1]) in a near-square grid, enlarge, and save as PNG."""
    n, h, w, _ = cells.shape
    cols = math.ceil(math.sqrt(n))
    scale = max(1, math.ceil(min_cell / max(h, w)), math.ceil(MIN_WIDTH / (cols * w)))
    cells = cells.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = h * scale, w * scale
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + GAP) + GAP, cols * (w + GAP) + GAP, 3), 0.25)  # dark grey separates the cells
    for i, cell in enumerate(cells):
        r, c = divmod(i, cols)
        canvas[GAP + r * (h + GAP):GAP + r * (h + GAP) + h, GAP + c * (w + GAP):GAP + c * (w + GAP) + w] = cell
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((canvas * 255).round().astype(np.uint8)).save(path, format="PNG")
    return path


def draw_filters(model: nn.Module, path) -> Path:
    """The first convolution's filters as a grid PNG: colour for 3 input channels, grey otherwise (channel mean)."""
    w = first_layer_filters(model).float().numpy()  # O x C x k x k
    cells = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)[..., None].repeat(3, axis=3)
    return _grid(_normalize(cells), path)


def layer_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_modules() if name]


def feature_maps(model: nn.Module, image: torch.Tensor, layer_name: str) -> torch.Tensor:
    """The output of module `layer_name` (C x H x W) for one image (C x H x W or 1 x C x H x W), in eval mode."""
    modules = dict(model.named_modules())
    if not layer_name or layer_name not in modules:
        raise ValueError(f"unknown layer {layer_name!r}; valid layer names: {', '.join(layer_names(model))}")
    captured = []
    # clone: an in-place ReLU after the layer would otherwise overwrite the captured output
    hook = modules[layer_name].register_forward_hook(
        lambda mod, inp, out: captured.append(out.clone() if isinstance(out, torch.Tensor) else out))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(image.unsqueeze(0) if image.dim() == 3 else image)
    finally:
        hook.remove()
        model.train(was_training)
    if not captured:
        raise ValueError(f"layer {layer_name!r} is not used in the forward pass")
    out = captured[0]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"layer {layer_name!r} outputs {shape}, not feature maps (N x C x H x W); pick a conv layer")
    return out[0].detach().cpu()


def draw_feature_maps(model: nn.Module, image_tensor: torch.Tensor, layer_name: str, path) -> Path:
    """Grid of every map of `layer_name` for one input, each map scaled to [0, 1] on its own, viridis colours."""
    from matplotlib import colormaps  # imported here: only drawing maps needs matplotlib

    maps = _normalize(feature_maps(model, image_tensor, layer_name).float().numpy())  # C x H x W
    return _grid(colormaps["viridis"](maps)[..., :3], path, min_cell=32)
