"""Text in, integer streams out: read any UTF-8 file (.gz too), a character vocabulary, and TBPTT batches.

Truncated backpropagation through time (as in char-rnn, Karpathy 2015): the training text is cut into B
contiguous streams, one per batch row; batch i holds characters [i*T, (i+1)*T) of every stream, so the hidden
state left by batch i is the right starting state for batch i+1. The state is reset where a stream restarts
(the first batch of each epoch), which the third tensor of a batch, `reset`, says.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from deeplearn.paths import DataError


def read_text(path: str | Path) -> str:
    """The whole file as a string; DataError for a missing, empty, binary or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic number: decompress whatever the file name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:  # a bad header is an OSError, a bad stream zlib.error
            raise DataError(f"{path}: broken gzip data ({e})") from None
    if not raw:
        raise DataError(f"{path}: the file is empty; a text model needs text")
    if b"\x00" in raw:  # NUL never appears in text; it is the usual sign of a binary file
        raise DataError(f"{path}: looks like a binary file (it contains NUL bytes), not UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})") from e


class Vocab:
    """The set of characters (Unicode code points) of a text, in code-point order; id = position."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {ch: i for i, ch in enumerate(chars)}

    @classmethod
    def of(cls, text: str) -> "Vocab":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, what: str = "text") -> torch.Tensor:
        missing = sorted(set(text) - self.index.keys())
        if missing:
            raise DataError(f"{what} has characters the model never saw in training: "
                            + ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else ""))
        # Code points as one uint32 array, then their ranks in the sorted vocabulary: fast for 20M characters.
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.frombuffer(self.chars.encode("utf-32-le"), dtype=np.uint32)
        return torch.from_numpy(np.searchsorted(table, points).astype(np.int64))

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids))


def split_by_position(ids: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """First (1 - f) of the text for training, the last f for validation (no shuffling: text is ordered)."""
    n_train = int(len(ids) * (1 - val_fraction))  # as nanoGPT's prepare.py: 1,003,854 / 111,540 for Shakespeare
    return ids[:n_train], ids[n_train:]


class StreamSource:
    """Training batches (x, y, reset) of shape (B, T), (B, T), (1,) for TBPTT over `streams` parallel streams.

    Each epoch starts the streams at an offset in [0, T) drawn from (seed, epoch), so that chunk boundaries
    move between epochs; the number of batches does not depend on it, and the order is a pure function of
    (seed, epoch, position): resume replays it exactly. Replica r of N takes streams r, r+N, ... of the batch.
    """

    def __init__(self, ids: torch.Tensor, streams: int, seq_len: int, *, seed: int = 0, rank: int = 0,
                 world: int = 1):
        if seq_len < 1 or streams < 1:
            raise DataError("sequence length and batch size must be at least 1")
        if len(ids) < seq_len + 2:
            raise DataError(f"the training text has {len(ids)} characters, fewer than one sequence of "
                            f"--seq-len {seq_len} plus its target; use a shorter --seq-len or more text")
        self.ids, self.streams, self.seq_len = ids, streams, seq_len
        self.seed, self.rank, self.world = seed, rank, world
        # Room for the largest offset (T - 1) and the one-character shift of the targets.
        self.stream_len = (len(ids) - seq_len) // streams
        if self.stream_len < seq_len:
            longest = (len(ids) - seq_len) // seq_len
            raise DataError(f"the training text ({len(ids)} characters) is too short for {streams} streams of "
                            f"at least --seq-len {seq_len} characters; use --batch-size <= {max(longest, 1)}, a "
                            f"shorter --seq-len, or more text")

    def batches_per_epoch(self) -> int:
        return self.stream_len // self.seq_len

    def offset(self, epoch: int) -> int:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return int(torch.randint(self.seq_len, (1,), generator=g))

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[tuple]:
        L, T = self.stream_len, self.seq_len
        base = self.offset(epoch)
        rows = torch.arange(self.rank, self.streams, self.world) * L + base  # first character of each stream
        cols = torch.arange(T)
        for i in range(start, self.batches_per_epoch()):
            pos = rows[:, None] + i * T + cols  # (B, T) positions in the text
            yield self.ids[pos], self.ids[pos + 1], torch.tensor([i == 0])


class EvalStreams:
    """Every next-character prediction of a text exactly once: `streams` contiguous pieces read in chunks of T.

    Each piece starts from a zero state. With `burn_in` B, every piece but the first is read from B characters
    before its start, and those B predictions are not counted (target -1): the state is warm when counting
    begins, so many pieces (fast: wide matrix products) cost little accuracy against reading the text in one
    stream. The last piece is padded with target -1, so no character is dropped and none counts twice.
    Replica r takes pieces r, r+N, ...
    """

    def __init__(self, ids: torch.Tensor, streams: int, seq_len: int, rank: int = 0, world: int = 1,
                 burn_in: int = 0):
        if len(ids) < 2:
            raise DataError(f"the text to evaluate has {len(ids)} character(s); it needs at least 2")
        if burn_in < 0:
            raise DataError(f"the burn-in must be >= 0 characters, not {burn_in}")
        n = len(ids) - 1  # predictions: ids[1:] from ids[:-1]
        streams = max(1, min(streams, n // max(seq_len, 1) or 1))
        burn_in = min(burn_in, n) if streams > 1 else 0
        piece = max(1, -(-(n - burn_in) // streams))
        # row i reads positions [i * piece, i * piece + piece + burn_in) and counts those from i * piece + burn_in
        # (row 0 counts all of its positions, which start at the text's start)
        pos = torch.arange(streams)[:, None] * piece + torch.arange(piece + burn_in)[None, :]
        counted = (pos < n) & ((torch.arange(piece + burn_in)[None, :] >= burn_in) | (torch.arange(streams) == 0)[:, None])
        safe = pos.clamp(max=n - 1)
        x = torch.where(pos < n, ids[:-1][safe], torch.zeros((), dtype=ids.dtype))
        y = torch.where(counted, ids[1:][safe], torch.full((), -1, dtype=ids.dtype))
        self.x, self.y = x[rank::world], y[rank::world]
        self.seq_len, self.n = seq_len, n

    def batches_per_epoch(self) -> int:
        return -(-self.x.shape[1] // self.seq_len)

    def iter_epoch(self, epoch: int = 0, start: int = 0) -> Iterator[tuple]:
        for i in range(start, self.batches_per_epoch()):
            s = slice(i * self.seq_len, (i + 1) * self.seq_len)
            yield self.x[:, s], self.y[:, s], torch.tensor([i == 0])
