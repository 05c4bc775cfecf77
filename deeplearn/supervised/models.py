"""The model registry: every classifier `deeplearn train --model NAME` can build.

A model module registers a builder with `@register(...)`. The builder takes the number of classes, the input
shape (C, H, W) and keyword options, and returns an `nn.Module` whose forward returns either logits (N x K) or a
`ClassifierOutput` (the same type in train and eval mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import torch
from torch import nn

from deeplearn.plugins import import_if_present

# Modules that register models; imported on first lookup (a module not built yet is skipped).
MODEL_MODULES = ["deeplearn.supervised.mlp", "deeplearn.vision.models"]


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
    options: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register(name: str, description: str, input_size=None, channels=None, paper: str = ""):
    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, fn, description, input_size, channels, paper)
        return fn

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in MODEL_MODULES:
        import_if_present(mod)
    _loaded = True


def get(name: str) -> ModelSpec:
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def all_specs() -> list[ModelSpec]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def logits_of(output) -> torch.Tensor:
    return output.logits if isinstance(output, ClassifierOutput) else output


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
