"""The model registry: every network `deeplearn train --model NAME` can build (the library layer; systems and
papers' files register into it, nothing here imports them back except on the first lookup).

A builder takes the number of classes, the input shape (C, H, W) and keyword options, and returns an
`nn.Module` whose forward returns either logits (N x K) or a `ClassifierOutput` (the same type in train and
eval mode). `register_family` registers a paper's ImageNet net and its 32x32 (CIFAR) variant in one call.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import nn

from deeplearn.registry import Registry


class ClassifierOutput(NamedTuple):
    """Logits plus auxiliary-head logits (GoogLeNet); `aux` is empty in eval mode, the type never changes."""

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]
    description: str
    input_size: tuple[int, int] | None = None  # (H, W) the model needs; None: any size (e.g. MLP)
    channels: int | None = None  # input channels it was designed for; None: any
    paper: str = ""


MODELS: Registry[ModelSpec] = Registry("model", modules=["deeplearn.supervised.mlp", "deeplearn.vision.models"])


def register(name: str, description: str, input_size=None, channels=None, paper: str = ""):
    def deco(fn):
        MODELS.add(name, ModelSpec(name, fn, description, input_size, channels, paper))
        return fn

    return deco


def check_input(name: str, input_shape, size: tuple[int, int]) -> int:
    """Return the channel count of `input_shape` (C, H, W); the spatial size must be the one the net is built for."""
    c, h, w = input_shape
    if (h, w) != tuple(size):
        raise ValueError(f"{name} takes {size[0]}x{size[1]} inputs, got {h}x{w}: resize or crop the data to fit")
    return int(c)


def check_options(name: str, options: dict, allowed: set[str]) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"{name}: unknown options {sorted(unknown)}; known: {sorted(allowed) or 'none'}")


def register_family(name: str, net: Callable[..., nn.Module], *, size: tuple[int, int], options: set[str],
                    description: str, cifar_description: str, paper: str) -> None:
    """Register `name` (the paper's net at its ImageNet input `size`) and `name-cifar` (32x32 input).

    Args:
      net: net(num_classes, channels, cifar=bool, **options) -> nn.Module.
      options: the keyword options the net accepts (anything else is an error naming the model).
    """
    for model_name, cifar, hw, text in ((name, False, size, description),
                                        (f"{name}-cifar", True, (32, 32), cifar_description)):
        def build(num_classes, input_shape, _n=model_name, _c=cifar, _hw=hw, **opts):
            check_options(_n, opts, options)
            return net(num_classes, check_input(_n, input_shape, _hw), cifar=_c, **opts)

        MODELS.add(model_name, ModelSpec(model_name, build, text, hw, 3, paper))


def get(name: str) -> ModelSpec:
    return MODELS.get(name)


def all_specs() -> list[ModelSpec]:
    return [spec for _, spec in MODELS.items()]


def logits_of(output) -> torch.Tensor:
    return output.logits if isinstance(output, ClassifierOutput) else output


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_options(spec: ModelSpec, opts: dict) -> dict:
    """The task options the model's builder accepts: the parameters it names (the MLP: hidden/activation/dropout),
    or, for a builder taking **options (the vision models), the options the user set (dropout, init)."""
    params = inspect.signature(spec.build).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return {k: opts[k] for k in ("dropout", "init") if opts.get(k) is not None}
    return {k: opts[k] for k in ("hidden", "activation", "dropout") if k in params and opts.get(k) is not None}


def build_model(opts: dict, num_classes: int, input_shape) -> nn.Module:
    """The network named by opts["model"], built with the options it takes."""
    from deeplearn.paths import DataError

    spec = get(opts["model"])
    try:
        return spec.build(num_classes, tuple(input_shape), **model_options(spec, opts))
    except TypeError as e:  # a vision builder refuses an option it does not have (e.g. --dropout for lenet5)
        if "unknown options" in str(e):
            raise DataError(f"--model {opts['model']}: {e}") from None
        raise


def init_from_data(model: nn.Module, encoded_train: Callable[[int], torch.Tensor]) -> None:
    """The data-dependent initialization hook: a model with `init_from_data(x)` and `data_init_samples` (int) gets
    the first `data_init_samples` training inputs, encoded as the model sees them (N x C x H x W), before
    training starts (e.g. patch whitening of the first convolution). A resumed run then loads its checkpoint over
    it; `load_classifier` loads trained weights and never calls it.

    Args:
      encoded_train: n -> the first n training inputs, encoded (no augmentation)."""
    hook = getattr(model, "init_from_data", None)
    if hook is not None:
        with torch.no_grad():
            hook(encoded_train(int(model.data_init_samples)))


def load_classifier(run_dir, weights: str = "best") -> tuple[nn.Module, dict]:
    """(model in eval mode on the CPU, meta) of a classifier run (`deeplearn train`); meta holds the input
    encoding (class names, pixel range, mean/std, input shape). Another system's run is an error naming it."""
    from deeplearn.engine.rundir import RunDir

    run = RunDir(run_dir).require_system("supervised")
    cfg = run.config
    meta = cfg["meta"]
    model = build_model(cfg["task"], len(meta["class_names"]), meta["input_shape"])
    model.load_state_dict(run.model_state(weights))
    return model.eval(), meta
