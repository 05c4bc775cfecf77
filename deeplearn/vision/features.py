"""Feature networks: a vision net with named layers, for any system that looks inside one (DeepDream, feature
visualization, style transfer, detection backbones).

A `FeatureNet` takes images in pixel space (N x C x H x W, values in [0, 1]), applies the preprocessing its net
expects, and returns the outputs of the layers asked for, running the net only as far as the deepest of them (so a
convolutional layer can be reached at any input size, even in a net whose classifier needs a fixed one).

`load_feature_net(spec)` builds one from a spec:
- `efficientnet-lite0`, `efficientnet-lite2`: ImageNet weights from the `imagenet` extra;
- a run directory of `deeplearn train` (LeNet, AlexNet-CIFAR, GoogLeNet-CIFAR, ...): the trained weights;
- `NAME:random`: the same architecture with random weights (`NAME` from `deeplearn models`, or EfficientNet);
- `random-multiscale`: a random-weight multi-scale conv net made for style (vision/randnet.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.paths import DataError
from deeplearn.registry import Registry

CLASS_FILE = Path(__file__).with_name("imagenet_classes.txt")


class _Reached(Exception):
    """Raised by a hook once every requested layer has its output: the rest of the net need not run."""


@dataclass
class LayerInfo:
    name: str
    shape: tuple      # output shape for one image at the size asked for (C x H x W, or K for a linear layer)
    kind: str         # module class name


class FeatureNet:
    """A frozen network with named layers.

    Args:
        name: what the net is (the spec it was loaded from).
        model: the nn.Module (put in eval mode, parameters frozen, in-place activations turned off so that a
            captured layer output is never overwritten by the next module).
        layers: the accepted layer names (module names of `model`), in forward order.
        mean, std: per-channel preprocessing of [0, 1] pixels: (x - mean) / std.
        input_size: (H, W) the net was trained at.
        class_names: the classes of its classifier output (None: unknown).
        model_channels: channels the model takes, if not those of the pixels (len(mean)): the normalized pixels
            are then averaged to grey or grey is repeated, as the training data's encoding did.
    """

    def __init__(self, name: str, model: nn.Module, layers: list[str], mean, std, input_size, class_names=None,
                 model_channels: int | None = None):
        self.name = name
        self.model = _frozen(model)
        modules = dict(self.model.named_modules())
        missing = [n for n in layers if n not in modules]
        if missing:
            raise ValueError(f"{name}: no modules named {missing}")
        self.layers = list(layers)
        self._modules = {n: modules[n] for n in layers}
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.input_size = tuple(input_size)
        self.class_names = class_names
        self.model_channels = model_channels or len(mean)
        self._linear: set[str] | None = None

    @property
    def channels(self) -> int:
        return self.mean.shape[1]

    def check_layer(self, layer: str) -> str:
        """`layer` itself if the net has it, else a DataError that lists every valid name."""
        if layer not in self._modules:
            raise DataError(f"{self.name} has no layer {layer!r}; valid layers (`deeplearn vision layers "
                            f"{self.name}` shows their shapes): {', '.join(self.layers)}")
        return layer

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] (N x C x H x W) -> the net's input."""
        x = (x - self.mean) / self.std
        if self.model_channels != x.shape[1]:  # as deeplearn.supervised.encoding.fit_size
            x = x.repeat(1, self.model_channels, 1, 1) if x.shape[1] == 1 else \
                x.mean(1, keepdim=True).repeat(1, self.model_channels, 1, 1)
        return x

    def forward_layers(self, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """Outputs of `layers` for images `x` (N x C x H x W pixels in [0, 1]), differentiable in x.

        Args:
            x: images in pixel space; any size the layers can be reached at.
            layers: names from `self.layers`.
        Returns:
            {name: output (N x C' x H' x W', or N x K for a linear layer)}.
        """
        wanted = [self.check_layer(n) for n in layers]
        if tuple(x.shape[-2:]) != self.input_size and any(n in self.linear_layers() for n in wanted):
            # a linear layer (after a flatten) exists at the net's input size only: resize, differentiably
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False,
                              antialias=x.shape[-2] > self.input_size[0])
        outputs: dict[str, torch.Tensor] = {}

        def hook(name):
            def capture(module, inputs, output):
                if name not in outputs:
                    outputs[name] = output
                if len(outputs) == len(wanted):
                    raise _Reached
            return capture

        handles = [self._modules[n].register_forward_hook(hook(n)) for n in dict.fromkeys(wanted)]
        try:
            self.model(self.preprocess(x))
        except _Reached:
            pass
        except RuntimeError as e:  # e.g. "Kernel size can't be greater than actual input size"
            if "size" not in str(e):
                raise
            raise DataError(f"{self.name}: layer {wanted[-1]!r} cannot be computed for a {x.shape[-1]}x"
                            f"{x.shape[-2]} image, too small for the net ({str(e).splitlines()[0]}): use a larger "
                            f"--size or fewer --octaves") from None
        finally:
            for h in handles:
                h.remove()
        return {n: outputs[n] for n in wanted}

    def linear_layers(self) -> set[str]:
        """Layers whose output is not a feature map (N x K): reached by resizing the input to `input_size`."""
        if self._linear is None:
            self._linear = set()  # (so that the probe below does not resize)
            h, w = self.input_size
            with torch.no_grad():
                outs = self.forward_layers(torch.full((1, self.channels, h, w), 0.5), self.layers)
            self._linear = {n for n, o in outs.items() if o.dim() != 4}
        return self._linear

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N x K) of the whole net for images in [0, 1] at its input size."""
        out = self.model(self.preprocess(x))
        return out.logits if hasattr(out, "logits") else out

    def layer_info(self, size=None) -> list[LayerInfo]:
        """Every layer's output shape for one image of `size` (H, W; default: the net's input size)."""
        h, w = size or self.input_size
        with torch.no_grad():
            outs = self.forward_layers(torch.full((1, self.channels, h, w), 0.5), self.layers)
        return [LayerInfo(n, tuple(outs[n].shape[1:]), type(self._modules[n]).__name__) for n in self.layers]


def _frozen(model: nn.Module) -> nn.Module:
    model = copy.deepcopy(model).eval()
    for m in model.modules():
        if getattr(m, "inplace", False):
            m.inplace = False
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet-1k class names in the order of the classifier outputs (one per line in the package)."""
    names = CLASS_FILE.read_text().splitlines()
    assert len(names) == 1000, f"{CLASS_FILE} holds {len(names)} names, not 1000"
    return names


