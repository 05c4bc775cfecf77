"""Measured quality of a stylized image, in a network that was NOT the one optimized (so that an output cannot
score well by fooling the net it was made with).

- style distance: mean over the scoring net's style layers of ||G(out) - G(style)||^2 / ||G(style)||^2 (the
  blend of the styles' Grams for several styles), with the style image at the output's size x style_scale;
- content distance: ||F(out) - F(content)||^2 / ||F(content)||^2 at the scoring net's content layer;
- for doodles, semantic accuracy: the fraction of output positions at a scoring layer (each a stride x stride
  block of pixels) whose nearest style patch (3x3 features, normalized cross-correlation, no maps) lies in a
  region of the same kind as the target map says the position is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deeplearn.vision.style.gatys import blend_weights, fit_longer, resize
from deeplearn.vision.style.layers import style_layers
from deeplearn.vision.style.losses import content_loss, gram, nearest_patches, patches, style_loss

SCORE_NET = {"efficientnet-lite0": "efficientnet-lite2", "efficientnet-lite2": "efficientnet-lite0",
             "random-multiscale": "efficientnet-lite2"}


def score_net_for(optimized: str) -> str:
    """The net that scores an output made with `optimized` (never itself)."""
    return SCORE_NET.get(optimized.partition(":")[0], "efficientnet-lite2")


@torch.no_grad()
def distances(net, image: torch.Tensor, content: torch.Tensor | None, styles: list[torch.Tensor],
              style_weights=(), style_scale: float = 1.0) -> dict[str, float]:
    """{"style": ..., "content": ...} of `image` (3 x H x W) in `net`; content at the image's size."""
    layers = style_layers(net)
    side = round(max(image.shape[-2:]) * style_scale)
    blend = blend_weights(len(styles), style_weights)
    feats = net.forward_layers(image[None], list(layers.style) + [layers.content])
    out = {"style": 0.0}
    grams = {n: 0 for n in layers.style}
    for s, w in zip(styles, blend):
        fs = net.forward_layers(fit_longer(s, side)[None], layers.style)
        for n in layers.style:
            grams[n] = grams[n] + w * gram(fs[n])[0]
    out["style"] = float(sum(lw * style_loss(feats[n], grams[n]) for n, lw in zip(layers.style, layers.weights)))
    if content is not None:
        fc = net.forward_layers(resize(content, image.shape[-2:])[None], [layers.content])[layers.content]
        out["content"] = float(content_loss(feats[layers.content], fc))
    return out


def _labels_at(lab: torch.Tensor, shape) -> torch.Tensor:
    """H x W region indices -> the indices at a layer's size (nearest), then cropped to 3x3 patch centres."""
    small = F.interpolate(lab[None, None].float(), size=tuple(shape), mode="nearest")[0, 0].long()
    return small[1:-1, 1:-1].reshape(-1)


@torch.no_grad()
def semantic_accuracy(net, image: torch.Tensor, target_labels: torch.Tensor, style: torch.Tensor,
                      style_labels: torch.Tensor, layer: str | None = None) -> float:
    """Fraction of output patch positions whose nearest style patch has the region kind of the target there.

    Args:
        net: the scoring FeatureNet; layer: its layer (default: its content layer, stride 8).
        image: 3 x H x W output; target_labels: H x W region indices of the target map.
        style: 3 x h x w painting; style_labels: h x w indices (same palette).
    """
    layer = layer or style_layers(net).content
    fo = net.forward_layers(image[None], [layer])[layer]
    fs = net.forward_layers(style[None], [layer])[layer]
    match = nearest_patches(patches(fo), patches(fs))
    want = _labels_at(target_labels, fo.shape[-2:])
    got = _labels_at(style_labels, fs.shape[-2:])[match]
    return float((want == got).float().mean())


def chance_accuracy(target_labels: torch.Tensor, style_labels: torch.Tensor, k: int) -> float:
    """Accuracy of matches drawn at random from the style's positions: sum_k p_target(k) p_style(k)."""
    pt = torch.bincount(target_labels.flatten(), minlength=k).float()
    ps = torch.bincount(style_labels.flatten(), minlength=k).float()
    return float((pt / pt.sum() * ps / ps.sum()).sum())
