"""A labelled grid of images in one PNG (feature visualizations of a layer's channels)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

GAP = 4      # pixels between cells
LABEL = 14   # pixels of label strip under each cell


def draw_grid(images, labels, path, cols: int | None = None) -> Path:
    """Tile B images (B x C x H x W in [0, 1]) in a near-square grid, each with its label underneath.

    Args:
        images: tensor of images (C = 1 or 3).
        labels: one short string per image.
        path: output PNG.
        cols: columns (default: ceil(sqrt(B))).
    Returns:
        the path written.
    """
    from PIL import Image, ImageDraw

    from deeplearn.vision.pixels import to_array

    b, _, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(b))
    rows = math.ceil(b / cols)
    canvas = Image.new("RGB", (cols * (w + GAP) + GAP, rows * (h + LABEL + GAP) + GAP), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i in range(b):
        r, c = divmod(i, cols)
        x0, y0 = GAP + c * (w + GAP), GAP + r * (h + LABEL + GAP)
        cell = np.asarray(to_array(images[i]))
        canvas.paste(Image.fromarray(cell).convert("RGB"), (x0, y0))
        draw.text((x0 + 2, y0 + h + 1), str(labels[i])[: max(4, w // 6)], fill=(0, 0, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG", optimize=True)
    return path
