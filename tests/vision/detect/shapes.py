"""A tiny hand-made detection set for the detector tests (no data files needed): filled rectangles of two
colours (class 0 red, class 1 blue) on a dim noise background, exact boxes."""

from __future__ import annotations

import torch

CLASSES = ["red", "blue"]


def shape_image(seed: int, size: int = 64, objects: int = 2) -> tuple[torch.Tensor, dict]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, size, size, generator=g) * 0.2
    boxes, labels = [], []
    while len(boxes) < objects:
        w, h = (torch.randint(12, 26, (2,), generator=g)).tolist()
        x, y = torch.randint(0, size - w, (1,), generator=g).item(), torch.randint(0, size - h, (1,), generator=g).item()
        b = [x, y, x + w, y + h]
        if any(b[0] < o[2] + 2 and o[0] < b[2] + 2 and b[1] < o[3] + 2 and o[1] < b[3] + 2 for o in boxes):
            continue  # keep the objects apart
        c = int(torch.randint(0, 2, (1,), generator=g))
        image[:, y:y + h, x:x + w] = torch.tensor([0.9, 0.1, 0.1] if c == 0 else [0.1, 0.2, 0.9]).view(3, 1, 1)
        boxes.append(b)
        labels.append(c)
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels),
              "difficult": torch.zeros(len(boxes), dtype=torch.bool)}
    return image, target


class ShapeSet(list):
    """A list of (image, target) with the attributes of a DetectionDataset."""

    def __init__(self, n: int, size: int = 64, seed: int = 0):
        super().__init__(shape_image(seed * 1000 + i, size) for i in range(n))
        self.classes, self.name = list(CLASSES), "shapes"


def write_voc_folder(folder, n: int, size: int = 64) -> None:
    """n PNG images with one Pascal VOC XML each (matched by stem), for the CLI tests."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image, t = shape_image(i, size)
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"im{i}.png")
        objects = "".join(
            f"<object><name>{CLASSES[int(c)]}</name><difficult>0</difficult><bndbox><xmin>{int(b[0])}</xmin>"
            f"<ymin>{int(b[1])}</ymin><xmax>{int(b[2])}</xmax><ymax>{int(b[3])}</ymax></bndbox></object>"
            for b, c in zip(t["boxes"], t["labels"]))
        (folder / f"im{i}.xml").write_text(f"<annotation><filename>im{i}.png</filename><size><width>{size}</width>"
                                           f"<height>{size}</height><depth>3</depth></size>{objects}</annotation>")
