"""Semantic style transfer, "neural doodles" (Champandard 2016, "Semantic Style Transfer and Turning Two-Bit
Doodles into Fine Artwork", arXiv 1603.01768), on the patch loss of Li and Wand 2016 ("Combining Markov Random
Fields and Convolutional Neural Networks for Image Synthesis").

At each patch layer, the semantic map (one-hot region kinds, area-downsampled to the layer's size) is concatenated
to the features (normalized to unit mean square norm per position) with a weight `semantic_weight`; every 3x3
patch of the output's [features, weight x map] is matched to the style patch with the largest normalized
cross-correlation (batched over the style patches, so memory is bounded), and the output's feature patch is
pulled towards the matched one. A large weight makes a region of the target draw only from the style's region of
the same kind. On the shallow layers, where 3x3 patches are too small to carry a brush stroke, the style is
given per region by masked Gram matrices (Gatys et al. 2017, "Controlling Perceptual Factors", spatial control):
each region's Gram of the output matches the same region's Gram of the style. With a content photo, a content
loss keeps its layout (style transfer with maps); without one, the doodle is painted from noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from deeplearn.paths import DataError
from deeplearn.vision.features import FeatureNet
from deeplearn.vision.style.gatys import resize, scale_sizes
from deeplearn.vision.style.losses import content_loss, nearest_patches, patch_loss, patches, relative_sq, tv_loss
from deeplearn.vision.style.optimize import optimize

# Per net: (patch layers, masked-Gram layers, content layer)
DOODLE_LAYERS = {
    "efficientnet-lite0": (("blocks.4.expand", "blocks.6.expand"), ("stem", "blocks.2.expand"), "blocks.4.expand"),
    "efficientnet-lite2": (("blocks.5.expand", "blocks.8.expand"), ("stem", "blocks.2.expand"), "blocks.5.expand"),
    "random-multiscale": (("relu4", "relu5"), ("relu1", "relu2", "relu3"), "relu4"),
}


@dataclass
class DoodleConfig:
    iterations: int = 100           # per scale
    optimizer: str = "lbfgs"
    semantic_weight: float = 10.0   # of the map channels against the unit-norm features in the patch matching
    patch_weight: float = 1.0
    gram_weight: float = 10.0       # masked Grams of the shallow layers
    content_weight: float = 1.0
    tv_weight: float = 0.1
    scales: int | None = None
    min_scale: int = 160
    chunk: int = 2048               # style patches matched at once
    seed: int = 0
    lr: float | None = None


@dataclass
class DoodleResult:
    image: torch.Tensor
    losses: list[list[float]] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)


def doodle_layers(net: FeatureNet):
    name = net.name.partition(":")[0]
    if name not in DOODLE_LAYERS:
        raise ValueError(f"doodles need one of the nets {', '.join(DOODLE_LAYERS)} (got {net.name})")
    return DOODLE_LAYERS[name]


def layer_map(maps: torch.Tensor, shape) -> torch.Tensor:
    """K x H x W one-hot maps -> 1 x K x h x w region shares at a layer's size (area average)."""
    return F.interpolate(maps[None], size=tuple(shape), mode="area")


