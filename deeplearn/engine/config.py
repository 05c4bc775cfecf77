"""Training options, as one dataclass: what `--help` shows, what config.json stores, what resume restores."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, fields


@dataclass
class TrainConfig:
    # Budget: whichever of epochs / steps / max_time comes first ends the run (epochs=1 if none is given).
    epochs: float | None = None
    steps: int | None = None
    max_time: float | None = None  # seconds of training (evaluation and checkpoints not counted)
    batch_size: int = 64  # global batch: each of N replicas takes batch_size / N
    # Optimizer (torch.optim) and learning-rate schedule (torch.optim.lr_scheduler), stepped every update.
    optimizer: str = "sgd"  # sgd | adam | adamw | rmsprop
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    schedule: str = "constant"  # constant | step | cosine | onecycle
    warmup_steps: int = 0
    lr_step_size: int = 1000  # steps between decays, for schedule=step
    lr_gamma: float = 0.1
    min_lr: float = 0.0
    clip_grad: float | None = None  # max global gradient norm
    # Evaluation, checkpoints, early stopping.
    eval_every: int | None = None  # steps; default: once per epoch
    checkpoint_every: int | None = None  # steps; a checkpoint is also written at every evaluation
    monitor: str = "val_loss"  # metric that decides `best` and early stopping
    monitor_mode: str = "auto"  # min | max | auto (max for *acc*, min otherwise)
    patience: int | None = None  # evaluations without improvement before stopping early
    test_on: str = "best"  # best | last: which weights the final test uses
    log_every: int = 20  # steps between train-loss log rows
    # Process.
    seed: int = 0
    deterministic: bool = False
    threads: int | None = None
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: str = "none"  # none | bf16 | fp16 (autocast, CUDA only)
    compile: bool = False
    channels_last: bool = False
    sync_bn: bool = False
    workers: int = 0  # DataLoader worker processes (large data sets only)
    progress: str = "auto"  # auto (bar on a terminal) | bar | lines | none
    tensorboard: bool = False

    def resolved_mode(self) -> str:
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return "max" if "acc" in self.monitor else "min"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_CHOICES = {
    "optimizer": ["sgd", "adam", "adamw", "rmsprop"],
    "schedule": ["constant", "step", "cosine", "onecycle"],
    "monitor_mode": ["auto", "min", "max"],
    "test_on": ["best", "last"],
    "device": ["auto", "cpu", "cuda", "mps"],
    "amp": ["none", "bf16", "fp16"],
    "progress": ["auto", "bar", "lines", "none"],
}


def add_train_arguments(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """Add one `--option` per TrainConfig field. Every default is None, so that `merge` can tell which options
    the user gave (they override a resumed run's config); `defaults` changes a system's own defaults."""
    defaults = defaults or {}
    group = parser.add_argument_group("training (engine)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = defaults.get(f.name, f.default if f.default is not MISSING else None)
        help_ = f"default: {default}"
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_)
            continue
        typ = {"int": int, "float": float, "str": str, "int | None": int, "float | None": float}[str(f.type)]
        group.add_argument(flag, dest=f.name, type=typ, default=None, choices=_CHOICES.get(f.name), help=help_)


def merge(args: argparse.Namespace, base: dict | None = None, defaults: dict | None = None) -> TrainConfig:
    """TrainConfig from: dataclass defaults < system defaults < base (a resumed run) < options given."""
    d = TrainConfig().to_dict()
    d.update(defaults or {})
    d.update(base or {})
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if given.keys() & BUDGET:  # a budget given on the command line replaces the default or stored one
        d.update({k: None for k in BUDGET})
    d.update(given)
    return TrainConfig.from_dict(d)


BUDGET = {"epochs", "steps", "max_time"}
