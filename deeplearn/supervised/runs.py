"""Reading a finished (or interrupted) run directory back: its config, its model, its input encoding."""

from __future__ import annotations

import json
from pathlib import Path

from deeplearn.engine import checkpoint as ckpt
from deeplearn.paths import DataError


def read_config(run_dir) -> dict:
    p = Path(run_dir) / "config.json"
    if not p.exists():
        raise DataError(f"{run_dir} is not a run directory (no config.json)")
    return json.loads(p.read_text())


def checkpoint_path(run_dir, weights: str = "best") -> Path:
    d = Path(run_dir) / "checkpoints"
    for name in ([weights] if weights == "last" else [weights, "last"]):
        if (d / f"{name}.pt").exists():
            return d / f"{name}.pt"
    raise DataError(f"{run_dir}: no checkpoint in {d}")


def load_run(run_dir, weights: str = "best"):
    """(model in eval mode on the CPU, meta) of a supervised run; meta holds the input encoding."""
    from deeplearn.supervised.task import build_model

    cfg = read_config(run_dir)
    meta = cfg["meta"]
    model = build_model(cfg["task"], len(meta["class_names"]), meta["input_shape"])
    try:
        state = ckpt.load(checkpoint_path(run_dir, weights))
    except ckpt.CheckpointError as e:
        raise DataError(str(e)) from e
    model.load_state_dict(state["model"])
    return model.eval(), meta
