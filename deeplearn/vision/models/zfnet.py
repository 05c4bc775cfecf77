"""ZFNet: M. D. Zeiler, R. Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014
(arXiv 1311.2901), Figure 3 and Section 4.1: AlexNet changed after looking at its filters.

Changes from AlexNet, all from the paper: a 7x7 stride-2 first layer instead of 11x11 stride 4 (fewer dead and
aliased first-layer filters, Sec. 4.1); a stride-2 second layer; dense connections everywhere (one GPU, so no
grouped convolutions); each of layers 1 and 2 is conv -> ReLU -> 3x3 stride-2 max-pool -> contrast normalization
across feature maps (Fig. 3 caption). Widths 96-256-384-384-256, then 4096-4096 with dropout 0.5 (Sec. 3). Maps:
110 -> 55 -> 26 -> 13 -> 6 (Fig. 3); ceil-mode pooling (as in Caffe) gives these sizes exactly from 224x224.

Deliberate deviations:
- "Contrast normalization across feature maps" is AlexNet's local response normalization with AlexNet's constants;
  the ZF paper gives none.
- The paper renormalizes each conv filter whose RMS exceeds 0.1 back to 0.1 during training (Sec. 3);
  that is a training-loop constraint and is not done here. Initialisation as `alexnet` (He normal; `init="paper"`:
  weights N(0, 0.01), biases 0, Sec. 3; `init="small-stem"`: He normal, N(0, 0.01) in conv1 only).
- `zfnet-cifar` (32x32): the stem's downsampling (conv1 stride 2 and pool1: 224 -> 55) is removed, conv1 keeps
  its 7x7 kernels; conv2 onwards is the paper's, giving 14 -> 7 -> 3 and 256 x 3 x 3 = 2,304 features before fc6.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from deeplearn.models import register_family
from deeplearn.vision.models.common import init_weights, lrn

PAPER = "Zeiler, Fergus 2013, Visualizing and Understanding Convolutional Networks (arXiv 1311.2901)"


class ZFNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, cifar: bool = False, dropout: float = 0.5,
                 init: str = "kaiming"):
        super().__init__()
        side = 3 if cifar else 6
        if cifar:
            stem = [("conv1", nn.Conv2d(in_channels, 96, 7, padding=3)),       # N x 96 x 32 x 32
                    ("relu1", nn.ReLU(inplace=True)),
                    ("norm1", lrn())]
        else:
            stem = [("conv1", nn.Conv2d(in_channels, 96, 7, stride=2, padding=1)),  # N x 96 x 110 x 110
                    ("relu1", nn.ReLU(inplace=True)),
                    ("pool1", nn.MaxPool2d(3, stride=2, ceil_mode=True)),        # N x 96 x 55 x 55
                    ("norm1", lrn())]
        # Sizes below: ImageNet (CIFAR: 14 after conv2, 7 after pool2, 3 after pool5).
        self.features = nn.Sequential(OrderedDict(stem + [
            ("conv2", nn.Conv2d(96, 256, 5, stride=2)),                # N x 256 x 26 x 26
            ("relu2", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(3, stride=2, ceil_mode=True)),      # N x 256 x 13 x 13
            ("norm2", lrn()),
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)),              # N x 384 x 13 x 13
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1)),              # N x 384 x 13 x 13
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1)),              # N x 256 x 13 x 13
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(3, stride=2, ceil_mode=True)),      # N x 256 x 6 x 6
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc6", nn.Linear(256 * side * side, 4096)),               # N x 4096
            ("relu6", nn.ReLU(inplace=True)),
            ("drop6", nn.Dropout(dropout)),
            ("fc7", nn.Linear(4096, 4096)),                            # N x 4096
            ("relu7", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(dropout)),
            ("fc8", nn.Linear(4096, num_classes)),                     # N x K
        ]))
        init_weights(self, init, _paper_init)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def _paper_init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.01)  # Sec. 3: "weights initialized to 10^-2, biases to 0" (read: std)
            nn.init.zeros_(m.bias)


register_family("zfnet", ZFNet, size=(224, 224), options={"dropout", "init"}, paper=PAPER,
                description="Zeiler-Fergus net: 7x7/2 first layer, stride-2 conv2, dense connections",
                cifar_description="Zeiler-Fergus net for 32x32: conv1 stride 1, no pool1, rest as the paper")
