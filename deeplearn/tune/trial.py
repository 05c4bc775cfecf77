"""One trial: a training run of any trainable system in <out>/trials/<number>/, its evaluations reported to Optuna.

A trial's options are the fixed train options followed by the sampled ones (later options win in argparse),
parsed by the system's own train parser (built from its TrainingSpec), so a trial is exactly the run
`deeplearn [SYSTEM] train <those options>` makes, through the same run sequence.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

import optuna

from deeplearn.engine.logger import plot_curves, write_json
from deeplearn.engine.rundir import RunDir
from deeplearn.engine.trainer import TrainingError
from deeplearn.paths import DataError
from deeplearn.tune.space import Param, option_tokens


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message):  # a bad option is a user error, not an exit from inside a study
        raise DataError(f"train options: {message}")


def train_parser(spec) -> argparse.ArgumentParser:
    """The train parser of the system whose TrainingSpec is `spec`."""
    from deeplearn.engine.command import add_training_arguments

    parser = _RaisingParser(prog=f"deeplearn {spec.system} train", allow_abbrev=False)  # `moment=` is no --momentum
    add_training_arguments(parser, spec)
    return parser


def check_options(parser, fixed: list[str], space: dict[str, Param]) -> None:
    """Fail before the first trial if a fixed option or any end of a parameter's range is not accepted."""
    args = parser.parse_args(fixed)
    for own in ("out", "resume"):
        if getattr(args, own) is not None:
            raise DataError(f"tune gives each trial its own run directory; drop --{own} from the train options")
    for p in space.values():
        for v in p.candidates():
            parser.parse_args(fixed + option_tokens(p.name, v))


def train(spec, args, on_eval) -> dict:
    """What the system's train verb does, with an evaluation hook; one process per trial."""
    from deeplearn.engine.command import run_training

    if "WORLD_SIZE" in os.environ:
        raise DataError("tune runs each trial in one process; run several tune workers instead of torchrun")
    return run_training(spec, args, on_eval=on_eval)


class Reporter:
    """The engine's on_eval hook: report the metric at every evaluation; stop the run if Optuna prunes it."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric
        self.values: list[float] = []
        self.step, self.last = 0, {}

    def __call__(self, step: int, metrics: dict) -> None:
        self.step, self.last = step, dict(metrics)
        if self.metric not in metrics:
            return  # e.g. a test_* metric: known only at the end, so no pruning
        self.values.append(float(metrics[self.metric]))
        # Step = evaluation count, not the training step: comparable across trials with other batch sizes.
        self.trial.report(self.values[-1], len(self.values))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.metric} {self.values[-1]:.4g} at evaluation {len(self.values)}")


def trial_value(summary: dict, rep: Reporter, maximize: bool, use: str) -> float:
    if rep.values:
        return (max if maximize else min)(rep.values) if use == "best" else rep.values[-1]
    for part in ("final", "test"):
        if rep.metric in (summary.get(part) or {}):
            return float(summary[part][rep.metric])
    known = sorted({k for part in ("final", "test") for k in (summary.get(part) or {})})
    raise DataError(f"--metric {rep.metric}: the runs report {', '.join(known) or 'no metrics'}")


def run_trial(trial: optuna.Trial, spec, parser, fixed: list[str], space: dict[str, Param], out: Path, metric: str,
              maximize: bool, use: str) -> float:
    values = {name: p.suggest(trial) for name, p in space.items()}
    argv = fixed + [tok for name, v in values.items() for tok in option_tokens(name, v)]
    run_dir = Path(out) / "trials" / str(trial.number)
    if RunDir(run_dir).exists():  # trial numbers are per study: another study used this --out
        raise DataError(f"{run_dir} already holds a run; give each study its own --out")
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("train_args", argv)
    args = parser.parse_args(argv + ["--out", str(run_dir)])
    rep = Reporter(trial, metric)
    run = RunDir(run_dir)
    record = {"number": trial.number, "params": values, "metric": metric, "train_args": argv,
              "intermediate": rep.values}
    start = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        # What the run prints (its test line) goes to its own output.log: the study prints one line per trial.
        with open(run_dir / "output.log", "w") as log, contextlib.redirect_stdout(log):
            summary = train(spec, args, rep)
    except optuna.TrialPruned as e:
        # The engine raised out of its loop after logging the row and writing the last checkpoint; give the
        # run the summary and curves a finished run has, marked pruned.
        run.write_summary({"status": "pruned", "steps": rep.step, "final": rep.last, "reason": str(e),
                           "wall_time_s": time.perf_counter() - start})
        plot_curves(run.metrics_path, run.curves_path)
        trial.set_user_attr("note", str(e))
        write_json(run_dir / "trial.json", {**record, "state": "PRUNED", "value": rep.values[-1]})
        raise
    except TrainingError as e:  # e.g. the loss diverged at a large learning rate: a failed trial, not the end
        run.write_summary({"status": "failed", "error": str(e), "final": rep.last})
        trial.set_user_attr("note", str(e).split(";")[0])
        write_json(run_dir / "trial.json", {**record, "state": "FAIL", "value": None, "error": str(e)})
        raise
    if summary["status"] == "interrupted":
        write_json(run_dir / "trial.json", {**record, "state": "FAIL", "value": None, "error": "interrupted"})
        raise KeyboardInterrupt
    value = trial_value(summary, rep, maximize, use)
    write_json(run_dir / "trial.json", {**record, "state": "COMPLETE", "value": value})
    return value
