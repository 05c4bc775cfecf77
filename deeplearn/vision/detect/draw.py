"""Detections drawn on an image: predicted boxes coloured by class with "name score", ground truth (optional)
as thin white boxes (dashed look: grey for difficult ones)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def to_pil(image: torch.Tensor):
    """[3, H, W] float in [0, 1] (or [1, H, W]) -> a PIL RGB image."""
    from PIL import Image

    x = image.detach().cpu().float().clamp(0, 1)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


def draw_detections(image: torch.Tensor, prediction: dict | None = None, classes: list[str] | None = None,
                    target: dict | None = None, score_threshold: float = 0.0, scale: float = 1.0):
    """A PIL image with the boxes drawn.

    Args:
        image: [3, H, W] in [0, 1]; prediction: {"boxes", "scores", "labels"} (boxes with a score below
        `score_threshold` are left out); classes: label names; target: ground truth {"boxes", "labels",
        "difficult"}; scale: enlarge the picture (nearest) before drawing, for small images.
    Returns:
        the PIL image.
    """
    from PIL import Image, ImageDraw

    pil = to_pil(image)
    if scale != 1:
        pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.NEAREST)
    draw = ImageDraw.Draw(pil)
    name = (lambda c: classes[c] if classes and 0 <= c < len(classes) else str(c))
    if target is not None:
        difficult = target.get("difficult", torch.zeros(len(target["boxes"]), dtype=torch.bool))
        for b, d in zip(target["boxes"].tolist(), difficult.tolist()):
            draw.rectangle([v * scale for v in b], outline=(128, 128, 128) if d else (255, 255, 255), width=1)
    if prediction is not None:
        for b, s, c in zip(prediction["boxes"].tolist(), prediction["scores"].tolist(),
                           prediction["labels"].tolist()):
            if s < score_threshold:
                continue
            colour = PALETTE[int(c) % len(PALETTE)]
            x1, y1, x2, y2 = (v * scale for v in b)
            draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
            draw.text((x1 + 2, max(0, y1 - 11)), f"{name(int(c))} {s:.2f}", fill=colour)
    return pil


def save_detections(path: str | Path, image: torch.Tensor, prediction: dict | None = None, **kw) -> Path:
    """`draw_detections` saved as a PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_detections(image, prediction, **kw).save(path)
    return path


def detection_grid(pictures: list, columns: int = 4):
    """PIL images of one size side by side in a grid (a PIL image)."""
    from PIL import Image

    w, h = pictures[0].size
    rows = (len(pictures) + columns - 1) // columns
    grid = Image.new("RGB", (w * min(columns, len(pictures)), h * rows))
    for k, p in enumerate(pictures):
        grid.paste(p, ((k % columns) * w, (k // columns) * h))
    return grid
