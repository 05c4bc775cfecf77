"""Reading the images of style transfer: colour pictures (a one-channel file is refused with the reason) and
semantic maps (flat colours, one per region kind; quantized to a palette shared by the style and target maps)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from deeplearn.paths import DataError
from deeplearn.vision.pixels import open_image, read_photo

MIN_SHARE = 0.005      # a map colour must cover this share of the style map to be a region kind
MAX_DISTANCE = 60.0    # 0-255 RGB distance within which a pixel belongs to a palette colour
MISMATCH_SHARE = 0.02  # more pixels than this far from every palette colour: the maps do not match (edges are less)


def read_colour(spec: str, size: int | None = None, what: str = "image") -> torch.Tensor:
    """A colour image (3 x H x W in [0, 1]): a file or skimage:NAME; DataError if missing, unreadable or grey."""
    if not spec.startswith("skimage:"):
        im = open_image(spec, what)
        if len(im.getbands()) < 3 and not (im.mode == "P" and not _grey_palette(im)):
            raise DataError(f"{what} {spec}: a one-channel (greyscale) image; style transfer needs a colour (RGB) "
                            f"image (save it as RGB, e.g. with Pillow's convert('RGB'))")
    x = read_photo(spec, 3, size)
    if spec.startswith("skimage:") and bool((x[0] == x[1]).all() and (x[1] == x[2]).all()):
        raise DataError(f"{what} {spec}: a one-channel (greyscale) photo; style transfer needs a colour (RGB) image")
    return x


def _grey_palette(im) -> bool:
    rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    return bool((rgb.max(1) == rgb.min(1)).all())


def read_map(spec: str, shape, what: str) -> torch.Tensor:
    """A semantic map as 3 x H x W RGB in 0-255 (float), resized (nearest) to `shape` (H, W) with a warning when
    its size differs from its image's."""
    x = read_colour(spec, None, what) * 255.0
    if tuple(x.shape[-2:]) != tuple(shape):
        warnings.warn(f"{what} {spec} is {x.shape[2]}x{x.shape[1]}, its image {shape[1]}x{shape[0]}: resized to "
                      f"the image's size", stacklevel=2)
        x = F.interpolate(x[None], size=tuple(shape), mode="nearest")[0]
    return x


def palette(style_map: torch.Tensor) -> torch.Tensor:
    """The region colours of a style map (K x 3): every colour covering at least MIN_SHARE of its pixels."""
    flat = style_map.reshape(3, -1).T.round()
    colours, counts = flat.unique(dim=0, return_counts=True)
    keep = counts >= MIN_SHARE * flat.shape[0]
    return colours[keep][counts[keep].argsort(descending=True)]


def labels(sem: torch.Tensor, colours: torch.Tensor, spec: str, what: str) -> torch.Tensor:
    """Each pixel's region (H x W, index into `colours`); DataError naming the colour when a map has a region
    (more than MISMATCH_SHARE of its pixels, anti-aliased edges are fewer) of a colour the style map does not have."""
    flat = sem.reshape(3, -1).T                                # HW x 3
    d = torch.cdist(flat, colours)                             # HW x K
    dist, lab = d.min(1)
    far = dist > MAX_DISTANCE
    if far.float().mean() > MISMATCH_SHARE:
        bad = flat[far].round().unique(dim=0, return_counts=True)
        colour = bad[0][bad[1].argmax()].int().tolist()
        known = ", ".join(str(tuple(c)) for c in colours.int().tolist())
        raise DataError(f"{what} {spec}: {far.float().mean():.1%} of its pixels have colours the style map does not "
                        f"have (e.g. RGB {tuple(colour)}); the style map's regions are {known}: paint the maps with "
                        f"the same colours")
    return lab.reshape(sem.shape[1:])


def one_hot(lab: torch.Tensor, k: int) -> torch.Tensor:
    """H x W region indices -> K x H x W float one-hot maps."""
    return F.one_hot(lab, k).permute(2, 0, 1).float()
