"""A learning-rate schedule over a training-*time* budget (`--max-time` with `--schedule cosine`).

The engine's schedules count steps, but how many steps fit in 300 seconds is unknown in advance on a shared CPU
(other jobs can halve the speed for a minute). Cosine annealing pays off only if it ends when the budget ends, so
here the LR follows linear warm-up over the first steps, then a cosine from lr to min_lr over the *time* spent
training. The engine runs with a constant LR and this sets it, through a global optimizer step pre-hook, before
each update (a work-around until the engine's schedules can count seconds).
"""

from __future__ import annotations

import math
import time

import torch
import torch.distributed as dist
from torch.optim.optimizer import register_optimizer_step_pre_hook


class TimeCosine:
    def __init__(self, lr: float, min_lr: float, warmup_steps: int, max_time: float, distributed: bool = False):
        self.lr, self.min_lr, self.warmup, self.max_time = lr, min_lr, warmup_steps, max_time
        self.distributed = distributed
        self.elapsed, self.steps, self.paused, self.last = 0.0, 0, 0.0, None
        self.handle = None

    def lr_at(self, steps: int, elapsed: float) -> float:
        if steps < self.warmup:
            return self.lr * (steps + 1) / (self.warmup + 1)
        p = min(elapsed / self.max_time, 1.0)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * p))

    def pause(self, seconds: float) -> None:
        """Time that was not training (evaluation) is left out of the budget, as the engine does."""
        self.paused += seconds

    def _hook(self, optimizer, args, kwargs):
        now = time.perf_counter()
        if self.last is not None:
            self.elapsed += max(now - self.last - self.paused, 0.0)
        self.last, self.paused = now, 0.0
        if self.distributed:  # every replica must use the same LR: take the slowest replica's clock
            t = torch.tensor([self.elapsed], dtype=torch.float64)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            self.elapsed = float(t)
        for group in optimizer.param_groups:
            group["lr"] = self.lr_at(self.steps, self.elapsed)
        self.steps += 1

    def __enter__(self):
        self.last, self.paused = None, 0.0  # the clock starts at the first update of this process
        self.handle = register_optimizer_step_pre_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()
        return False

    def state_dict(self) -> dict:
        return {"elapsed": self.elapsed, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.elapsed, self.steps = float(state["elapsed"]), int(state["steps"])
