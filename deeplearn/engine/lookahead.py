"""Lookahead of the weights (Zhang et al. 2019, arXiv 1907.08610), as airbench schedules it (Jordan 2024,
arXiv 2404.00498, Sec. 3.4).

Slow weights phi follow the model's weights theta: every K updates

    phi <- d * phi + (1 - d) * theta,   then theta <- phi

with a decay d that rises over the run as d_end * progress^3 (progress in [0, 1]: step / total, or training time
/ --max-time), so early updates move freely and late ones are averaged. At the end of training the model takes
the slow weights. Floating-point buffers (batch-norm running statistics) are averaged the same way. The slow
weights ride in every checkpoint, so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import nn


class Lookahead:
    def __init__(self, model: nn.Module, every: int, decay_end: float):
        self.model, self.every, self.decay_end = model, every, decay_end
        self.slow = {k: v.detach().clone() for k, v in self._tensors().items()}

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    def decay_at(self, progress: float) -> float:
        return self.decay_end * min(max(progress, 0.0), 1.0) ** 3

    @torch.no_grad()
    def after_update(self, step: int, progress: float) -> None:
        """Called after update `step` (1-based); acts on every K-th."""
        if step % self.every == 0:
            self.pull(self.decay_at(progress))

    @torch.no_grad()
    def pull(self, decay: float) -> None:
        """phi <- decay * phi + (1 - decay) * theta; theta <- phi."""
        for k, fast in self._tensors().items():
            slow = self.slow[k]
            slow.lerp_(fast.to(slow.dtype), 1.0 - decay)
            fast.copy_(slow)

    @torch.no_grad()
    def finish(self) -> None:
        """The model takes the slow weights (airbench's final update with decay 1)."""
        self.pull(1.0)

    def state_dict(self) -> dict:
        return {"slow": {k: v.clone() for k, v in self.slow.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["slow"].items():
            self.slow[k].copy_(v)
