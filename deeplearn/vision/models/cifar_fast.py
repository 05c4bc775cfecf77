"""A fast CIFAR-10 net in the style of airbench: K. Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU",
arXiv 2404.00498 (2024), Sections 3.1-3.3. Written from the paper and the hyperparameters its public
script lists (widths, BN momentum, 1/9 logit scale, whitening eps); no code was copied.

    input 3x32x32 (normalized)
    whiten   2x2 conv, 3 -> 24, no padding, frozen weights: the 12 eigenvectors of the training images' 2x2
             patch covariance, each scaled by 1/sqrt(eigenvalue + eps), and their negatives; GELU   -> 24x31x31
    block1   conv 3x3 24 -> 64, max-pool 2, BN, GELU, conv 3x3 64 -> 64, BN, GELU                  -> 64x15x15
    block2   the same, 64 -> 256                                                                      -> 256x7x7
    block3   the same, 256 -> 256                                                                     -> 256x3x3
    head     max-pool 3, linear 256 -> K (no bias), logits times 1/9

Batch norm (momentum 0.4 in torch's convention, i.e. airbench's 0.6) has its scale frozen at 1 and a bias whose
learning rate is 64x the others': the bias is stored divided by 8 and multiplied back in forward (for SGD,
scaling a parameter by c scales its effective learning rate by c^2). Every 3x3 convolution starts as a partial
identity (Dirac) on its first C_in filters, the rest PyTorch's default init. Convolutions have no bias (BN's
bias is the bias). Training-side ideas (label smoothing, warm-up + linear decay, Lookahead, flip + translate,
test-time flip) are options of the engine and of `deeplearn train`: see recipes/cifar10-fast.toml.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.models import check_input, check_options, register

PAPER = "Jordan 2024, 94% on CIFAR-10 in 3.29 Seconds on a Single GPU (arXiv 2404.00498), Sec. 3"
WIDTHS = (64, 256, 256)
WHITEN_EPS = 5e-4  # added to the eigenvalues before the 1/sqrt scaling (small eigenvalues stay bounded)


class ScaledBiasBatchNorm(nn.BatchNorm2d):
    """Batch norm with its scale frozen at 1 and its bias trained at `bias_scale**2` times the learning rate."""

    def __init__(self, channels: int, bias_scale: float = 8.0, momentum: float = 0.4):
        super().__init__(channels, momentum=momentum)
        self.bias_scale = bias_scale
        self.weight.requires_grad_(False)

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias * self.bias_scale,
                            self.training, self.momentum, self.eps)


class ConvGroup(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), ScaledBiasBatchNorm(cout),
                         nn.GELU(), nn.Conv2d(cout, cout, 3, padding=1, bias=False), ScaledBiasBatchNorm(cout),
                         nn.GELU())
        for conv in (self[0], self[4]):
            nn.init.dirac_(conv.weight.data[: conv.in_channels])  # identity on the first C_in filters


class CifarFast(nn.Module):
    data_init_samples = 5000  # training images whose 2x2 patches fix the whitening layer

    def __init__(self, num_classes: int = 10, channels: int = 3, widths=WIDTHS, scale: float = 1 / 9):
        super().__init__()
        self.whiten = nn.Conv2d(channels, 2 * 4 * channels, 2, padding=0, bias=True)  # 24 filters for RGB
        self.whiten.weight.requires_grad_(False)
        self.act = nn.GELU()
        ins = (self.whiten.out_channels, *widths[:-1])
        self.blocks = nn.Sequential(*(ConvGroup(cin, cout) for cin, cout in zip(ins, widths)))
        self.pool = nn.MaxPool2d(3)
        self.fc = nn.Linear(widths[-1], num_classes, bias=False)
        self.scale = scale

    def forward(self, x):  # N x C x 32 x 32
        x = self.blocks(self.act(self.whiten(x)))  # N x 256 x 3 x 3
        return self.fc(self.pool(x).flatten(1)) * self.scale  # N x K

    def init_from_data(self, x: torch.Tensor) -> None:
        """Patch-whitening init of the first layer from encoded training images x (N x C x H x W)."""
        w = whitening_filters(x, self.whiten.kernel_size[0], WHITEN_EPS)  # C*k*k x C x k x k
        self.whiten.weight.data.copy_(torch.cat([w, -w]).to(self.whiten.weight.dtype))


def patch_covariance(x: torch.Tensor, k: int) -> torch.Tensor:
    """Second moment (1/n) P^T P of all k x k patches (stride 1, no padding) of x, flattened in (c, i, j) order,
    the order of a convolution weight's last three dimensions. The inputs are normalized (mean ~ 0), so this is
    their covariance, as in airbench."""
    p = F.unfold(x.double(), k)  # N x (C*k*k) x L
    p = p.transpose(1, 2).reshape(-1, p.shape[1])  # (N*L) x (C*k*k)
    return p.T @ p / len(p)


def whitening_filters(x: torch.Tensor, k: int, eps: float) -> torch.Tensor:
    """C*k*k filters (C x k x k each), largest eigenvalue first: eigenvector v_i / sqrt(lambda_i + eps) of the
    patch covariance, so that a filter bank W gives W^T W = (Cov + eps I)^-1 and whitened outputs."""
    c = x.shape[1]
    evals, evecs = torch.linalg.eigh(patch_covariance(x, k))  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    w = evecs.T / torch.sqrt(evals.clamp_min(0) + eps)[:, None]  # row i: v_i / sqrt(lambda_i + eps)
    return w.reshape(-1, c, k, k).float()


@register("cifar-fast", "airbench-style CIFAR-10 net: 2x2 patch whitening, 3 conv groups 64-256-256 with BN, "
          "GELU (about 1.97M parameters)", input_size=(32, 32), channels=3, paper=PAPER)
def _cifar_fast(num_classes, input_shape, **opts):
    check_options("cifar-fast", opts, set())
    return CifarFast(num_classes, check_input("cifar-fast", input_shape, (32, 32)))
