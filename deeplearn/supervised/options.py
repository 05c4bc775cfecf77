"""The supervised system's options, declared once (flags, help and defaults come from here); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from deeplearn.engine.options import defaults_of, fraction, non_negative, opt, positive


def _models() -> list[str]:
    from deeplearn.models import MODELS

    return MODELS.choices()


def _image_data() -> list[str]:
    from deeplearn.datasets import names_of_kind

    return names_of_kind("images")


@dataclass
class SupervisedOptions:
    """Options of the supervised task (besides the engine's); stored in config.json so runs can be rebuilt."""

    model: str = opt("mlp", "a model from `deeplearn models`", choices=_models)
    data: str = opt("digits", "data set (digits is embedded; the others read --data-dir)", choices=_image_data)
    data_dir: str | None = opt(None, "data root; for imagefolder, the folder", shown="$DEEPLEARN_DATA")
    hidden: list[int] = opt([256, 256], "MLP hidden widths", check=positive)
    activation: str = opt("relu", "MLP activation", choices=["relu", "tanh", "sigmoid"])
    dropout: float | None = opt(None, "dropout probability where the model has dropout", shown="the model's",
                                check=fraction)
    init: str | None = opt(None, "weight initialisation, for models that offer a choice (alexnet, zfnet; "
                                 "small-stem: kaiming with the paper's N(0, 0.01) first layer)",
                           choices=["kaiming", "paper", "small-stem"], shown="kaiming")
    val_fraction: float = opt(0.1, "part of train held out for validation", check=fraction)
    augment: str = opt("none", "training augmentation", choices=["none", "flip-crop", "flip-translate", "affine"])
    tta: str = opt("none", "test-time augmentation of evaluation (flip: the mean of the logits of the image and "
                           "its mirror image)", choices=["none", "flip"])
    label_smoothing: float = opt(0.0, "label smoothing of the cross-entropy", check=fraction)
    aux_weight: float = opt(0.3, "weight of auxiliary-classifier losses (GoogLeNet)", check=non_negative)
    image_size: int = opt(224, "crop size for imagefolder data", check=positive)
    eval_batch_size: int = opt(1000, "batch size of evaluation", check=positive)
    test_limit: int | None = opt(None, "test on a fixed random N of the test images (seed 0, the same for every "
                                       "run; for expensive models on CPU)", shown="all", check=positive)



TASK_DEFAULTS = defaults_of(SupervisedOptions)
