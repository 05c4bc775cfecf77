"""Batch sources: the `Sample batch B_i` step of the loop.

The order of an epoch is a function of (seed, epoch) alone, drawn by torch's DistributedSampler with
`set_epoch`: resuming at batch k of epoch e replays the same order from k, and N replicas split each global
batch between them (replica r takes every N-th index of it), so one replica with batch B and N replicas with B/N
see the same global batches.

- `TensorSource`: small data sets held as tensors (on the device), batched by indexing (no DataLoader).
- `LoaderSource`: large data sets read by a torch DataLoader with worker processes.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from deeplearn.paths import DataError

Batch = tuple  # (inputs, targets, ...) tensors
BatchTransform = Callable[[Batch, torch.Generator], Batch]


class BatchSource(Protocol):
    def batches_per_epoch(self) -> int: ...

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]: ...


def epoch_indices(n: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int, rank: int, world: int,
                  drop_last: bool) -> list[torch.Tensor]:
    """This replica's batches (index tensors) for one epoch."""
    if shuffle:
        sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                     drop_last=True)
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(iter(sampler)), dtype=torch.long)
    else:  # evaluation: every sample exactly once over all replicas (no padding, so sums stay exact)
        idx = torch.arange(rank, max(n, rank), world)
    batches = [b for b in idx.split(batch_size) if len(b)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def count_batches(n: int, batch_size: int, shuffle: bool, rank: int, world: int, drop_last: bool) -> int:
    """The length of `epoch_indices`, without drawing the permutation."""
    per_rank = (n - n % world) // world if shuffle else len(range(rank, n, world))
    return per_rank // batch_size if drop_last else -(-per_rank // batch_size)


def batch_generator(seed: int, epoch: int, index: int, rank: int) -> torch.Generator:
    """The random stream of one batch's augmentation: fixed by its position, so resume replays it exactly."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 1_000_003 + index) * 131 + rank)


class TensorSource:
    """In-memory fast path: `tensors` share their first dimension; a batch is `tuple(t[idx] for t in tensors)`."""

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, *, shuffle: bool, seed: int = 0,
                 rank: int = 0, world: int = 1, drop_last: bool | None = None,
                 transform: BatchTransform | None = None):
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError("tensors of a TensorSource must have the same length")
        self.tensors = tuple(tensors)
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world = rank, world
        self.drop_last = shuffle if drop_last is None else drop_last  # training drops the ragged last batch
        self.transform = transform
        if shuffle and self.batches_per_epoch() == 0:
            raise DataError(f"{n} training samples are fewer than one batch of {batch_size * world}: lower --batch-size")

    def __len__(self) -> int:
        return self.n

    def to(self, device: torch.device) -> "TensorSource":
        self.tensors = tuple(t.to(device) for t in self.tensors)
        return self

    def batches_per_epoch(self) -> int:
        return count_batches(self.n, self.batch_size, self.shuffle, self.rank, self.world, self.drop_last)

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        batches = epoch_indices(self.n, self.batch_size, shuffle=self.shuffle, seed=self.seed, epoch=epoch,
                                rank=self.rank, world=self.world, drop_last=self.drop_last)
        for i in range(start, len(batches)):
            idx = batches[i].to(self.tensors[0].device)
            batch = tuple(t[idx] for t in self.tensors)
            if self.transform is not None:
                batch = self.transform(batch, self._generator(epoch, i))
            yield batch

    def _generator(self, epoch: int, index: int) -> torch.Generator | None:
        if not getattr(self.transform, "random", True):
            return None  # a deterministic transform needs no random stream
        return batch_generator(self.seed, epoch, index, self.rank)


def _seed_worker(worker_id: int) -> None:
    import random

    import numpy as np

    s = torch.initial_seed() % 2**32  # the DataLoader gives each worker base_seed + worker_id
    random.seed(s)
    np.random.seed(s)


class LoaderSource:
    """DataLoader path for data that does not fit in memory (ImageFolder): same order and sharding as above."""

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, rank: int = 0,
                 world: int = 1, workers: int = 0, pin_memory: bool = False,
                 transform: BatchTransform | None = None, collate: Callable | None = None):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.rank, self.world, self.workers, self.pin_memory = rank, world, workers, pin_memory
        self.transform = transform
        self.collate = collate  # e.g. images stacked, boxes kept as a list (ragged targets)
        self.n = len(dataset)  # type: ignore[arg-type]
        if shuffle and self.batches_per_epoch() == 0:
            raise DataError(f"{self.n} training samples are fewer than one batch of {batch_size * world}: lower --batch-size")

    def __len__(self) -> int:
        return self.n

    def batches_per_epoch(self) -> int:
        return count_batches(self.n, self.batch_size, self.shuffle, self.rank, self.world, self.shuffle)

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        batches = epoch_indices(self.n, self.batch_size, shuffle=self.shuffle, seed=self.seed, epoch=epoch,
                                rank=self.rank, world=self.world, drop_last=self.shuffle)
        loader = DataLoader(self.dataset, batch_sampler=[b.tolist() for b in batches[start:]],
                            num_workers=self.workers, pin_memory=self.pin_memory, worker_init_fn=_seed_worker,
                            collate_fn=self.collate,
                            generator=torch.Generator().manual_seed(self.seed * 7919 + epoch * 104729 + start),
                            persistent_workers=False)
        for i, batch in enumerate(loader, start):
            batch = tuple(batch)
            if self.transform is not None:
                batch = self.transform(batch, batch_generator(self.seed, epoch, i, self.rank))
            yield batch
