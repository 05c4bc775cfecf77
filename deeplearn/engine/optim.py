"""Optimizers (torch.optim) and learning-rate plans.

A plan is laid over steps (torch's schedulers, stepped once per update) when the run has a step or epoch
budget, or over training time (progress = train time / --max-time) when the budget is time alone: then the
schedule ends when the budget ends, however fast the machine turns out to be."""

from __future__ import annotations

import math

import torch
from torch.optim import lr_scheduler

from deeplearn.engine.config import TrainConfig


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and normalization parameters (1-D tensors), as is usual."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, c: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, c.weight_decay)
    if c.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0)
    if c.optimizer == "adam":
        return torch.optim.Adam(groups, lr=c.lr, betas=(c.beta1, c.beta2))
    if c.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=c.lr, betas=(c.beta1, c.beta2))
    if c.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=c.lr, momentum=c.momentum)
    raise ValueError(f"unknown optimizer {c.optimizer!r}")


def build_scheduler(opt: torch.optim.Optimizer, c: TrainConfig, total_steps: int) -> lr_scheduler.LRScheduler:
    if c.schedule == "onecycle":  # its own warm-up (pct_start) and annealing
        return lr_scheduler.OneCycleLR(opt, max_lr=c.lr, total_steps=max(total_steps, 2),
                                       pct_start=min(0.3, max(c.warmup_steps, 1) / max(total_steps, 2))
                                       if c.warmup_steps else 0.25)
    main_steps = max(total_steps - c.warmup_steps, 1)
    if c.schedule == "constant":
        main = lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    elif c.schedule == "step":
        main = lr_scheduler.StepLR(opt, step_size=c.lr_step_size, gamma=c.lr_gamma)
    elif c.schedule == "cosine":
        main = lr_scheduler.CosineAnnealingLR(opt, T_max=main_steps, eta_min=c.min_lr)
    elif c.schedule == "linear":
        main = lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=c.min_lr / c.lr, total_iters=main_steps)
    else:
        raise ValueError(f"unknown schedule {c.schedule!r}")
    if c.warmup_steps <= 0:
        return main
    warm = lr_scheduler.LinearLR(opt, start_factor=1.0 / (c.warmup_steps + 1), total_iters=c.warmup_steps)
    return lr_scheduler.SequentialLR(opt, [warm, main], milestones=[c.warmup_steps])


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def onecycle_pct_start(c: TrainConfig, total: int) -> float:
    return min(0.3, max(c.warmup_steps, 1) / max(total, 2)) if c.warmup_steps else 0.25


def plan_at_step(c: TrainConfig, step: int, total: int) -> tuple[float, float | None]:
    """(LR, momentum or None) of update `step` (0-based) of a run planned for `total` updates: the closed form of
    torch's schedulers as `build_scheduler` lays them out (tested against them), so that the LR depends on
    (step, total) alone and a run extended on --resume equals one planned that long from the start.

    constant/step/cosine/linear: linear warm-up (step + 1) / (warmup + 1) over --warmup-steps, then constant, a decay by
    --lr-gamma every --lr-step-size steps, or a cosine (linear: a straight line) to --min-lr over the remaining
    steps. onecycle (Smith 2018,
    torch's OneCycleLR): a cosine rise from lr/25 to lr over pct_start of the run and a cosine fall to lr/25e4,
    while the momentum (beta1 for Adam) falls from 0.95 to 0.85 and rises back."""
    w = c.warmup_steps
    if c.schedule == "onecycle":
        total = max(total, 2)
        lo, end = c.lr / 25, c.lr / 25 / 1e4
        up_end = float(onecycle_pct_start(c, total) * total) - 1
        if step <= up_end:
            pct = step / up_end
            return _cos(lo, c.lr, pct), _cos(0.95, 0.85, pct)
        pct = (step - up_end) / (total - 1 - up_end)
        return _cos(c.lr, end, pct), _cos(0.85, 0.95, pct)
    if step < w:
        return c.lr * (step + 1) / (w + 1), None
    t = step - w
    if c.schedule == "cosine":
        return _cos(c.lr, c.min_lr, t / max(total - w, 1)), None
    if c.schedule == "linear":
        return c.lr + (c.min_lr - c.lr) * min(t / max(total - w, 1), 1.0), None
    if c.schedule == "step":
        return c.lr * c.lr_gamma ** (t // c.lr_step_size), None
    return c.lr, None


def lr_factor_at(c: TrainConfig, step: int, progress: float) -> float:
    """The LR of a plan laid over time, as a fraction of --lr: linear warm-up over the first --warmup-steps
    updates, then the schedule over progress p in [0, 1] (cosine or linear: to --min-lr; onecycle: torch's shape, a cosine
    rise from lr/25 over the first 25 % and a cosine fall to lr/25e4; step: decays every --lr-step-size steps)."""
    p = min(max(progress, 0.0), 1.0)
    if c.schedule == "onecycle":
        lo, hi, end, pct = 1 / 25, 1.0, 1 / 25e4, 0.25
        if p < pct:
            return hi + (lo - hi) * (1 + math.cos(math.pi * p / pct)) / 2
        return end + (hi - end) * (1 + math.cos(math.pi * (p - pct) / (1 - pct))) / 2
    if step < c.warmup_steps:
        return (step + 1) / (c.warmup_steps + 1)
    if c.schedule == "cosine":
        lo = c.min_lr / c.lr
        return lo + 0.5 * (1 - lo) * (1 + math.cos(math.pi * p))
    if c.schedule == "linear":
        lo = c.min_lr / c.lr
        return lo + (1 - lo) * (1 - p)
    if c.schedule == "step":
        return c.lr_gamma ** (step // c.lr_step_size)
    return 1.0


class LRPlan:
    """Sets the learning rate (and, for onecycle, the momentum) of every update in `before_step(step, progress)`:
    laid over steps (`plan_at_step`) when the run has a step or epoch budget, over training time
    (`lr_factor_at`, progress = train time / --max-time) when the budget is time alone. The plan is a function of
    the step (and the clock), so it has no state of its own to save."""

    def __init__(self, optimizer: torch.optim.Optimizer, c: TrainConfig, total_steps: int | None):
        self.optimizer, self.c, self.total = optimizer, c, total_steps
        self.changes = c.schedule != "constant" or c.warmup_steps > 0  # else skip the per-step cost
        self.by_time = total_steps is None and c.max_time is not None and self.changes
        self.uses_betas = "betas" in optimizer.defaults

    def before_step(self, step: int, progress: float | None) -> None:
        if not self.changes:
            return
        if self.by_time:
            lr, momentum = self.c.lr * lr_factor_at(self.c, step, progress or 0.0), None
        else:
            lr, momentum = plan_at_step(self.c, step, self.total or 1)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            if momentum is not None:
                if self.uses_betas:
                    group["betas"] = (momentum, group["betas"][1])
                elif "momentum" in group:
                    group["momentum"] = momentum

    def state_dict(self) -> dict:
        return {"plan": "by_time" if self.by_time else "by_step", "total": self.total}

    def load_state_dict(self, state: dict) -> None:
        pass  # nothing to restore: the plan is a function of the step and the clock
