"""LeNet-5: Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied to document recognition",
Proc. IEEE 86(11), 1998, Section II.B and Fig. 2. Input 32x32 (the 28x28 MNIST digit centred in a 32x32 field).

`lenet5` follows the paper layer by layer: C1 (6@28x28) - S2 (6@14x14) - C3 (16@10x10, the partial connection
table of Table I) - S4 (16@5x5) - C5 (120) - F6 (84) - output, every layer up to F6 squashed by the paper's scaled
tanh f(a) = 1.7159 tanh(2a/3) (Appendix A); S2/S4 sum each 2x2 block, multiply by a trainable coefficient and add
a trainable bias per map; weights start uniform in +-2.4/fan-in (Appendix C). C1..F6 have the paper's 60,000
trainable parameters exactly (156 + 12 + 1,516 + 32 + 48,120 + 10,164).

Deliberate deviations:
- Output: the paper's Euclidean RBF units with fixed, hand-chosen +-1 codes (7x12 bitmaps) and its MAP-style loss
  are replaced by a trainable linear layer whose logits go to softmax cross-entropy (the engine's loss); this adds
  84*K + K parameters (850 for 10 classes).
- Input channels follow the data (C1 sees C channels); biases start at zero (the paper does not say).

`lenet5-modern` keeps the layer sizes and swaps in today's parts: ReLU, 2x2 max-pool, full C3 connections,
PyTorch's default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplearn.models import register
from deeplearn.vision.models.common import check_input, check_options

PAPER = "LeCun, Bottou, Bengio, Haffner 1998, Gradient-based learning applied to document recognition"

# Table I: which S2 maps (rows 0-5) each C3 map (0-15) reads. Maps 0-5: three contiguous maps; 6-11: four contiguous;
# 12-14: four non-contiguous; 15: all six.
C3_TABLE = (
    [[i % 6, (i + 1) % 6, (i + 2) % 6] for i in range(6)]
    + [[i % 6, (i + 1) % 6, (i + 2) % 6, (i + 3) % 6] for i in range(6)]
    + [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    + [[0, 1, 2, 3, 4, 5]]
)


class ScaledTanh(nn.Module):
    """f(a) = A tanh(S a) with A = 1.7159, S = 2/3 (Appendix A): f(1) = 1, f(-1) = -1."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4: sum of each non-overlapping 2x2 block, times a trainable coefficient, plus a trainable bias, per map."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        s = nn.functional.avg_pool2d(x, 2) * 4  # the 2x2 sum
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PartialConv(nn.Module):
    """C3: each output map convolves only the input maps its Table I row lists (1,516 parameters, not 2,416).

    The maps that read 3 inputs, those that read 4, and the one that reads all 6 are three grouped convolutions over
    input channels gathered in table order, so no weight is ever masked out.
    """

    def __init__(self, table=C3_TABLE, kernel_size: int = 5):
        super().__init__()
        sizes = [len(row) for row in table]
        # Table I is ordered by fan-in (6 x 3, 9 x 4, 1 x 6), so concatenating the groups keeps the map order.
        assert sizes == sorted(sizes)
        self.groups = nn.ModuleList()
        for k in sorted(set(sizes)):
            rows = [row for row in table if len(row) == k]
            self.register_buffer(f"index{k}", torch.tensor([c for row in rows for c in row]), persistent=False)
            self.groups.append(nn.Conv2d(k * len(rows), len(rows), kernel_size, groups=len(rows)))
        self.fan_ins = sorted(set(sizes))

    def forward(self, x):
        outs = [conv(x[:, getattr(self, f"index{k}")]) for k, conv in zip(self.fan_ins, self.groups)]
        return torch.cat(outs, dim=1)


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 6, 5)  # N x 6 x 28 x 28
        self.s2 = Subsampling(6)                # N x 6 x 14 x 14
        self.c3 = PartialConv()                 # N x 16 x 10 x 10
        self.s4 = Subsampling(16)               # N x 16 x 5 x 5
        self.c5 = nn.Conv2d(16, 120, 5)         # N x 120 x 1 x 1 (a convolution: on a larger input it would slide)
        self.f6 = nn.Linear(120, 84)            # N x 84
        self.output = nn.Linear(84, num_classes)  # N x K (the paper's RBF layer, see the module docstring)
        self.act = ScaledTanh()
        self._init_paper()

    def _init_paper(self):
        # Appendix C: uniform in [-2.4/F, 2.4/F], F the fan-in of the unit (for S2/S4: the 4 inputs of the 2x2 sum).
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                nn.init.uniform_(m.weight, -2.4 / fan_in, 2.4 / fan_in)
                nn.init.zeros_(m.bias)
            elif isinstance(m, Subsampling):
                nn.init.uniform_(m.weight, -2.4 / 4, 2.4 / 4)

    def forward(self, x):                   # N x C x 32 x 32
        x = self.act(self.c1(x))            # N x 6 x 28 x 28
        x = self.act(self.s2(x))            # N x 6 x 14 x 14
        x = self.act(self.c3(x))            # N x 16 x 10 x 10
        x = self.act(self.s4(x))            # N x 16 x 5 x 5
        x = self.act(self.c5(x)).flatten(1)  # N x 120
        x = self.act(self.f6(x))            # N x 84
        return self.output(x)               # N x K


class LeNet5Modern(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 6, 5)  # N x 6 x 28 x 28
        self.c3 = nn.Conv2d(6, 16, 5)           # N x 16 x 10 x 10
        self.c5 = nn.Conv2d(16, 120, 5)         # N x 120 x 1 x 1
        self.f6 = nn.Linear(120, 84)            # N x 84
        self.output = nn.Linear(84, num_classes)  # N x K

    def forward(self, x):                                  # N x C x 32 x 32
        x = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)  # N x 6 x 14 x 14
        x = nn.functional.max_pool2d(torch.relu(self.c3(x)), 2)  # N x 16 x 5 x 5
        x = torch.relu(self.c5(x)).flatten(1)              # N x 120
        x = torch.relu(self.f6(x))                         # N x 84
        return self.output(x)                              # N x K


@register("lenet5", "LeNet-5 as in the paper: scaled tanh, trainable subsampling, C3 connection table",
          input_size=(32, 32), channels=1, paper=PAPER)
def build_lenet5(num_classes: int, input_shape, **options) -> nn.Module:
    check_options("lenet5", options, set())
    return LeNet5(num_classes, check_input("lenet5", input_shape, (32, 32)))


@register("lenet5-modern", "LeNet-5 layer sizes with ReLU, max-pool and full C3 connections",
          input_size=(32, 32), channels=1, paper=PAPER)
def build_lenet5_modern(num_classes: int, input_shape, **options) -> nn.Module:
    check_options("lenet5-modern", options, set())
    return LeNet5Modern(num_classes, check_input("lenet5-modern", input_shape, (32, 32)))

