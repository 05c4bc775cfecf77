"""The detector registry: every `--model` of `deeplearn vision detect train`.

A `DetectorSpec.build(num_classes, opts)` returns the detector. Deep detectors (`engine=True`) are `nn.Module`s
with `forward(images, targets) -> dict of losses` ("loss" is what is minimized) and `predict(images) -> list of
prediction dicts`, trained through the engine; HOG-SVM is fitted by its own routine (an SVM with hard-negative
mining is not gradient descent) and saved beside the run's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from deeplearn.registry import Registry


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    build: Callable
    description: str
    paper: str
    engine: bool  # trained by gradient descent through the engine


DETECTORS: Registry[DetectorSpec] = Registry("detector")


def _register(name: str, description: str, paper: str, engine: bool = True):
    def deco(fn):
        DETECTORS.add(name, DetectorSpec(name, fn, description, paper, engine))
        return fn
    return deco


@_register("centernet", "CenterNet: per-class centre heatmaps, size and offset heads, peaks without NMS",
           "Zhou, Wang, Kraehenbuehl 2019, Objects as Points")
def _centernet(num_classes: int, opts: dict):
    from deeplearn.vision.detect.centernet import CenterNet

    return CenterNet(num_classes, widths=tuple(opts["widths"]), features=opts["features"])


@_register("faster-rcnn", "Faster R-CNN: anchors, region proposal network, RoIAlign, two-stage heads",
           "Ren, He, Girshick, Sun 2015")
def _faster_rcnn(num_classes: int, opts: dict):
    from deeplearn.vision.detect.faster_rcnn import FasterRCNN

    return FasterRCNN(num_classes, widths=tuple(opts["widths"]), features=opts["features"],
                      anchor_sizes=tuple(opts["anchor_sizes"]))


@_register("hog-svm", "HOG features + linear SVM over a sliding window, hard-negative mining, NMS (not SGD)",
           "Dalal and Triggs 2005", engine=False)
def _hog_svm(num_classes: int, opts: dict):
    from deeplearn.vision.detect.hog import HogSvmDetector

    return HogSvmDetector()


def build_detector(opts: dict, num_classes: int):
    return DETECTORS.get(opts["model"]).build(num_classes, opts)
