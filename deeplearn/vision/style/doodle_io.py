"""The inputs of a doodle, read and checked: painting, its map, the target map, an optional content photo."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deeplearn.paths import DataError
from deeplearn.vision.style.gatys import resize
from deeplearn.vision.style.images import labels, one_hot, palette, read_colour, read_map


@dataclass
class Doodle:
    style: torch.Tensor          # 3 x h x w
    style_labels: torch.Tensor   # h x w region indices
    target_labels: torch.Tensor  # H x W
    palette: torch.Tensor        # K x 3 (0-255)
    content: torch.Tensor | None  # 3 x H x W

    @property
    def style_maps(self):
        return one_hot(self.style_labels, len(self.palette))

    @property
    def target_maps(self):
        return one_hot(self.target_labels, len(self.palette))


def load_doodle(style: str, style_map: str, target_map: str | None, content: str | None = None,
                content_map: str | None = None, size: int | None = None) -> Doodle:
    """Read and check the files; the output's size is the target map's (its longer side `size` if given).

    Raises:
        DataError: a missing/unreadable/grey file, maps with colours the style map has not, a missing map.
    """
    if content_map and not content:
        raise DataError("--content-map needs --content (the photo it is the map of)")
    layout = content_map if content and content_map else target_map
    if layout is None:
        raise DataError("give --target-map (the doodle to paint), or --content with --content-map")
    s = read_colour(style, None, "style image")
    sm = read_map(style_map, s.shape[-2:], "style map")
    pal = palette(sm)
    c = read_colour(content, None, "content image") if content else None
    if c is not None:
        tm = read_map(layout, c.shape[-2:], "content map" if layout == content_map else "target map")
    else:
        tm = _read_own(layout)
    s_lab = labels(sm, pal, style_map, "style map")
    t_lab = labels(tm, pal, layout, "content map" if layout == content_map else "target map")
    if size is not None:
        f = size / max(t_lab.shape)
        shape = (max(8, round(t_lab.shape[0] * f)), max(8, round(t_lab.shape[1] * f)))
        t_lab = _nearest(t_lab, shape)
        c = resize(c, shape) if c is not None else None
        sshape = (max(8, round(s.shape[1] * f)), max(8, round(s.shape[2] * f)))
        s, s_lab = resize(s, sshape), _nearest(s_lab, sshape)
    return Doodle(s, s_lab, t_lab, pal, c)


def _read_own(spec: str) -> torch.Tensor:
    """A target map at its own size (3 x H x W, 0-255)."""
    return read_colour(spec, None, "target map") * 255.0


def _nearest(lab: torch.Tensor, shape) -> torch.Tensor:
    return torch.nn.functional.interpolate(lab[None, None].float(), size=tuple(shape), mode="nearest")[0, 0].long()
