"""Pixel optimization shared by Gatys transfer and doodles: L-BFGS (one loss evaluation per step, no line search)
or Adam on an image tensor, with a progress bar and the loss of every step.

The L-BFGS here is the algorithm of `torch.optim.LBFGS` without a line search (same first step, same history
update and skip rule, same stopping tests), but its direction H g is computed from the compact representation of
the inverse Hessian approximation (Byrd, Nocedal and Schnabel 1994, "Representations of quasi-Newton matrices and
their use in limited memory methods", Theorem 2.2) instead of the two-loop recursion: the m stored pairs (s, y)
live in one preallocated [m, 2, N] buffer, and each step is two matrix-vector products with that buffer (the inner
products the small m x m matrices need; the direction), plus O(N) and O(m^2) work.
The two-loop recursion makes 4m vector operations of length N per step, each a separate pass over memory, and
allocates new vectors every step; at 512 px (N = 786,432) that vector work was a sizeable part of a step.
"""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

ADAM_LR = 0.02  # in [0, 1] pixel units
HISTORY = 20    # L-BFGS pairs kept (docs/style.md, "Optimizers": quality against history size)
STORE = None    # the dtype of the stored pairs; None: the image's (bfloat16: slower at 2 threads, see below)


class CompactLBFGS:
    """The L-BFGS direction -H g from the last `history` pairs s = x' - x, y = g' - g (float32 vectors of length
    n; the small matrices in float64).

    Each step passes over the stored pairs twice: one matrix-vector product with the new y (which gives the new
    column of S^T Y and Y^T Y, and updates S^T g and Y^T g by S^T g' = S^T g + S^T y), and one for the direction.
    (One product of the pairs with [g, y] together would read them once but is several times slower in MKL than
    a matrix-vector product here.)

    With store=bfloat16 (not the default) the pairs are kept in bfloat16 and both passes are bfloat16 products
    (torch.mm: oneDNN, float32 accumulation, bfloat16 results): they read half the bytes, 4.7 + 6.3 ms instead of
    8.3 + 9.6 ms for 20 pairs at 512 px on 1 thread of the AMD EPYC (a bfloat16 torch.mv is the slow path, 22 ms),
    with the transfer's quality unchanged; but at 2 threads a whole step got slower (Lite2: 132-134 ms against
    118-121 ms with float32 pairs), so float32 stays the default (docs/style.md, "Speed")."""

    def __init__(self, n: int, history: int = HISTORY, dtype=torch.float32, store: torch.dtype | None = None):
        self.m = history
        self.store = dtype if store is None else store                 # the pairs' dtype (bfloat16: see below)
        self.pairs = torch.empty(history, 2, n, dtype=self.store)     # [slot, (s, y), n]
        self.low = torch.empty(n, dtype=self.store) if self.store != dtype else None  # y in the pairs' dtype
        self.y = torch.empty(n, dtype=dtype)
        self.d = torch.empty(n, dtype=dtype)                   # the direction (returned, reused: no new memory)
        self.sy = torch.zeros(history, history, dtype=torch.float64)  # sy[i, j] = s_i . y_j (slots; i older)
        self.yy = torch.zeros(history, history, dtype=torch.float64)  # yy[i, j] = y_i . y_j
        self.dg = torch.zeros(history, 2, dtype=torch.float64)        # [slot, (s . g, y . g)] for the latest g
        self.order: list[int] = []                                     # slots, oldest first
        self.gamma = 1.0                                               # H0 = gamma I: s.y / y.y of the newest

    def direction(self, g: torch.Tensor, g_prev: torch.Tensor | None = None,
                  s: torch.Tensor | None = None) -> torch.Tensor:
        """-H g after adding the pair (s, g - g_prev) if s.y > 1e-10 (torch.optim.LBFGS's rule). g, g_prev, s:
        flat vectors (the first call: g only; s may be the last direction returned). Returns the direction in a
        buffer that the next call overwrites."""
        used = len(self.order)
        if s is not None:
            y = torch.sub(g, g_prev, out=self.y)
            if used:
                p = self._products(used, y)
                self.dg[:used] += p                                    # (s_i . g, y_i . g) for the new g
            ys = float(torch.dot(y, s))
            if ys > 1e-10:
                slot = self.order.pop(0) if used == self.m else used
                if used:
                    self.sy[:used, slot] = p[:, 0]
                    self.yy[:used, slot] = self.yy[slot, :used] = p[:, 1]
                yy = float(torch.dot(y, y))
                self.sy[slot, slot], self.yy[slot, slot], self.gamma = ys, yy, ys / yy
                self.dg[slot, 0], self.dg[slot, 1] = float(torch.dot(s, g)), float(torch.dot(y, g))
                self.pairs[slot, 0].copy_(s)
                self.pairs[slot, 1].copy_(y)
                self.order.append(slot)
        k = len(self.order)
        if k == 0:
            return torch.neg(g, out=self.d)
        idx = torch.tensor(self.order)
        sy, yy = self.sy[idx][:, idx], self.yy[idx][:, idx]
        u, v = self.dg[idx, 0], self.dg[idx, 1]                        # S^T g, Y^T g (oldest first)
        gam = self.gamma
        r = torch.triu(sy)                                             # R: s_i . y_j for i <= j
        a = torch.linalg.solve_triangular(r, u[:, None], upper=True)[:, 0]           # R^-1 S^T g
        b = torch.diagonal(sy) * a + gam * (yy @ a) - gam * v
        p = torch.linalg.solve_triangular(r.T, b[:, None], upper=False)[:, 0]         # R^-T (D + gam Y^T Y) a ...
        coef = torch.zeros(k, 2, dtype=torch.float64)
        coef[idx, 0], coef[idx, 1] = p, -gam * a
        # H g = gam g + S p - gam Y R^-1 S^T g; the direction is its negative
        flat = self.pairs[:k].view(2 * k, -1)
        if self.low is None:
            return torch.addmv(g, flat.T, coef.view(-1).to(g.dtype), beta=-gam, alpha=-1.0, out=self.d)
        comb = torch.mm(coef.view(1, -1).to(self.store), flat)[0]     # S p - gam Y R^-1 S^T g (bfloat16)
        return torch.mul(g, -gam, out=self.d).sub_(comb)

    def _products(self, used: int, y: torch.Tensor) -> torch.Tensor:
        """[(s_i . y, y_i . y)] for the `used` slots, float64 (used x 2)."""
        flat = self.pairs[:used].view(2 * used, -1)
        if self.low is None:
            return torch.mv(flat, y).double().view(used, 2)
        return torch.mm(flat, self.low.copy_(y)[:, None]).double().view(used, 2)


