"""Multiply-adds (MACs) of a model for one input, counted with forward hooks on its conv and linear layers.

Only `nn.Conv2d` and `nn.Linear` are counted: they are >99% of the arithmetic of these nets (pooling, LRN,
batch norm and activations are a few elementwise operations per value). FLOPs = 2 x MACs.
"""

from __future__ import annotations

import torch
from torch import nn


def count_macs(model: nn.Module, input_shape, train: bool = False) -> int:
    """MACs for one sample of shape (C, H, W). `train=True` includes the auxiliary heads that run in training."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):  # each output value: (C_in / groups) * kh * kw multiply-adds
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        else:  # nn.Linear: each output value reads in_features inputs
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.train(train)
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))  # batch of one: totals are per sample
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total
