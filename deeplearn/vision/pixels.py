"""Images as C x H x W tensors of pixels in [0, 1]: reading (with clear errors), resizing, writing PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deeplearn.paths import DataError


def read_image(path, channels: int = 3, size: int | None = None) -> torch.Tensor:
    """An image file as C x H x W pixels in [0, 1], resized (bilinear) so its longer side is `size` if given.

    Args:
        path: the file (any format PIL reads).
        channels: 3 (RGB) or 1 (grey).
        size: the longer side in pixels, or None for the file's own size.
    Raises:
        DataError: no such file, or not a readable image.
    """
    from PIL import Image

    im = open_image(path).convert("RGB" if channels == 3 else "L")
    if size is not None:
        scale = size / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
    return from_array(np.asarray(im))


def open_image(path, label: str = ""):
    """The PIL image of a file, loaded; DataError (prefixed by `label`) if it is missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    name = f"{label} {path}" if label else str(path)
    try:
        with Image.open(path) as im:
            im.load()
            return im
    except FileNotFoundError:
        raise DataError(f"{name}: no such image file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: a directory, not an image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{name}: not a readable image ({e})") from None


def from_array(a: np.ndarray) -> torch.Tensor:
    """H x W (grey) or H x W x C uint8 array -> C x H x W float tensor in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / 255.0)
    return x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1).contiguous()


def to_array(x: torch.Tensor) -> np.ndarray:
    """C x H x W tensor in [0, 1] -> H x W x 3 (or H x W for one channel) uint8 array."""
    a = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return a[..., 0] if a.shape[2] == 1 else a


def save_png(x: torch.Tensor, path) -> Path:
    """Write a C x H x W image in [0, 1] as a PNG (directories created)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_array(x)).save(path, format="PNG", optimize=True)
    return path


def read_photo(spec: str, channels: int = 3, size: int | None = None) -> torch.Tensor:
    """`read_image`, also accepting `skimage:NAME` for a photo that scikit-image ships (chelsea, coffee,
    astronaut, rocket, ...)."""
    if not spec.startswith("skimage:"):
        return read_image(spec, channels, size)
    from PIL import Image

    name = spec.split(":", 1)[1]
    try:
        from skimage import data
    except ModuleNotFoundError:
        raise DataError(f"{spec}: scikit-image is not installed: pip install -e \".[imagenet]\"") from None
    photos = [n for n in ("astronaut", "cat", "chelsea", "coffee", "rocket", "camera", "immunohistochemistry",
                          "hubble_deep_field", "retina", "colorwheel") if hasattr(data, n)]
    if name not in photos:
        raise DataError(f"{spec}: not a scikit-image photo; known: {', '.join('skimage:' + p for p in photos)}")
    im = Image.fromarray(getattr(data, name)()).convert("RGB" if channels == 3 else "L")
    if size is not None:
        scale = size / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
    return from_array(np.asarray(im))