def efficientnet_layers(model) -> list[str]:
    """EfficientNet-Lite's layers: the stem, each block's expansion and depthwise activations and its output, the
    head (1,280 channels) and the classifier (logits)."""
    names = ["stem"]
    for i, block in enumerate(model.blocks):
        if block.expand is not None:
            names.append(f"blocks.{i}.expand")
        names += [f"blocks.{i}.depthwise", f"blocks.{i}"]
    return names + ["head", "classifier"]


def traced_layers(model: nn.Module, input_shape) -> list[str]:
    """Names of the modules (not the root) that return a tensor in one forward pass, in the order they run."""
    order: list[str] = []
    handles = []
    for name, m in model.named_modules():
        if name:
            handles.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: order.append(name)
                if isinstance(out, torch.Tensor) and name not in order else None))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return order


def _efficientnet(spec: str, name: str, random: bool) -> FeatureNet:
    from deeplearn.vision import efficientnet

    model = efficientnet.build(name, pretrained=not random)
    size = efficientnet.VARIANTS[name].resolution
    return FeatureNet(spec, model, efficientnet_layers(model), efficientnet.MEAN, efficientnet.STD, (size, size),
                      imagenet_classes())


def _random_multiscale(spec: str, name: str, random: bool) -> FeatureNet:
    from deeplearn.vision import randnet

    return FeatureNet(spec, randnet.RandomMultiscale(), randnet.layer_names(), randnet.MEAN, randnet.STD, (224, 224))


# Feature networks with weights of their own (not trained here): name -> builder(spec, name, random).
FEATURE_NETS: Registry = Registry("feature network")
FEATURE_NETS.add("efficientnet-lite0", _efficientnet, description="EfficientNet-Lite0, ImageNet (imagenet extra)")
FEATURE_NETS.add("efficientnet-lite2", _efficientnet, description="EfficientNet-Lite2, ImageNet (imagenet extra)")
FEATURE_NETS.add("random-multiscale", _random_multiscale,
                 description="5 random-weight 3x3 conv layers at strides 1-16 (vision/randnet.py; for style)")


