"""The detectors' trunk: a small ResNet-style network (He et al. 2016 basic blocks) with a top-down merge (Lin et
al. 2017's FPN idea, one output level), sized for a 2-core CPU.

    image [B, 3, H, W]
      stem   3x3 conv, stride 2             -> [B, w0, H/2,  W/2]
      stage1 residual block, stride 2       -> [B, w1, H/4,  W/4]
      stage2 residual block, stride 2       -> [B, w2, H/8,  W/8]
      stage3 residual block, stride 2       -> [B, w3, H/16, W/16]
      neck   1x1 laterals, upsample + add from stride 16 down to `out_stride`, 3x3 conv -> [B, out, H/s, W/s]

CenterNet reads the stride-4 map (small objects need fine centres); Faster R-CNN the stride-8 one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STRIDES = (4, 8, 16)  # the strides of stage1..stage3


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (a strided 1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.short(x))


class Backbone(nn.Module):
    """Feature map at `out_stride` (4, 8 or 16) with `out_channels` channels.

    Args:
      widths: channels of (stem, stage1, stage2, stage3).
      out_channels: channels of the output map (the heads' input).
      out_stride: 4, 8 or 16.
    """

    def __init__(self, widths: tuple[int, int, int, int] = (24, 32, 64, 128), out_channels: int = 64,
                 out_stride: int = 4):
        super().__init__()
        if out_stride not in STRIDES:
            raise ValueError(f"out_stride must be one of {STRIDES}, got {out_stride}")
        w0, w1, w2, w3 = widths
        self.out_stride, self.out_channels = out_stride, out_channels
        self.stem = conv_bn(3, w0, 3, 2)
        self.stages = nn.ModuleList([nn.Sequential(BasicBlock(cin, cout, 2), BasicBlock(cout, cout, 1))
                                     for cin, cout in ((w0, w1), (w1, w2), (w2, w3))])
        used = [i for i, s in enumerate(STRIDES) if s >= out_stride]
        self.laterals = nn.ModuleList([nn.Conv2d((w1, w2, w3)[i], out_channels, 1) for i in used])
        self.smooth = conv_bn(out_channels, out_channels, 3, 1)
        self.first = used[0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)  # [B, w0, H/2, W/2]
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)  # strides 4, 8, 16
        top = self.laterals[-1](maps[-1])
        for lateral, fine in zip(reversed(self.laterals[:-1]), reversed(maps[self.first:-1])):
            top = lateral(fine) + F.interpolate(top, size=fine.shape[-2:], mode="nearest")
        return self.smooth(top)  # [B, out_channels, H/out_stride, W/out_stride]
