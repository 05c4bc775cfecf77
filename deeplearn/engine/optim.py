"""Optimizers and learning-rate schedules, all from torch; the schedule is stepped once per update."""

from __future__ import annotations

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