def _max_abs(v: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(v, float("inf")))    # max |v| without an |v| tensor


def lbfgs(x: torch.Tensor, closure: Callable[[], torch.Tensor], steps: int, lr: float = 1.0,
          history: int = HISTORY, tolerance_grad: float = 1e-9, tolerance_change: float = 1e-12,
          store: torch.dtype | None = None) -> None:
    """torch.optim.LBFGS(max_iter=max_eval=steps, line_search_fn=None) on the leaf x, with the compact
    direction. closure() evaluates the loss and leaves its gradient in x.grad."""
    flat_x = x.data.view(-1)
    loss = float(closure().detach())
    g = x.grad.reshape(-1)
    if _max_abs(g) <= tolerance_grad:
        return
    opt = CompactLBFGS(flat_x.numel(), history, x.dtype, store if store is not None else STORE)
    d = opt.direction(g, None, None)
    t = min(1.0, 1.0 / float(g.abs().sum())) * lr
    for n_iter in range(1, steps + 1):
        if n_iter > 1:
            d = opt.direction(g, g_prev, d if t == 1.0 else d.mul_(t))  # d * t is the last step s
            t = lr
        if float(torch.dot(g, d)) > -tolerance_change:
            break
        g_prev, prev_loss = g, loss                              # the next backward makes a new x.grad
        flat_x.add_(d, alpha=t)
        if n_iter == steps:
            break
        loss = float(closure().detach())
        g = x.grad.reshape(-1)
        if 1 + n_iter >= steps or _max_abs(g) <= tolerance_grad or _max_abs(d) * t <= tolerance_change \
                or abs(loss - prev_loss) < tolerance_change:
            break                                                # (torch: evaluations reach max_eval = steps)


def optimize(x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, method: str = "lbfgs",
             lr: float | None = None, progress: bool = True, desc: str = "style",
             history: int = HISTORY) -> list[float]:
    """Minimize loss_fn(x) over the pixels x (any shape; changed in place) for `steps` loss evaluations.

    Args:
        x: the starting image (leaf tensor; requires_grad is set here).
        loss_fn: image -> scalar loss.
        steps: loss + gradient evaluations (L-BFGS: `steps` iterations of step 1 and no line search, as
            neural-style; a strong-Wolfe search gave the same loss at 60 steps and can overrun the budget).
        method: "lbfgs" (compact L-BFGS, `lbfgs` above), "torch-lbfgs" (torch.optim.LBFGS, the same algorithm
            by the two-loop recursion: for comparison) or "adam".
        lr: step size (L-BFGS 1.0, Adam ADAM_LR by default).
        progress: show a tqdm bar.
        history: L-BFGS pairs kept.
    Returns:
        the loss at each evaluation.
    """
    x.requires_grad_(True)
    losses: list[float] = []
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False)

    def closure():
        x.grad = None
        loss = loss_fn(x)
        loss.backward()
        losses.append(float(loss.detach()))
        bar.update()
        bar.set_postfix(loss=f"{losses[-1]:.4g}", refresh=False)
        return loss

    if method == "lbfgs":
        lbfgs(x, closure, steps, lr or 1.0, history)
    elif method == "torch-lbfgs":
        opt = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=steps, max_eval=steps, history_size=history,
                                tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn=None)
        opt.step(closure)
    elif method == "adam":
        opt = torch.optim.Adam([x], lr=lr or ADAM_LR)
        for _ in range(steps):
            opt.step(closure)
    else:
        raise ValueError(f"unknown optimizer {method!r}: lbfgs, torch-lbfgs or adam")
    bar.close()
    x.requires_grad_(False)
    return losses
