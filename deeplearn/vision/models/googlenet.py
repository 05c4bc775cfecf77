"""GoogLeNet (Inception-v1): C. Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (arXiv 1409.4842),
Table 1, Figures 2(b) and 3, Section 5 - the network of the paper, not torchvision's (which adds batch norm and
uses 3x3 where the paper has 5x5).

Stem 7x7/2 conv - 3x3/2 max-pool - LRN - 1x1 conv 64 - 3x3 conv 192 - LRN - 3x3/2 max-pool; nine inception modules
(3a-3b, pool, 4a-4e, pool, 5a-5b) each concatenating 1x1, 1x1->3x3, 1x1->5x5 and 3x3 max-pool->1x1 branches with
the widths of Table 1; 7x7 average pool, dropout 0.4, linear. ReLU after every convolution. Two auxiliary
classifiers on 4a and 4d (Sec. 5: 5x5/3 average pool, 1x1 conv 128, fc 1024, dropout 0.7, linear), used in
training only; the task adds 0.3 x their losses (`aux_weight`). About 7.0M parameters without the auxiliary heads
(Table 1 sums to 6.8M: "12 times fewer parameters than" AlexNet).

Deliberate deviations:
- LRN constants are AlexNet's (the paper gives none). Max-pools use ceil mode (as in Caffe), which gives Table 1's
  112 -> 56 -> 28 -> 14 -> 7 from a 224x224 input.
- Initialisation: He normal (the paper trained with DistBelief and states no initialisation).
- `googlenet-cifar` (32x32): the stem's downsampling (7x7 conv stride 2 and both max-pools: 224 -> 28) is removed,
  its layers are kept; inception 3 then runs at 32x32, 4 at 16x16 (so the auxiliary 5x5/3 pool gives the paper's
  4x4), 5 at 8x8, and the final average pool covers the 8x8 map. Expensive: about 1.5 GMACs per image.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplearn.models import ClassifierOutput, register_family
from deeplearn.vision.models.common import init_kaiming, lrn

PAPER = "Szegedy et al. 2014, Going Deeper with Convolutions (arXiv 1409.4842)"


class ConvReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1):
        super().__init__(nn.Conv2d(cin, cout, kernel_size, stride, padding=kernel_size // 2), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """Figure 2(b): four branches, concatenated along channels; the spatial size is kept."""

    def __init__(self, cin, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool_proj):
        super().__init__()
        self.branch1 = ConvReLU(cin, n1x1, 1)
        self.branch2 = nn.Sequential(ConvReLU(cin, n3x3red, 1), ConvReLU(n3x3red, n3x3, 3))
        self.branch3 = nn.Sequential(ConvReLU(cin, n5x5red, 1), ConvReLU(n5x5red, n5x5, 5))  # a true 5x5
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvReLU(cin, pool_proj, 1))
        self.out_channels = n1x1 + n3x3 + n5x5 + pool_proj

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class AuxClassifier(nn.Module):
    """Section 5: the side classifier on 4a / 4d."""

    def __init__(self, cin: int, num_classes: int):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)     # N x cin x 4 x 4 (from 14x14; 16x16 in the CIFAR variant)
        self.conv = ConvReLU(cin, 128, 1)         # N x 128 x 4 x 4
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)   # N x 1024
        self.drop = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)   # N x K

    def forward(self, x):
        x = self.conv(self.pool(x)).flatten(1)
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    aux_weight = 0.3  # Sec. 5: auxiliary losses are added to the total loss with weight 0.3

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, cifar: bool = False, dropout: float = 0.4,
                 aux_logits: bool = True):
        super().__init__()
        pool = (lambda: nn.Identity()) if cifar else (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True))
        # Sizes: ImageNet 224x224 input (CIFAR: every map up to inception 3 stays 32x32).
        self.conv1 = ConvReLU(in_channels, 64, 7, stride=1 if cifar else 2)  # N x 64 x 112 x 112
        self.pool1 = pool()                                              # N x 64 x 56 x 56
        self.norm1 = lrn()
        self.conv2 = ConvReLU(64, 64, 1)                                 # N x 64 x 56 x 56
        self.conv3 = ConvReLU(64, 192, 3)                                # N x 192 x 56 x 56
        self.norm2 = lrn()
        self.pool2 = pool()                                              # N x 192 x 28 x 28
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)       # N x 256 x 28 x 28
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)     # N x 480 x 28 x 28
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)           # N x 480 x 14 x 14
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)      # N x 512 x 14 x 14
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)     # N x 512 x 14 x 14
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)     # N x 512 x 14 x 14
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)     # N x 528 x 14 x 14
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)   # N x 832 x 14 x 14
        self.pool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)           # N x 832 x 7 x 7
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)   # N x 832 x 7 x 7
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)   # N x 1024 x 7 x 7
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # N x 1024 x 1 x 1 (the paper's 7x7 average pool; 8x8 for CIFAR)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)                           # N x K
        self.aux1 = AuxClassifier(512, num_classes) if aux_logits else None  # on 4a
        self.aux2 = AuxClassifier(528, num_classes) if aux_logits else None  # on 4d
        init_kaiming(self)

    def forward(self, x) -> ClassifierOutput:
        x = self.norm1(self.pool1(self.conv1(x)))
        x = self.pool2(self.norm2(self.conv3(self.conv2(x))))
        x = self.pool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = []
        if self.training and self.aux1 is not None:
            aux.append(self.aux1(x))
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        if self.training and self.aux2 is not None:
            aux.append(self.aux2(x))
        x = self.pool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        return ClassifierOutput(logits, tuple(aux))


register_family("googlenet", GoogLeNet, size=(224, 224), options={"dropout", "aux_logits"}, paper=PAPER,
                description="GoogLeNet / Inception-v1 (2014): true 5x5 branches, LRN, two auxiliary heads",
                cifar_description="GoogLeNet for 32x32: stem without downsampling, rest as the paper")
