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

from deeplearn.engine.runtime import cpu_has_native_bf16


class _SelfProduct(torch.autograd.Function):
    """x x^T (N x C x M -> N x C x C) whose backward is one matmul, (g + g^T) x, instead of autograd's
    two (the Grams of the wide expansion layers are a good part of a transfer step). With dtype bfloat16 both
    products take bfloat16 inputs (accumulated in float32 by oneDNN): on a CPU with AVX512-BF16 or AMX that is
    4-8x faster than float32 (docs/style.md, "Speed"); one 2-D product per image, since a batched bfloat16
    product is not the fast path."""

    @staticmethod
    def forward(ctx, x, dtype):
        xl = x if dtype is None else x.to(dtype)
        ctx.save_for_backward(xl)
        if len(xl) == 1:                                   # (a transfer: no stack, which would copy)
            return (xl[0] @ xl[0].T)[None].to(x.dtype)
        return torch.stack([xi @ xi.T for xi in xl]).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (xl,) = ctx.saved_tensors
        gs = (g + g.transpose(1, 2)).to(xl.dtype)
        if len(xl) == 1:
            return (gs[0] @ xl[0])[None].to(g.dtype), None
        return torch.stack([gi @ xi for gi, xi in zip(gs, xl)]).to(g.dtype), None


_BF16_CPU = cpu_has_native_bf16()


def gram_dtype(precision: str) -> torch.dtype:
    """The input dtype of the Gram products: "float32", "bfloat16", or "auto" (bfloat16 where the CPU multiplies
    it natively: AVX512-BF16 or AMX; float32 elsewhere, where bfloat16 is emulated and slower)."""
    if precision == "auto":
        return torch.bfloat16 if _BF16_CPU else torch.float32
    if precision in ("float32", "bfloat16"):
        return getattr(torch, precision)
    raise ValueError(f"unknown Gram precision {precision!r}: auto, float32 or bfloat16")


def gram(f: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Gram matrix of features f (N x C x H x W) -> N x C x C (f's dtype), normalized by C H W; dtype: the input
    dtype of the products (gram_dtype; None: f's own)."""
    n, c, h, w = f.shape
    return _SelfProduct.apply(f.reshape(n, c, h * w), dtype) / (c * h * w)


def relative_sq(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target||^2 / ||target||^2 (a scalar; batch summed)."""
    return (x - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def content_loss(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared distance of features f to the content features (same shape)."""
    return relative_sq(f, target)


def style_loss(f: torch.Tensor, target_gram: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Relative squared distance of gram(f, dtype) to a target Gram matrix (C x C or N x C x C)."""
    return relative_sq(gram(f, dtype), target_gram.expand(f.shape[0], -1, -1))


class _TotalVariation(torch.autograd.Function):
    """mean(dv^2) + mean(dh^2) of the vertical and horizontal differences, with a hand-written backward (five
    passes over the image instead of autograd's slice backwards: 1.3 ms instead of 12 ms for a 512-px image)."""

    @staticmethod
    def forward(ctx, x):
        dv = x[..., 1:, :] - x[..., :-1, :]
        dh = x[..., :, 1:] - x[..., :, :-1]
        ctx.save_for_backward(dv, dh)
        ctx.shape = x.shape
        return torch.linalg.vector_norm(dv).square() / dv.numel() + torch.linalg.vector_norm(dh).square() / dh.numel()

    @staticmethod
    def backward(ctx, go):
        dv, dh = ctx.saved_tensors
        dv, dh = dv * (2 * go / dv.numel()), dh * (2 * go / dh.numel())
        g = torch.zeros(ctx.shape, dtype=dv.dtype)
        g[..., 1:, :] += dv
        g[..., :-1, :] -= dv
        g[..., :, 1:] += dh
        g[..., :, :-1] -= dh
        return g


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertically and horizontally neighbouring pixels of x (N x C x H x W)."""
    return _TotalVariation.apply(x)


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
