"""Pixel optimization shared by Gatys transfer and doodles: L-BFGS (torch.optim.LBFGS, one loss evaluation per
step) or Adam on an image tensor, with a progress bar and the loss of every step."""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

ADAM_LR = 0.02  # in [0, 1] pixel units
LINE_SEARCH = None


def optimize(x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor], steps: int, method: str = "lbfgs",
             lr: float | None = None, progress: bool = True, desc: str = "style") -> list[float]:
    """Minimize loss_fn(x) over the pixels x (any shape; changed in place) for `steps` loss evaluations.

    Args:
        x: the starting image (leaf tensor; requires_grad is set here).
        loss_fn: image -> scalar loss.
        steps: loss + gradient evaluations (L-BFGS: max_iter = max_eval = steps, step 1 and no line search,
            as neural-style; a strong-Wolfe search gave the same loss at 60 steps and can overrun the budget).
        method: "lbfgs" or "adam".
        lr: step size (L-BFGS 1.0, Adam ADAM_LR by default).
        progress: show a tqdm bar.
    Returns:
        the loss at each evaluation.
    """
    x.requires_grad_(True)
    history: list[float] = []
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(x)
        loss.backward()
        history.append(float(loss.detach()))
        bar.update()
        bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
        return loss

    if method == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=steps, max_eval=steps, history_size=50,
                                tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn=LINE_SEARCH)
        opt.step(closure)
    elif method == "adam":
        opt = torch.optim.Adam([x], lr=lr or ADAM_LR)
        for _ in range(steps):
            opt.step(closure)
    else:
        raise ValueError(f"unknown optimizer {method!r}: lbfgs or adam")
    bar.close()
    x.requires_grad_(False)
    return history
