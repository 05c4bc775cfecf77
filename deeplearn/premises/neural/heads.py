"""Classifier heads: combine a conjecture embedding and a premise embedding into one usefulness logit."""

from __future__ import annotations

import torch
from torch import nn

from deeplearn.registry import Registry

HEADS: Registry[type] = Registry("head")


def register(name: str):
    return HEADS.register(name)


@register("concat")
class ConcatHead(nn.Module):
    """DeepMath's head: concatenation -> ReLU fully connected layer -> logit."""

    def __init__(self, conj_dim: int, prem_dim: int, hidden: int = 64):
        super().__init__()
        self.fc = nn.Linear(conj_dim + prem_dim, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.fc(torch.cat([c, p], dim=-1)))).squeeze(-1)


@register("dot")
class DotHead(nn.Module):
    """Dot product of linear projections (plus a bias): ranking is then one matrix-vector product."""

    def __init__(self, conj_dim: int, prem_dim: int, hidden: int = 64):
        super().__init__()
        self.c, self.p = nn.Linear(conj_dim, hidden), nn.Linear(prem_dim, hidden)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return (self.c(c) * self.p(p)).sum(-1) + self.bias


@register("interact")
class InteractHead(nn.Module):
    """The sentence-pair head of Mou et al. (ACL 2016) and Conneau et al. (InferSent, EMNLP 2017): ReLU-FC over
    [c, p, c * p, |c - p|] -> logit. The product and difference let it read feature agreement (e.g. a symbol both
    formulas contain) directly, which a layer over [c, p] alone must learn dimension by dimension."""

    def __init__(self, conj_dim: int, prem_dim: int, hidden: int = 64):
        super().__init__()
        if conj_dim != prem_dim:
            raise ValueError(f"the interact head needs equal embedding sizes, got {conj_dim} and {prem_dim}")
        self.fc = nn.Linear(4 * conj_dim, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        c = c.expand_as(p)
        return self.out(torch.relu(self.fc(torch.cat([c, p, c * p, (c - p).abs()], dim=-1)))).squeeze(-1)
