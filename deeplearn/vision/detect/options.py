"""The detection system's options, declared once (flags, help and defaults come from here); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from deeplearn.engine.options import defaults_of, opt, positive


def _detectors() -> list[str]:
    from deeplearn.vision.detect.models import DETECTORS

    return DETECTORS.choices()


AUGMENT = ["auto", "none", "scale", "flip-scale"]


@dataclass
class DetectOptions:
    """Options of a detection run (besides the engine's); stored in config.json so that a run can be rebuilt."""

    data: str = opt("mnist-detect", "data set: mnist-detect, deepforest or voc:DIR (a Pascal VOC folder, or "
                                    "images with one VOC XML each)")
    model: str = opt("centernet", "detector", choices=_detectors)
    data_dir: str | None = opt(None, "data root (mnist-detect, deepforest)", shown="$DEEPLEARN_DATA")
    num_images: int | None = opt(None, "training images of mnist-detect", shown="2000", check=positive)
    val_images: int | None = opt(None, "validate on the first N validation images (mnist-detect: how many are "
                                       "made)", shown="all", check=positive)
    test_images: int | None = opt(None, "test on the first N test images (mnist-detect: how many are made)",
                                  shown="all", check=positive)
    augment: str = opt("auto", "box-moving training augmentation (auto: scale for digits, which a flip would "
                               "change, flip-scale otherwise)", choices=AUGMENT)
    widths: list[int] = opt([24, 32, 64, 128], "backbone channels: stem, stage 1, 2, 3", check=positive)
    features: int = opt(64, "channels of the backbone's output map (the heads' input)", check=positive)
    anchor_sizes: list[int] = opt([16, 32, 64], "Faster R-CNN anchor sizes (pixels)", check=positive)


TASK_DEFAULTS = defaults_of(DetectOptions)
