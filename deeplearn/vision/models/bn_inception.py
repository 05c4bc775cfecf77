"""BN-Inception ("Inception-v2" in the lecture): S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep
Network Training by Reducing Internal Covariate Shift", ICML 2015 (arXiv 1502.03167), Section 4.2 and Figure 5.

Changes from GoogLeNet, all from the paper: batch normalization after every convolution, before the ReLU (Sec. 3.2,
so convolutions have no bias); each 5x5 convolution replaced by two stacked 3x3 ("double 3x3", up to 128 filters
in the 28x28 modules); three 28x28 modules (3a, 3b, 3c) instead of two; average or max pooling inside the modules
as Figure 5 lists; no pooling layer between inception modules - instead 3c and 4e reduce the grid themselves with
stride-2 convolutions and a stride-2 max-pool that passes its input through; LRN and dropout removed (Sec. 4.2.1);
no auxiliary classifiers (Figure 5 lists none), so forward returns plain logits.

Deliberate deviations:
- Modules 4c and 4d: Figure 5 lists output depth 576, but its own branch widths add up to 608 (160+160+160+128,
  96+192+192+128); the branch widths are kept, so 4d outputs 608 and 4e 192+256+608 = 1056 (as in the public
  re-implementations of this net). Figure 5's 3c output "28x28" is read as 14x14 (it has stride 2).
- The first convolution is a plain 7x7/2 convolution with 64 filters.
- Initialisation: He normal (the paper states none); batch-norm defaults of PyTorch.
- The paper states 13.6M parameters; this count of Figure 5 is ~11.3M for 1000 classes (see docs/vision.md).
- `bn-inception-cifar` (32x32): the stem's downsampling (7x7 conv stride 2 and both max-pools) is removed, its
  layers kept: modules 3a-3b run at 32x32, 3c reduces to 16x16, 4e to 8x8, and the average pool covers the 8x8 map.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplearn.models import register_family
from deeplearn.vision.models.common import init_kaiming

PAPER = "Ioffe, Szegedy 2015, Batch Normalization (arXiv 1502.03167), Figure 5"


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, padding=kernel_size // 2, bias=False),  # BN's beta is the bias
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class InceptionBN(nn.Module):
    """A row of Figure 5: #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool type + projection.

    n1x1 = 0 drops the 1x1 branch and pool_proj = None passes the pooled input through (3c and 4e); with stride 2
    the 3x3, double-3x3 and pool branches all halve the grid.
    """

    def __init__(self, cin, n1x1, n3x3red, n3x3, d3x3red, d3x3, pool: str, pool_proj, stride: int = 1):
        super().__init__()
        self.branch1 = ConvBN(cin, n1x1, 1) if n1x1 else None
        self.branch2 = nn.Sequential(ConvBN(cin, n3x3red, 1), ConvBN(n3x3red, n3x3, 3, stride))
        self.branch3 = nn.Sequential(ConvBN(cin, d3x3red, 1), ConvBN(d3x3red, d3x3, 3), ConvBN(d3x3, d3x3, 3, stride))
        pooling = (nn.MaxPool2d(3, stride, padding=1) if pool == "max"
                   else nn.AvgPool2d(3, stride, padding=1, count_include_pad=False))  # padding is not an input
        self.branch4 = nn.Sequential(pooling, ConvBN(cin, pool_proj, 1)) if pool_proj else pooling
        self.out_channels = n1x1 + n3x3 + d3x3 + (pool_proj or cin)

    def forward(self, x):
        branches = [self.branch2, self.branch3, self.branch4]
        if self.branch1 is not None:
            branches.insert(0, self.branch1)
        return torch.cat([b(x) for b in branches], dim=1)


class BNInception(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, cifar: bool = False):
        super().__init__()
        pool = (lambda: nn.Identity()) if cifar else (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True))
        # Sizes: ImageNet 224x224 input (CIFAR: 32x32 up to 3b, 16x16 for 3c-4d, 8x8 from 4e).
        self.conv1 = ConvBN(in_channels, 64, 7, stride=1 if cifar else 2)         # N x 64 x 112 x 112
        self.pool1 = pool()                                                       # N x 64 x 56 x 56
        self.conv2 = ConvBN(64, 64, 1)                                            # N x 64 x 56 x 56
        self.conv3 = ConvBN(64, 192, 3)                                           # N x 192 x 56 x 56
        self.pool2 = pool()                                                       # N x 192 x 28 x 28
        self.inception3a = InceptionBN(192, 64, 64, 64, 64, 96, "avg", 32)        # N x 256 x 28 x 28
        self.inception3b = InceptionBN(256, 64, 64, 96, 64, 96, "avg", 64)        # N x 320 x 28 x 28
        self.inception3c = InceptionBN(320, 0, 128, 160, 64, 96, "max", None, 2)  # N x 576 x 14 x 14
        self.inception4a = InceptionBN(576, 224, 64, 96, 96, 128, "avg", 128)     # N x 576 x 14 x 14
        self.inception4b = InceptionBN(576, 192, 96, 128, 96, 128, "avg", 128)    # N x 576 x 14 x 14
        self.inception4c = InceptionBN(576, 160, 128, 160, 128, 160, "avg", 128)  # N x 608 x 14 x 14
        self.inception4d = InceptionBN(608, 96, 128, 192, 160, 192, "avg", 128)   # N x 608 x 14 x 14
        self.inception4e = InceptionBN(608, 0, 128, 192, 192, 256, "max", None, 2)  # N x 1056 x 7 x 7
        self.inception5a = InceptionBN(1056, 352, 192, 320, 160, 224, "avg", 128)  # N x 1024 x 7 x 7
        self.inception5b = InceptionBN(1024, 352, 192, 320, 192, 224, "max", 128)  # N x 1024 x 7 x 7
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # N x 1024 x 1 x 1 (the paper's 7x7 average pool; 8x8 for CIFAR)
        self.fc = nn.Linear(1024, num_classes)                                    # N x K
        init_kaiming(self)

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv3(self.conv2(x)))
        for name in ("3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            x = getattr(self, "inception" + name)(x)
        return self.fc(self.avgpool(x).flatten(1))


register_family("bn-inception", BNInception, size=(224, 224), options=set(), paper=PAPER,
                description="BN-Inception / Inception-v2 (2015): batch norm, double 3x3, stride-2 modules",
                cifar_description="BN-Inception for 32x32: stem without downsampling, rest as the paper")
