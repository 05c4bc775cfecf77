"""The losses of neural style transfer, on feature maps (N x C x H x W) of a `FeatureNet`.

- content (Gatys, Ecker, Bethge 2015): squared distance of the features to the content image's;
- style: squared distance of the Gram matrices G = F F^T / (C H W) to the style image's;
- total variation: squared differences of neighbouring pixels;
- patch ("MRF", Li and Wand 2016): each 3x3 patch of the features is matched to its nearest style patch by
  normalized cross-correlation and pulled towards it.
Content and style distances are relative (divided by the squared norm of the target), so the same weights work
for nets whose activations have different scales, and a distance means the same in any net that scores it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _SelfProduct(torch.autograd.Function):
    """x x^T (N x C x M -> N x C x C) whose backward is one matmul, (g + g^T) x, instead of autograd's two (the
    Grams of the wide expansion layers are a good part of a transfer step)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x @ x.transpose(1, 2)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g + g.transpose(1, 2)) @ x


def gram(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix of features f (N x C x H x W) -> N x C x C, normalized by C H W."""
    n, c, h, w = f.shape
    return _SelfProduct.apply(f.reshape(n, c, h * w)) / (c * h * w)


def relative_sq(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target||^2 / ||target||^2 (a scalar; batch summed)."""
    return (x - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def content_loss(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared distance of features f to the content features (same shape)."""
    return relative_sq(f, target)


def style_loss(f: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Relative squared distance of gram(f) to a target Gram matrix (C x C or N x C x C)."""
    return relative_sq(gram(f), target_gram.expand(f.shape[0], -1, -1))


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertically and horizontally neighbouring pixels of x (N x C x H x W)."""
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()


def patches(f: torch.Tensor, size: int = 3, stride: int = 1) -> torch.Tensor:
    """All size x size patches of f (1 x C x H x W) -> P x (C size size), row-major over positions."""
    return F.unfold(f, size, stride=stride)[0].T


def nearest_patches(query: torch.Tensor, bank: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """For each row of `query` (Q x D), the index of the row of `bank` (P x D) with the largest normalized
    cross-correlation (cosine similarity), computed in chunks of `chunk` bank rows so that memory stays
    Q x chunk.

    Returns:
        LongTensor of Q indices into `bank`.
    """
    q = F.normalize(query, dim=1)
    best = torch.full((q.shape[0],), -float("inf"))
    index = torch.zeros(q.shape[0], dtype=torch.long)
    for start in range(0, bank.shape[0], chunk):
        b = F.normalize(bank[start:start + chunk], dim=1)
        score, i = (q @ b.T).max(1)                       # Q
        better = score > best
        best = torch.where(better, score, best)
        index = torch.where(better, i + start, index)
    return index


def patch_loss(f: torch.Tensor, style_patches: torch.Tensor, match: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of f's 3x3 patches (1 x C x H x W) to their matched style patches
    (`style_patches[match]`, P x (C 9)), relative to the style patches' mean squared norm."""
    p = patches(f)                                        # Q x C*9
    target = style_patches[match]
    return (p - target).pow(2).sum(1).mean() / style_patches.pow(2).sum(1).mean().clamp_min(1e-12)