def masked_gram(f: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Per-region Gram matrices: f 1 x C x h x w, m 1 x K x h x w -> K x C x C, each divided by C x (mask area)."""
    x = f[0].reshape(f.shape[1], -1)                          # C x hw
    w = m[0].reshape(m.shape[1], -1)                          # K x hw
    g = torch.einsum("ck,rk,dk->rcd", x, w, x)
    return g / (f.shape[1] * w.sum(1).clamp_min(1e-6)).view(-1, 1, 1)


class DoodleObjective:
    """Patch loss (semantic matching) + masked Grams + optional content + TV for one scale.

    Args:
        net: feature network; style: 3 x h x w; style_maps: K x h x w one-hot; target_maps: K x H x W one-hot
        (the output's size); content: 3 x H x W or None; cfg: DoodleConfig.
    """

    def __init__(self, net, style, style_maps, target_maps, content, cfg: DoodleConfig):
        self.net, self.cfg = net, cfg
        self.patch_layers, self.gram_layers, self.content_layer = doodle_layers(net)
        wanted = list(dict.fromkeys(self.patch_layers + self.gram_layers))
        present = style_maps.flatten(1).sum(1) > 0
        self.present = present
        with torch.no_grad():
            feats = net.forward_layers(style[None], wanted)
            self.scale, self.bank, self.bank_feat, self.target_map = {}, {}, {}, {}
            small = [n for n in self.patch_layers if min(feats[n].shape[-2:]) < 3]
            self.patch_layers = tuple(n for n in self.patch_layers if n not in small)  # no 3x3 patch fits
            if not self.patch_layers:
                raise DataError(f"the style image ({style.shape[2]}x{style.shape[1]}) is too small for 3x3 patches at "
                                f"{', '.join(small)} of {net.name}: use a larger --size")
            for n in self.patch_layers:
                f = feats[n]
                self.scale[n] = f.pow(2).sum(1).mean().sqrt().clamp_min(1e-6)  # unit mean square norm per position
                sm = layer_map(style_maps, f.shape[-2:])
                self.bank_feat[n] = patches(f / self.scale[n])                   # P x C*9
                self.bank[n] = torch.cat([self.bank_feat[n], cfg.semantic_weight * patches(sm)], 1)
            self.grams = {n: masked_gram(feats[n], layer_map(style_maps, feats[n].shape[-2:]))
                          for n in self.gram_layers}
            self.content = None
            if content is not None:
                self.content = net.forward_layers(content[None], [self.content_layer])[self.content_layer]
        self.target_maps = target_maps
        self.wanted = wanted + ([self.content_layer] if content is not None else [])
        self.wanted = list(dict.fromkeys(self.wanted))

    def parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.net.forward_layers(x, self.wanted)
        out = {"patch": torch.zeros(()), "gram": torch.zeros(()), "tv": tv_loss(x), "content": torch.zeros(())}
        for n in self.patch_layers:
            f = feats[n] / self.scale[n]
            tm = layer_map(self.target_maps, f.shape[-2:])
            with torch.no_grad():
                query = torch.cat([patches(f), self.cfg.semantic_weight * patches(tm)], 1)
                match = nearest_patches(query, self.bank[n], self.cfg.chunk)
            out["patch"] = out["patch"] + patch_loss(f, self.bank_feat[n], match) / len(self.patch_layers)
        for n in self.gram_layers:
            g = masked_gram(feats[n], layer_map(self.target_maps, feats[n].shape[-2:]))
            out["gram"] = out["gram"] + relative_sq(g[self.present], self.grams[n][self.present]) / len(self.gram_layers)
        if self.content is not None:
            out["content"] = content_loss(feats[self.content_layer], self.content)
        return out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        p, c = self.parts(x), self.cfg
        return (c.patch_weight * p["patch"] + c.gram_weight * p["gram"] + c.content_weight * p["content"]
                + c.tv_weight * 1e3 * p["tv"])


def paint(net: FeatureNet, style: torch.Tensor, style_maps: torch.Tensor, target_maps: torch.Tensor,
          content: torch.Tensor | None, cfg: DoodleConfig, progress: bool = True) -> DoodleResult:
    """Paint the target map (K x H x W one-hot; the output's size) from the style (3 x h x w) and its maps.

    Args:
        net: feature network (one of DOODLE_LAYERS).
        style, style_maps: the painting and its one-hot regions (same H x W).
        target_maps: the doodle's one-hot regions (same K order).
        content: a photo of the target's size (style transfer with maps) or None (from noise).
        cfg: DoodleConfig.
    Returns:
        DoodleResult: image 3 x H x W in [0, 1], losses per scale.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    h, w = target_maps.shape[-2:]
    result = DoodleResult(torch.zeros(3, h, w))
    x = None
    sizes = scale_sizes(h, w, cfg.scales, cfg.min_scale)
    for size in sizes:
        f = size[0] / h
        s_size = (max(8, round(style.shape[1] * f)), max(8, round(style.shape[2] * f)))
        s, sm = resize(style, s_size), resize(style_maps, s_size)
        tm, c = resize(target_maps, size), (None if content is None else resize(content, size))
        if x is None:
            x = c.clone() if c is not None else 0.5 + 0.2 * (torch.rand(3, *size, generator=gen) - 0.5)
        else:
            x = resize(x, size).contiguous()
        objective = DoodleObjective(net, s, sm, tm, c, cfg)
        result.losses.append(optimize(x, lambda y: objective(y[None]), cfg.iterations, cfg.optimizer, cfg.lr,
                                      progress, desc=f"doodle {size[1]}x{size[0]}"))
        x = x.detach().clamp(0, 1)
        result.sizes.append(tuple(size))
    result.image = x
    return result
