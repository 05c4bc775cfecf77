"""Training options, as one dataclass: what `--help` shows, what config.json stores, what resume restores.

Each field carries its help (engine/options.py), so the flags, their help and the defaults used are one thing.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields

from deeplearn.engine.options import add_dataclass_arguments, non_negative, opt, positive


@dataclass
class TrainConfig:
    # Budget: whichever of epochs / steps / max_time comes first ends the run (epochs=1 if none is given).
    epochs: float | None = opt(None, "training epochs", shown="1 if no budget is given", check=positive)
    steps: int | None = opt(None, "training steps (updates)", shown="none", check=positive)
    max_time: float | None = opt(None, "seconds of training (evaluation and checkpoints not counted); alone, the "
                                       "LR schedule is laid over this time", shown="none", check=positive)
    batch_size: int = opt(64, "global batch: each of N replicas takes batch_size / N", check=positive)
    # Optimizer (torch.optim) and learning-rate schedule, stepped every update.
    optimizer: str = opt("sgd", "optimizer", choices=["sgd", "adam", "adamw", "rmsprop"])
    lr: float = opt(0.05, "peak learning rate", check=positive)
    momentum: float = opt(0.9, "momentum (sgd, rmsprop)", check=non_negative)
    nesterov: bool = opt(False, "Nesterov momentum (sgd)")
    weight_decay: float = opt(0.0, "weight decay (not on biases and norms)", check=non_negative)
    beta1: float = opt(0.9, "Adam beta1", check=non_negative)
    beta2: float = opt(0.999, "Adam beta2", check=non_negative)
    schedule: str = opt("constant", "learning-rate schedule (linear: after the warm-up, a straight line to --min-lr)",
                        choices=["constant", "step", "cosine", "onecycle", "linear"])
    warmup_steps: int = opt(0, "linear warm-up steps", check=non_negative)
    lr_step_size: int = opt(1000, "steps between decays (schedule step)", check=positive)
    lr_gamma: float = opt(0.1, "decay factor (schedule step)", check=positive)
    min_lr: float = opt(0.0, "final learning rate (cosine)", check=non_negative)
    clip_grad: float | None = opt(None, "max global gradient norm", shown="no clipping", check=positive)
    lookahead_every: int | None = opt(None, "Lookahead: every K updates pull the weights towards slow weights "
                                            "(engine/lookahead.py)", shown="off", check=positive)
    lookahead_decay: float = opt(0.95 ** 5, "Lookahead: the slow weights' decay at the end of the run (it rises "
                                            "as progress^3 from 0)", check=non_negative)
    # Evaluation, checkpoints, early stopping.
    eval_every: int | None = opt(None, "steps between evaluations", shown="once per epoch", check=positive)
    checkpoint_every: int | None = opt(None, "steps between extra checkpoints (one is also written at every "
                                             "evaluation)", shown="at evaluations only", check=positive)
    checkpoint_minutes: float | None = opt(5.0, "wall-clock minutes between checkpoints at the latest, so that an "
                                                "early kill loses little", check=positive)
    monitor: str = opt("val_loss", "validation metric that decides best.pt and early stopping")
    monitor_mode: str = opt("auto", "min or max of --monitor (auto: max for *acc*)", choices=["auto", "min", "max"])
    patience: int | None = opt(None, "evaluations without improvement before stopping early", shown="never",
                               check=positive)
    test_on: str = opt("best", "weights the final test uses", choices=["best", "last"])
    eval_test: bool = opt(False, "also evaluate the test split at every evaluation (a curve over training time; "
                                 "never used to choose weights)")
    log_every: int = opt(20, "steps between train-loss log rows", check=positive)
    # Process.
    seed: int = opt(0, "random seed (data order, initialization, augmentation)")
    deterministic: bool = opt(False, "deterministic algorithms (slower)")
    threads: int | None = opt(None, "CPU threads", shown="all cores", check=positive)
    device: str = opt("auto", "device", choices=["auto", "cpu", "cuda", "mps"])
    amp: str = opt("none", "autocast precision (CUDA; bf16 also on CPU)", choices=["none", "bf16", "fp16"])
    compile: bool = opt(False, "torch.compile the model")
    channels_last: bool = opt(False, "NHWC memory format (faster convolutions with oneDNN on CPU and on tensor cores)")
    sync_bn: bool = opt(False, "synchronized batch norm across replicas")
    workers: int = opt(0, "DataLoader worker processes (large data sets only)", check=non_negative)
    progress: str = opt("auto", "progress display (auto: a bar on a terminal; none: quiet, for library use)",
                        choices=["auto", "bar", "lines", "none"])
    tensorboard: bool = opt(False, "also log to TensorBoard (if installed)")

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


def add_train_arguments(parser: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """One `--option` per TrainConfig field, in a group of its own; `defaults` are the system's own defaults
    (shown in the help). Every argparse default is None, so that `merge` can tell which options were given."""
    add_dataclass_arguments(parser.add_argument_group("training (engine)"), TrainConfig, defaults)


def merge(args: argparse.Namespace, base: dict | None = None, defaults: dict | None = None) -> TrainConfig:
    """TrainConfig from: dataclass defaults < system defaults < base (a resumed run, a recipe) < options given."""
    d = TrainConfig().to_dict()
    d.update(defaults or {})
    if base and base.keys() & BUDGET:  # a budget in the base replaces the system's default budget
        d.update({k: None for k in BUDGET})
    d.update(base or {})
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if given.keys() & BUDGET:  # a budget given on the command line replaces the default or stored one
        d.update({k: None for k in BUDGET})
    d.update(given)
    return TrainConfig.from_dict(d)


BUDGET = {"epochs", "steps", "max_time"}
