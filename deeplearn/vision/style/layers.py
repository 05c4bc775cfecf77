"""Which layers of a feature network the style losses use.

Gatys et al. take the first layer of each of VGG's five scales for style and a mid-depth layer for content; here
the same rule on our nets: for style, the first activation at each stride 2, 4, 8, 16 (EfficientNet: the stem and
the first 1x1 expansion after each stride, ReLU6 outputs); for content, one layer at stride 8. A net not listed
(a `deeplearn train` run, `NAME:random`) gets the rule applied to its traced layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StyleLayers:
    content: str
    style: tuple[str, ...]
    weights: tuple[float, ...]  # per style layer, summing to 1


def _equal(names) -> tuple[float, ...]:
    return tuple(1.0 / len(names) for _ in names)


_KNOWN = {
    "efficientnet-lite0": ("blocks.4.expand", ("stem", "blocks.2.expand", "blocks.4.expand", "blocks.6.expand")),
    "efficientnet-lite2": ("blocks.5.expand", ("stem", "blocks.2.expand", "blocks.5.expand", "blocks.8.expand")),
    "random-multiscale": ("relu4", ("relu1", "relu2", "relu3", "relu4", "relu5")),
}


def style_layers(net) -> StyleLayers:
    """The content layer and the weighted style layers of a FeatureNet (by its spec, or by the stride rule)."""
    name = net.name.partition(":")[0]
    if name in _KNOWN and (net.name == name or name == "random-multiscale"):
        content, style = _KNOWN[name]
        return StyleLayers(content, style, _equal(style))
    return _by_stride(net)


def _by_stride(net) -> StyleLayers:
    """The first 4-D layer at each new stride (at most five), content the one at stride 8 (or the deepest)."""
    size = 64
    conv = [n for n in net.layers if n not in net.linear_layers()]
    with torch.no_grad():
        outs = net.forward_layers(torch.full((1, net.channels, size, size), 0.5), conv)
    first: dict[int, str] = {}
    for n in conv:
        stride = max(1, round(size / outs[n].shape[-1]))
        first.setdefault(stride, n)
    strides = sorted(first)[:5]
    style = tuple(first[s] for s in strides)
    content = first.get(8, style[-1])
    return StyleLayers(content, style, _equal(style))
