"""A Task is the lecture's supervised learning task as the engine sees it.

    training samples S  -> `train`      (a BatchSource)
    held-out data       -> `evals`      ({"val": ..., "test": ...})
    model f(d, M)       -> `model`      (an nn.Module holding M = (W_1, b_1, ..., W_n, b_n))
    loss                -> `loss(output, batch)`
    metric sigma        -> `metric_sums(output, batch)` then `summarize(sums)`

Metrics are kept as sums (of losses, correct counts, sample counts) so that replicas can add them up exactly
before anything is logged. A system subclasses Task and overrides what differs (e.g. the char-LSTM carries its
hidden state across batches in `forward` and saves it through `state_dict`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deeplearn.engine.data import Batch, BatchSource


class Task:
    model: nn.Module
    train: BatchSource
    evals: dict[str, BatchSource]
    config: dict  # what the system needs to rebuild this task (stored in config.json and checkpoints)
    meta: dict  # facts a user of the trained model needs (class names, input encoding)

    def forward(self, model: nn.Module, batch: Batch) -> Any:
        """Network output N(v) for each example v of the batch."""
        return model(batch[0])

    def loss(self, output: Any, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def metric_sums(self, output: Any, batch: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict[str, Any]:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, source: BatchSource, device: torch.device,
                 autocast=None) -> dict[str, torch.Tensor]:
        """Metric sums over one pass of `source` on this replica (the engine adds replicas up)."""
        sums: dict[str, torch.Tensor] = {}
        for batch in source.iter_epoch(0):
            batch = to_device(batch, device)
            with autocast() if autocast else _null():
                output = self.forward(model, batch)
            for k, v in self.metric_sums(output, batch).items():
                sums[k] = sums[k] + v.detach() if k in sums else v.detach()
        return sums

    # What the engine's throughput counts: ("samples", 1); a text task counts characters: ("chars", seq_len).
    throughput_unit: tuple[str, int] = ("samples", 1)

    def batch_size_of(self, batch: Batch) -> int:
        """Training samples in this replica's batch (what samples/s counts)."""
        return len(batch[1])

    def register_for_checkpointing(self, name: str, obj) -> None:
        """Save `obj.state_dict()` in every checkpoint and restore it on resume (accelerate's idea): for state
        that lives beside the model (an EMA of the weights, a running statistic, a data cursor)."""
        self.__dict__.setdefault("_checkpointed", {})[name] = obj

    def checkpointed(self) -> dict:
        return dict(self.__dict__.get("_checkpointed", {}))

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def report(self, sums: dict[str, torch.Tensor], split: str, run_dir) -> None:
        """Write extra artifacts for a final evaluation (e.g. a confusion-matrix PNG). Rank 0 only."""


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def to_device(batch: Batch, device: torch.device) -> Batch:
    non_blocking = device.type == "cuda"  # pinned host memory -> asynchronous copy
    return tuple(t.to(device, non_blocking=non_blocking) if isinstance(t, torch.Tensor) else t for t in batch)
