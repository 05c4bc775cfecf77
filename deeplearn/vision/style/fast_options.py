"""Options of `deeplearn vision style-train` (the fast stylizer), declared once; light to import."""

from __future__ import annotations

from dataclasses import dataclass

from deeplearn.engine.options import defaults_of, opt, positive

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry", "hubble_deep_field"]


@dataclass
class FastStyleOptions:
    style: str | None = opt(None, "the style painting (an image file)", positional=True, shown="none")
    photos: list[str] = opt(PHOTOS, "scikit-image photos to cut the training crops from (names of skimage.data)")
    crops: int = opt(256, "training crops (random position, scale and flip; seeded)", check=positive)
    val_crops: int = opt(16, "held-out crops for the validation losses", check=positive)
    crop_size: int = opt(128, "side of a training crop in pixels", check=positive)
    width: int = opt(16, "channels of the transformation net's first layer (x2, x4 after the downsamplings)",
                     check=positive)
    residual_blocks: int = opt(3, "residual blocks at 1/4 resolution", check=positive)
    net: str = opt("efficientnet-lite0", "feature net of the perceptual losses")
    style_weight: float = opt(10.0, "weight of the Gram losses (relative distances, as `vision style`)")
    content_weight: float = opt(1.0, "weight of the content loss")
    tv_weight: float = opt(1.0, "weight of the total-variation loss (x 1e3, as `vision style`)")


TASK_DEFAULTS = defaults_of(FastStyleOptions)
