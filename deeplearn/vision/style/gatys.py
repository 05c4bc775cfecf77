"""Neural style transfer (Gatys, Ecker, Bethge 2015, "A Neural Algorithm of Artistic Style"): optimize the pixels
of an image so that its features at one layer match the content photo's and the Gram matrices of its features at
several layers match the style painting's (several paintings: their Grams blended with weights), with a
total-variation penalty.

Coarse to fine (the multiscale of neural-style's users, Gatys et al. 2017 section 6): the image is optimized at
`scales` sizes, each twice the previous, and each result, enlarged, starts the next; so a large image needs only
a few steps at full size. `preserve_colors` transfers in luminance only (colour.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from deeplearn.vision.features import FeatureNet
from deeplearn.vision.style import colour
from deeplearn.vision.style.layers import StyleLayers, style_layers
from deeplearn.vision.style.losses import content_loss, gram, gram_dtype, style_loss, tv_loss
from deeplearn.vision.style.optimize import HISTORY, optimize


@dataclass
class StyleConfig:
    """The knobs (defaults chosen on this project's nets; docs/style.md)."""

    size: int = 512                 # longer side of the output
    iterations: int = 100           # optimization steps at each scale
    optimizer: str = "lbfgs"
    init: str = "content"           # content | noise | style
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1.0
    style_scale: float = 1.0        # style image's longer side / the output's
    style_weights: tuple = ()       # blend weights of the style images (default equal)
    preserve_colors: bool = False
    scales: int | None = None       # None: as many halvings as keep the smallest side >= 160 px (at most 3)
    min_scale: int = 160
    seed: int = 0
    lr: float | None = None
    history: int = HISTORY          # L-BFGS pairs kept
    gram_precision: str = "auto"    # input dtype of the Gram products (losses.gram_dtype)


@dataclass
class StyleResult:
    image: torch.Tensor                               # 3 x H x W in [0, 1]
    losses: list[list[float]] = field(default_factory=list)  # per scale, per step
    sizes: list[tuple[int, int]] = field(default_factory=list)


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of C x H x W (antialiased when shrinking) to size (H, W)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2]
    return F.interpolate(x[None], size=tuple(size), mode="bilinear", align_corners=False, antialias=shrink)[0]


def fit_longer(x: torch.Tensor, side: int) -> torch.Tensor:
    """Resize C x H x W so that its longer side is `side` (aspect kept)."""
    h, w = x.shape[-2:]
    s = side / max(h, w)
    return resize(x, (max(1, round(h * s)), max(1, round(w * s))))


def scale_sizes(h: int, w: int, scales: int | None, min_side: int) -> list[tuple[int, int]]:
    """Output sizes from coarse to fine; the last is (h, w)."""
    if scales is None:
        scales = 1
        while scales < 3 and min(h, w) / 2 ** scales >= min_side:
            scales += 1
    return [(max(8, round(h / 2 ** k)), max(8, round(w / 2 ** k))) for k in reversed(range(scales))]


def blend_weights(n: int, weights) -> list[float]:
    w = list(weights) if weights else [1.0] * n
    if len(w) != n:
        raise ValueError(f"{len(w)} style weights for {n} style images")
    if min(w) < 0 or sum(w) <= 0:
        raise ValueError("style weights must be >= 0 with a positive sum")
    return [v / sum(w) for v in w]


class GatysObjective:
    """The weighted loss of an image at one scale: content + style (blended Grams) + TV.

    Args:
        net: the feature network; layers: its StyleLayers.
        content: 3 x H x W (or None: no content loss); styles: list of 3 x h x w; blend: their weights.
        cfg: the weights.
    """

    def __init__(self, net: FeatureNet, layers: StyleLayers, content, styles, blend, cfg: StyleConfig):
        self.net, self.layers, self.cfg = net, layers, cfg
        self.dtype = gram_dtype(cfg.gram_precision)
        with torch.no_grad():
            self.content = None if content is None else \
                net.forward_layers(content[None], [layers.content])[layers.content]
            self.grams = {n: 0 for n in layers.style}
            for s, w in zip(styles, blend):
                feats = net.forward_layers(s[None], layers.style)
                for n in layers.style:
                    self.grams[n] = self.grams[n] + w * gram(feats[n])[0]
        self.wanted = list(dict.fromkeys(list(layers.style) + ([layers.content] if content is not None else [])))

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"content", "style", "tv"} unweighted, for images x (1 x 3 x H x W)."""
        feats = self.net.forward_layers(x, self.wanted)
        out = {"style": sum(w * style_loss(feats[n], self.grams[n], self.dtype)
                            for n, w in zip(self.layers.style, self.layers.weights)),
               "tv": tv_loss(x)}
        out["content"] = content_loss(feats[self.layers.content], self.content) if self.content is not None \
            else torch.zeros(())
        return out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        p = self.parts(x)
        c = self.cfg
        return c.content_weight * p["content"] + c.style_weight * p["style"] + c.tv_weight * 1e3 * p["tv"]


def initial_image(kind: str, content: torch.Tensor, style: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The start: the content, uniform noise around grey, or the (first) style image resized to the content."""
    if kind == "content":
        return content.clone()
    if kind == "noise":
        return (0.5 + 0.2 * (torch.rand(content.shape, generator=gen) - 0.5))
    if kind == "style":
        return resize(style, content.shape[-2:]).clone()
    raise ValueError(f"unknown init {kind!r}: content, noise or style")


def transfer(net: FeatureNet, content: torch.Tensor, styles: list[torch.Tensor], cfg: StyleConfig,
             layers: StyleLayers | None = None, progress: bool = True) -> StyleResult:
    """Paint `content` in the style of `styles`.

    Args:
        net: the feature network optimized through.
        content: 3 x H x W in [0, 1] (any size; the output's longer side is cfg.size).
        styles: style images, 3 x h x w in [0, 1].
        cfg: StyleConfig.
        layers: content/style layers (default: style_layers(net)).
    Returns:
        StyleResult with the image at cfg.size and the losses of each scale.
    """
    layers = layers or style_layers(net)
    blend = blend_weights(len(styles), cfg.style_weights)
    gen = torch.Generator().manual_seed(cfg.seed)
    final = fit_longer(content, cfg.size)
    result = StyleResult(final)
    x = None
    for size in scale_sizes(*final.shape[-2:], cfg.scales, cfg.min_scale):
        c = resize(final, size)
        side = round(max(size) * cfg.style_scale)
        s = [fit_longer(st, side) for st in styles]
        if cfg.preserve_colors:
            s = [colour.match_luminance(st, c) for st in s]
        x = initial_image(cfg.init, c, s[0], gen) if x is None else resize(x, size)
        if cfg.preserve_colors:
            c_in, x = colour.luminance(c), colour.rgb_to_yuv(x)[:1].clone()  # optimize Y only
            objective = GatysObjective(net, layers, c_in, s, blend, cfg)
            loss = lambda y: objective(y.expand(3, -1, -1)[None])  # noqa: E731
        else:
            objective = GatysObjective(net, layers, c, s, blend, cfg)
            loss = lambda y: objective(y[None])  # noqa: E731
        x = x.contiguous()
        result.losses.append(optimize(x, loss, cfg.iterations, cfg.optimizer, cfg.lr, progress,
                                      desc=f"style {size[1]}x{size[0]}", history=cfg.history))
        if cfg.preserve_colors:
            x = x.expand(3, -1, -1)
        x = x.detach().clamp(0, 1)
        result.sizes.append(tuple(size))
    result.image = colour.with_chroma(x, final) if cfg.preserve_colors else x
    return result