def load_feature_net(spec: str) -> FeatureNet:
    """A FeatureNet from a spec: `efficientnet-lite0|2`, a run directory, or `NAME:random`.

    Args:
        spec: see the module docstring.
    Returns:
        the FeatureNet.
    Raises:
        DataError: unknown name, a run directory that is not an image classifier's, a missing `imagenet` extra.
    """
    if Path(spec).is_dir():
        return _from_run(spec)
    name, _, mode = spec.partition(":")
    if mode not in ("", "random"):
        raise DataError(f"--model {spec}: the only suffix is ':random' (random weights)")
    if name in FEATURE_NETS:
        return FEATURE_NETS.get(name)(spec, name, mode == "random")
    return _random_registry_net(spec, name)


def _random_registry_net(spec: str, name: str) -> FeatureNet:
    from deeplearn import models

    if name not in models.MODELS:
        known = ", ".join(FEATURE_NETS.names() + [s.name for s in models.all_specs() if s.input_size is not None])
        raise DataError(f"--model {spec}: not a run directory and not a known network; known: {known} "
                        f"(add ':random' for random weights), or the path of a `deeplearn train` run")
    mspec = models.get(name)
    if mspec.input_size is None:
        raise DataError(f"--model {spec}: {name} is not a convolutional net (it has no fixed input size)")
    shape = (mspec.channels or 3, *mspec.input_size)
    torch.manual_seed(0)  # the same random net every time
    model = mspec.build(10 if max(mspec.input_size) <= 32 else 1000, shape)
    mean, std = (0.5,) * shape[0], (0.25,) * shape[0]  # random weights: any fixed normalisation of [0, 1]
    return FeatureNet(spec, model, traced_layers(model, shape), mean, std, mspec.input_size)


def _from_run(run_dir: str) -> FeatureNet:
    from deeplearn.engine.rundir import RunDir
    from deeplearn.models import load_classifier

    run = RunDir(run_dir)
    if run.system != "supervised":
        raise DataError(f"{run_dir} is a {run.system} run, not a run of an image classifier: pass a "
                        f"`deeplearn train` run of a vision model (e.g. --model lenet5-modern)")
    meta = run.config.get("meta", {})
    if not {"input_shape", "mean", "std", "class_names"} <= set(meta) or len(meta["input_shape"]) != 3:
        raise DataError(f"{run_dir} is not a run of an image classifier (its config has no image input shape and "
                        f"pixel statistics): pass a `deeplearn train` run of a vision model")
    model, meta = load_classifier(run_dir)
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise DataError(f"{run_dir}: the model ({run.config['task'].get('model')}) has no convolutional layer "
                        f"to look into: pass a run of a conv net (lenet5, alexnet-cifar, ...)")
    shape = tuple(meta["input_shape"])  # the model's; the pixels have len(meta["mean"]) channels
    return FeatureNet(str(run_dir), model, traced_layers(model, shape), meta["mean"], meta["std"], shape[1:],
                      meta["class_names"], model_channels=shape[0])


def top_classes(net: FeatureNet, image: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    """The net's k most probable classes for one image (C x H x W in [0, 1], any size): the central square of
    the shorter side shrunk by size / (size + 32) (the EfficientNet evaluation crop), resized to the input size.

    Returns:
        [(class name, probability)], most probable first.
    """
    h, w = image.shape[-2:]
    side = net.input_size[0]
    crop = max(1, round(min(h, w) * side / (side + 32)))
    top, left = (h - crop) // 2, (w - crop) // 2
    x = image[None, :, top:top + crop, left:left + crop]
    x = F.interpolate(x, size=net.input_size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    with torch.no_grad():
        p = net.classify(x).softmax(1)[0]
    names = net.class_names or [str(i) for i in range(len(p))]
    values, idx = p.topk(min(k, len(p)))
    return [(names[i], float(v)) for v, i in zip(values, idx.tolist())]
