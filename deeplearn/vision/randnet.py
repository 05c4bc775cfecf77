"""A random-weight multi-scale conv net, a feature network for style (Ustyuzhaninov, Brendel, Gatys, Bethge 2016,
"What does it take to generate natural textures?"; He, Wang, Hopcroft 2016, "A powerful generative model using
random weights for the deep image representation": Gram matrices of untrained conv nets carry texture).

Five 3x3 convolutions with ReLU, each scale half the previous one (2x2 average pooling between them), so layer
`reluK` sees the image at stride 2^(K-1): conv1 at full resolution ... conv5 at 1/16, widths 16, 32, 64, 128, 256.
Weights are drawn once from a fixed seed (He-normal; zero-mean filters, tried first, made the net blind to
colour casts and the optimization poorly conditioned: a toy doodle's regions stayed grey) and never trained; pixels are normalized by ImageNet's channel statistics.
"""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (16, 32, 64, 128, 256)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SEED = 0


class RandomMultiscale(nn.Module):
    """conv1 -> relu1 -> pool -> conv2 -> relu2 -> ... -> relu5 (N x 256 x H/16 x W/16)."""

    def __init__(self, widths=WIDTHS, seed: int = SEED):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        cin = 3
        for k, c in enumerate(widths, 1):
            if k > 1:
                self.add_module(f"pool{k}", nn.AvgPool2d(2))
            conv = nn.Conv2d(cin, c, 3, padding=1, padding_mode="reflect")
            w = torch.randn(conv.weight.shape, generator=gen) * (2.0 / (cin * 9)) ** 0.5
            conv.weight.data = w
            conv.bias.data.zero_()
            self.add_module(f"conv{k}", conv)
            self.add_module(f"relu{k}", nn.ReLU())
            cin = c

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


def layer_names(widths=WIDTHS) -> list[str]:
    return [f"relu{k}" for k in range(1, len(widths) + 1)]
