"""AlexNet: A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012, Section 3 and Figure 2 (the 2012 net, not torchvision's 64-192-384-256-256 2014 variant).

Five convolutions of 96-256-384-384-256 kernels, ReLU, local response normalization after conv1 and conv2
(Sec. 3.3: k=2, n=5, alpha=1e-4, beta=0.75), overlapping 3x3 stride-2 max-pooling (Sec. 3.4) after conv1, conv2
and conv5, two 4096-unit fully connected layers with dropout 0.5 (Sec. 4.2), ~61M parameters ("60 million", Sec. 4).
The two-GPU split is grouped convolution: conv2, conv4 and conv5 only see the kernel maps of their own GPU
(groups=2); conv1, conv3 and the fully connected layers see everything (Sec. 3.2, Fig. 2).

Deliberate deviations:
- Input 227x227: the paper says 224, but 11x11 stride-4 kernels give the stated 55x55 maps only from 227.
- Initialisation: He normal by default; the paper's (weights N(0, 0.01), biases 1 in conv2, conv4, conv5, fc6, fc7,
  0 elsewhere, Sec. 5) with `init="paper"` - it trains from scratch only slowly, without the paper's 90 epochs;
  `init="small-stem"`: He normal with the paper's N(0, 0.01) in conv1 only (readable filters after a short run).
- `alexnet-cifar` (32x32): the stem's downsampling is removed, i.e. conv1 keeps its 11x11 kernels but has stride 1
  ("same" padding), so the second stage sees 32x32 maps where the paper has 55x55; everything after is the paper's,
  ending in 256 x 3 x 3 = 2,304 features (9,216 in the paper) before fc6.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from deeplearn.vision.models.common import init_weights, lrn
from deeplearn.models import register_family

PAPER = "Krizhevsky, Sutskever, Hinton 2012, ImageNet Classification with Deep Convolutional Neural Networks"


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, cifar: bool = False, dropout: float = 0.5,
                 init: str = "kaiming"):
        super().__init__()
        side = 3 if cifar else 6  # spatial size after pool5
        # Comments give ImageNet sizes (227x227 input); CIFAR: 32 after conv1, 15 after pool1, 7 after pool2, 3 after pool5.
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, 11, stride=1 if cifar else 4, padding=5 if cifar else 0)),
            ("relu1", nn.ReLU(inplace=True)),                           # N x 96 x 55 x 55
            ("norm1", lrn()),
            ("pool1", nn.MaxPool2d(3, stride=2)),                       # N x 96 x 27 x 27
            ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)),      # N x 256 x 27 x 27
            ("relu2", nn.ReLU(inplace=True)),
            ("norm2", lrn()),
            ("pool2", nn.MaxPool2d(3, stride=2)),                       # N x 256 x 13 x 13
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)),               # N x 384 x 13 x 13 (crosses the GPUs)
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=2)),     # N x 384 x 13 x 13
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)),     # N x 256 x 13 x 13
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(3, stride=2)),                       # N x 256 x 6 x 6
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc6", nn.Linear(256 * side * side, 4096)),                # N x 4096
            ("relu6", nn.ReLU(inplace=True)),
            ("drop6", nn.Dropout(dropout)),  # Sec. 4.2: zero each hidden neuron's output with probability 0.5
            ("fc7", nn.Linear(4096, 4096)),                             # N x 4096
            ("relu7", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(dropout)),
            ("fc8", nn.Linear(4096, num_classes)),                      # N x K
        ]))
        init_weights(self, init, _paper_init)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def _paper_init(model: nn.Module) -> None:
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.01)
            ones = name.split(".")[-1] in ("conv2", "conv4", "conv5", "fc6", "fc7")
            nn.init.constant_(m.bias, 1.0 if ones else 0.0)  # bias 1 feeds ReLUs positive inputs early


register_family("alexnet", AlexNet, size=(227, 227), options={"dropout", "init"}, paper=PAPER,
                description="AlexNet (2012): LRN, overlapping pooling, dropout, GPU split as grouped convs",
                cifar_description="AlexNet for 32x32: conv1 stride 1, rest as the paper")
