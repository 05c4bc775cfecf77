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
    else:
        raise ValueError(f"unknown schedule {c.schedule!r}")
    if c.warmup_steps <= 0:
        return main
    warm = lr_scheduler.LinearLR(opt, start_factor=1.0 / (c.warmup_steps + 1), total_iters=c.warmup_steps)
    return lr_scheduler.SequentialLR(opt, [warm, main], milestones=[c.warmup_steps])


def lr_factor_at(c: TrainConfig, step: int, progress: float) -> float:
    """The LR of a plan laid over time, as a fraction of --lr: linear warm-up over the first --warmup-steps
    updates, then the schedule over progress p in [0, 1] (cosine: to --min-lr; onecycle: torch's shape, a cosine
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
    if c.schedule == "step":
        return c.lr_gamma ** (step // c.lr_step_size)
    return 1.0


class LRPlan:
    """The learning rate of every update: `before_step(step, progress)` sets it when the plan is laid over time
    (progress is None otherwise), `after_step()` steps torch's scheduler when it is laid over steps."""

    def __init__(self, optimizer: torch.optim.Optimizer, c: TrainConfig, total_steps: int | None):
        self.optimizer, self.c = optimizer, c
        self.changes = c.schedule != "constant" or c.warmup_steps > 0  # else skip the per-step cost
        self.by_time = total_steps is None and c.max_time is not None and self.changes
        # A plan over steps needs a length: with a time budget that is still unknown, lay it over 100 epochs' worth.
        self.scheduler = build_scheduler(optimizer, c, total_steps or 10**6)

    def before_step(self, step: int, progress: float | None) -> None:
        if self.by_time:
            lr = self.c.lr * lr_factor_at(self.c, step, progress or 0.0)
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    def after_step(self) -> None:
        if self.changes and not self.by_time:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {"by_time": True} if self.by_time else self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if not self.by_time and not state.get("by_time"):
            self.scheduler.load_state_dict(state)
