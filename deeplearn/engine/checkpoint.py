"""Checkpoints: the full state of a run, written atomically, loaded safely.

A checkpoint holds the model, optimizer, scheduler, grad scaler, step/epoch, every RNG state, the task's own
state, the position in the data order (the step, since the order is a function of seed and epoch) and the config.
It is written to a temporary file in the same directory, flushed to disk, then renamed over the old one: a kill at
any moment leaves either the old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path


class CheckpointError(Exception):
    """A checkpoint that is missing or cannot be read safely; the message names the file."""

    pass


def save_atomic(obj: dict, path: Path) -> None:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX within one file system
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Path, map_location="cpu") -> dict:
    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the write that made it did not finish")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)  # never unpickles code
    except pickle.UnpicklingError as e:
        # torch's message goes on to suggest turning the safety check off: never pass that on.
        first = str(e).split("\n")[0].split(". ")[0]
        raise CheckpointError(f"checkpoint {path} holds objects other than tensors and plain containers, so it "
                              f"is not loaded ({first}); only checkpoints written by deeplearn are read") from None
    except Exception as e:
        reason = str(e).splitlines()[0].split(". ")[0] if str(e) else type(e).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read (truncated or not a torch file: {reason}); "
                              f"resume from another checkpoint or start the run again") from None


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Temporary files left by a write that a kill interrupted (`.NAME.*.tmp`); removed, returned."""
    directory = Path(directory)
    stale = sorted(directory.glob(".*.pt.*.tmp")) if directory.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
