"""Pieces shared by the vision models."""

from __future__ import annotations

from torch import nn

from deeplearn.models import check_input, check_options  # noqa: F401  (the models' shared checks)


def lrn() -> nn.LocalResponseNorm:
    # Krizhevsky et al. 2012 Sec. 3.3: k=2, n=5, alpha=1e-4, beta=0.75. PyTorch divides alpha by n, the paper does not.
    return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)


def init_kaiming(model: nn.Module) -> None:
    """He et al. 2015 normal init (fan-in, ReLU gain) for convolutions and linear layers, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


INITS = ("kaiming", "paper", "small-stem")


def init_weights(model: nn.Module, init: str, paper) -> None:
    """Initialise by name: "kaiming" (He normal), "paper" (`paper(model)`, the paper's own scheme), or
    "small-stem": He normal, except that the first convolution takes N(0, 0.01) weights (AlexNet's and ZFNet's
    own first-layer init). What SGD adds to a first-layer filter is smooth (natural images are), but the random
    init stays until weight decay removes it: a small stem init lets a short run show readable filters, while the
    He-initialised layers above keep the net training from the first step (with "paper" it sat at chance here)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    if init == "paper":
        paper(model)
        return
    init_kaiming(model)
    if init == "small-stem":
        stem = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        nn.init.normal_(stem.weight, 0.0, 0.01)
