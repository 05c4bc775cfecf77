"""DeepDream (Mordvintsev, Olah and Tyka 2015, "Inceptionism: Going Deeper into Neural Networks"; the recipe of
google/deepdream `dream.ipynb`): gradient ascent on the pixels of an image to raise the response of one layer.

The recipe, step by step (the notebook's `make_step` and `deepdream`):
- objective: the mean square of the layer's activations (the notebook's L2 objective, whose gradient is the
  activations themselves), or of one channel; or, for a guided dream, each position's best dot product with the
  features of a guide image (the notebook's `objective_guide`);
- each step rolls the image by a random offset of up to `jitter` pixels (32), takes the gradient, and moves the
  pixels by `step_size / mean|g| * g` (1.5, in 0-255 pixel units), then clips them to the valid range;
- octaves: the image is shrunk `octaves - 1` times by `octave_scale` (4 octaves, 1.4), dreamt smallest first for
  `steps` steps each (10); the detail the dream added (dreamt image minus the octave's base) is enlarged and
  carried up to the next octave, so large structures grow at small scale and get their fine texture at full size.
Here images are C x H x W tensors of pixels in [0, 1]; the feature network applies its own preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from deeplearn.vision.features import FeatureNet


@dataclass
class DreamConfig:
    """The knobs of the recipe (defaults: the notebook's)."""

    layer: str
    channel: int | None = None      # None: the whole layer
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10                 # per octave
    step_size: float = 1.5          # in 0-255 pixel units, divided by mean |gradient|
    jitter: int = 32                # pixels, each way
    seed: int = 0


@dataclass
class DreamResult:
    image: torch.Tensor                                   # C x H x W in [0, 1], the input's size
    objective: list[list[float]] = field(default_factory=list)  # per octave (smallest first), per step, before it
    base_objective: list[float] = field(default_factory=list)   # per octave: of its base alone (no dreamt detail)


def layer_objective(act: torch.Tensor, channel: int | None = None) -> torch.Tensor:
    """Mean square of a layer's activations (N x C x H x W or N x K), or of one channel (unit) of it."""
    if channel is not None:
        if not 0 <= channel < act.shape[1]:
            raise ValueError(f"channel {channel} is out of range: the layer has {act.shape[1]} channels")
        act = act[:, channel]
    return act.pow(2).mean()


def guide_objective(guide: torch.Tensor):
    """The guided dream's objective: each position's largest dot product with any position of the guide's
    features (C x M), averaged; its gradient at position i is the best-matching guide feature vector."""
    y = guide.reshape(guide.shape[0], -1)                 # C x M

    def objective(act: torch.Tensor, channel=None) -> torch.Tensor:
        x = act[0].reshape(act.shape[1], -1)              # C x N
        best = (x.detach().T @ y).argmax(1)               # N: the matching guide position of each position
        return (x * y[:, best]).sum(0).mean()

    return objective


def octave_sizes(h: int, w: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Sizes of the octaves, smallest first (the last one is the image's own size)."""
    return [(max(1, round(h / scale ** i)), max(1, round(w / scale ** i))) for i in reversed(range(octaves))]


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of a 1 x C x H x W tensor (antialiased when shrinking)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def dream(net: FeatureNet, image: torch.Tensor, cfg: DreamConfig, guide: torch.Tensor | None = None,
          progress: bool = True, measure_base: bool = False) -> DreamResult:
    """Dream `image` with `net` at `cfg.layer`.

    Args:
        net: the feature network.
        image: C x H x W pixels in [0, 1] (a photo or noise).
        cfg: layer, channel, octaves, steps, step size, jitter, seed.
        guide: C x H' x W' pixels of a guide image (a guided dream) or None.
        progress: show a tqdm bar over the octaves' steps.
        measure_base: also record the objective of each octave's base without the carried detail (one more
            forward pass per octave).
    Returns:
        the dream (C x H x W in [0, 1]) and the objective before each step.
    """
    net.check_layer(cfg.layer)
    gen = torch.Generator().manual_seed(cfg.seed)
    objective = layer_objective
    if guide is not None:
        with torch.no_grad():
            objective = guide_objective(net.forward_layers(guide[None], [cfg.layer])[cfg.layer][0])
    base = image[None].float()                            # 1 x C x H x W
    sizes = octave_sizes(*base.shape[-2:], cfg.octaves, cfg.octave_scale)
    detail = torch.zeros_like(_resize(base, sizes[0]))
    result = DreamResult(image)
    bar = tqdm(total=len(sizes) * cfg.steps, desc="dream", unit="step", disable=not progress, leave=False)
    for i, size in enumerate(sizes):
        octave_base = _resize(base, size)
        x = (octave_base + _resize(detail, size)).clamp(0, 1)
        if measure_base:
            with torch.no_grad():
                result.base_objective.append(float(objective(
                    net.forward_layers(octave_base, [cfg.layer])[cfg.layer], cfg.channel)))
        bar.set_description(f"octave {i + 1}/{len(sizes)} {size[1]}x{size[0]}")
        values = []
        for _ in range(cfg.steps):
            values.append(_step(net, x, cfg, objective, gen))
            bar.update()
        result.objective.append(values)
        detail = x - octave_base
    bar.close()
    result.image = x[0]
    return result


def _step(net: FeatureNet, x: torch.Tensor, cfg: DreamConfig, objective, gen: torch.Generator) -> float:
    """One gradient-ascent step on x (1 x C x H x W, in place); returns the objective before the step."""
    dy, dx = (torch.randint(-cfg.jitter, cfg.jitter + 1, (2,), generator=gen).tolist() if cfg.jitter else (0, 0))
    x.requires_grad_(True)
    rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3))  # the gradient flows back through the roll
    value = objective(net.forward_layers(rolled, [cfg.layer])[cfg.layer], cfg.channel)
    (g,) = torch.autograd.grad(value, x)
    x.requires_grad_(False)
    with torch.no_grad():
        x += (cfg.step_size / 255.0) / g.abs().mean().clamp_min(1e-12) * g
        x.clamp_(0, 1)
    return float(value.detach())


def noise_image(channels: int, size: int, seed: int = 0) -> torch.Tensor:
    """The lecture's white-noise start: uniform noise of +-0.1 around mid grey (C x size x size, in [0, 1])."""
    gen = torch.Generator().manual_seed(seed)
    return 0.5 + 0.2 * (torch.rand(channels, size, size, generator=gen) - 0.5)
