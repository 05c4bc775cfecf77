"""The classical feed-forward network of the lecture: x -> act(W_1 x + b_1) -> ... -> W_n h + b_n (logits).

Initialization suits the activation: He (Kaiming) for ReLU, which keeps the activations' variance through the
layers (He et al. 2015); Glorot (Xavier) for tanh, with tanh's gain 5/3, and for the sigmoid (Glorot and Bengio
2010). Biases start at zero.
"""

from __future__ import annotations

import math

from torch import nn

from deeplearn.models import register

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: list[int], num_classes: int, activation: str = "relu",
                 dropout: float = 0.0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        layers: list[nn.Module] = [nn.Flatten()]  # N x C x H x W -> N x (C*H*W)
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))  # logits; the softmax is inside the cross-entropy loss
        self.net = nn.Sequential(*layers)
        self.activation = activation
        self.reset_parameters()

    def reset_parameters(self) -> None:
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        for i, m in enumerate(linears):
            if i == len(linears) - 1:
                nn.init.xavier_uniform_(m.weight)  # the output layer has no nonlinearity after it
            elif self.activation == "relu":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain(self.activation))
            nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


@register("mlp", "classical feed-forward net (--hidden, --activation relu|tanh|sigmoid, --dropout)",
          paper="Rumelhart, Hinton and Williams 1986")
def build_mlp(num_classes: int, input_shape: tuple[int, int, int], hidden=(256, 256), activation: str = "relu",
              dropout: float = 0.0) -> MLP:
    return MLP(math.prod(input_shape), list(hidden), num_classes, activation, dropout)
