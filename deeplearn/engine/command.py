"""The one run sequence of every `train` verb, and the options it takes.

    SPEC = TrainingSpec(system="text", options=TextOptions, build_task=build_task, defaults=TRAIN_DEFAULTS)

    def register(verbs):
        p = verbs.add_parser("train", help=...)
        add_training_arguments(p, SPEC)
        p.set_defaults(func=lambda args: run_training(SPEC, args) and 0)

`run_training` reads the stored options on --resume (and a recipe file given with --config), merges them with
the system's and the engine's defaults and the options given, sets up the process (threads, seeds, device,
replicas), requires --out under torchrun, resumes after an elastic restart, builds the task, runs `fit` and
closes the process group. `deeplearn tune` drives any system through the same function.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from deeplearn.engine import config as engine_config
from deeplearn.engine.options import add_dataclass_arguments, defaults_of, given
from deeplearn.engine.rundir import RunDir
from deeplearn.paths import DataError


@dataclass
class TrainingSpec:
    """What a trainable system gives the engine.

    Args:
      system: the system's name (`deeplearn <system> train`), stored in config.json.
      options: a dataclass of the system's own options (fields made with `engine.options.opt`).
      build_task: (options dict, Runtime, TrainConfig) -> Task. The options dict has every field of `options`.
      defaults: the system's engine defaults (e.g. {"epochs": 10, "optimizer": "adam"}).
      run_name: options dict -> the stem of the default run directory (runs/<stem>-<time>).
      describe: summary -> the one line printed at the end (replica 0).
      check: (options dict, resuming) -> None; raise DataError for options that cannot work together.
      metrics: the validation metrics the task reports (e.g. ("val_loss", "val_acc")), so that --monitor is
        checked before any data is loaded; the engine still checks the real rows at the first evaluation.
      command: the train verb's words when they are not "<system> train" (e.g. "vision detect train",
        "vision style-train"), for the messages that tell how to resume.
    """

    system: str
    options: type
    build_task: Callable[..., Any]
    defaults: dict = field(default_factory=dict)
    run_name: Callable[[dict], str] | None = None
    describe: Callable[[dict], str] | None = None
    check: Callable[[dict, bool], None] | None = None
    metrics: tuple[str, ...] = ()
    command: str | None = None


def add_training_arguments(parser: argparse.ArgumentParser, spec: TrainingSpec) -> None:
    parser.add_argument("--out", help="run directory (default: runs/<name>-<time>)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly where it stopped")
    parser.add_argument("--config", metavar="TOML", help="a recipe file (recipes/*.toml): options as keys; "
                                                          "options given on the command line win")
    add_dataclass_arguments(parser.add_argument_group(f"{spec.system} options"), spec.options)
    engine_config.add_train_arguments(parser, spec.defaults)


def load_recipe(path: str | None, spec: TrainingSpec) -> tuple[dict, dict]:
    """(engine options, system options) of a recipe file; an unknown key is an error naming it."""
    if not path:
        return {}, {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"--config {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"--config {path}: not valid TOML ({e})") from None
    flat = {k.replace("-", "_"): v for k, v in data.items() if not isinstance(v, dict)}
    for table in data.values():  # [train] / [task] tables are allowed too
        if isinstance(table, dict):
            flat.update({k.replace("-", "_"): v for k, v in table.items()})
    train_keys = set(engine_config.TrainConfig().to_dict())
    task_keys = set(defaults_of(spec.options))
    unknown = sorted(set(flat) - train_keys - task_keys - {"system"})
    if unknown:
        raise DataError(f"--config {path}: unknown option(s) {', '.join(unknown)}")
    if flat.get("system", spec.system) != spec.system:
        raise DataError(f"--config {path} is a recipe for `deeplearn {flat['system']} train`")
    return ({k: v for k, v in flat.items() if k in train_keys}, {k: v for k, v in flat.items() if k in task_keys})


# Options that may change when a run is resumed: its budget (extending it re-lays the LR schedule over the new
# length) and how the process runs. Anything else would make the continuation another experiment.
RESUMABLE = engine_config.BUDGET | {"threads", "device", "progress", "workers", "log_every", "eval_every",
                                    "checkpoint_every", "checkpoint_minutes", "patience", "tensorboard", "test_on"}


def check_resume_options(args: argparse.Namespace, spec: TrainingSpec, stored: dict) -> None:
    """Refuse options given with --resume that differ from the stored run and cannot change mid-run."""
    changed = [(k, v, stored["train"].get(k)) for k, v in given(args, engine_config.TrainConfig).items()
               if k not in RESUMABLE and v != stored["train"].get(k)]
    changed += [(k, v, stored["task"].get(k)) for k, v in given(args, spec.options).items()
                if v != stored["task"].get(k)]
    if getattr(args, "config", None):
        raise DataError("--config is for new runs; --resume continues a run with its stored options")
    if changed:
        what = ", ".join(f"--{k.replace('_', '-')} {v} (the run has {old})" for k, v, old in changed)
        raise DataError(f"--resume {args.resume}: {what} cannot change in a resumed run; only the budget "
                        f"(--epochs/--steps/--max-time) and process options can. Start a new run with --out")


def resolve_options(spec: TrainingSpec, args: argparse.Namespace) -> tuple[engine_config.TrainConfig, dict]:
    """(engine config, system options): defaults < recipe < stored run (--resume) < options given."""
    stored = RunDir(args.resume).require_system(spec.system).config if getattr(args, "resume", None) else {}
    if stored:
        check_resume_options(args, spec, stored)
    recipe_train, recipe_task = load_recipe(getattr(args, "config", None), spec)
    base = {**recipe_train, **stored.get("train", {})}
    c = engine_config.merge(args, base, spec.defaults)
    opts = {**defaults_of(spec.options), **recipe_task, **stored.get("task", {}), **given(args, spec.options)}
    if spec.check is not None:
        spec.check(opts, bool(stored))
    check_monitor(spec, c.monitor)
    return c, opts


def check_monitor(spec: TrainingSpec, monitor: str) -> None:
    """--monitor names a metric the system's validation reports (when the spec declares them)."""
    if spec.metrics and monitor not in spec.metrics:
        raise DataError(f"--monitor {monitor}: {spec.system} validation reports {', '.join(spec.metrics)}")


def restarted_with_checkpoint(run: RunDir) -> bool:
    """torchrun restarted the replicas after a failure (--max-restarts): continue from the last checkpoint."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)) > 0 and run.has_checkpoint()


def default_run_dir(*parts: str) -> str:
    return str(Path("runs") / ("-".join(parts) + time.strftime("-%Y%m%d-%H%M%S")))


def train_words(spec: TrainingSpec) -> str:
    """The words of the system's train verb after `deeplearn`."""
    return spec.command or ("train" if spec.system == "supervised" else f"{spec.system} train")


def train_verb(spec: TrainingSpec):
    """The `func` of a system's train verb: exit 0, or 130 when an interrupt stopped the run (it was saved)."""
    def cmd_train(args) -> int:
        summary = run_training(spec, args)
        return 130 if summary is not None and summary["status"] == "interrupted" else 0
    return cmd_train


def run_training(spec: TrainingSpec, args: argparse.Namespace, on_eval=None, on_step_end=None) -> dict | None:
    """Train the system from parsed options; the summary on replica 0, else None."""
    from deeplearn.engine import fit, setup

    c, opts = resolve_options(spec, args)
    rt = setup(c)
    if rt.distributed and not (args.out or args.resume):
        raise DataError("under torchrun give --out DIR, so that all replicas and restarts share one run directory")
    if args.resume and not RunDir(args.resume).has_checkpoint():
        raise DataError(f"--resume {args.resume}: the run has no checkpoint yet (it stopped before its first "
                        f"save); start it again with --out")
    task = spec.build_task(opts, rt, c)
    name = spec.run_name(task.config) if spec.run_name else spec.system
    run = RunDir(args.resume or args.out or default_run_dir(name))
    resume = bool(args.resume) or restarted_with_checkpoint(run)
    if rt.is_main:
        print(f"run directory: {run}" + (" (resuming)" if resume else ""), flush=True)
    summary = fit(task, c, rt, run.path, resume=resume, on_eval=on_eval, on_step_end=on_step_end,
                  system=spec.system)
    rt.close()  # after a failure, torchrun ends the processes; a peer may be gone, so no clean leave then
    if not rt.is_main:
        return None
    if spec.describe is not None:
        print(spec.describe(summary), flush=True)
    if summary["status"] == "interrupted":
        print(f"interrupted at step {summary['steps']}; continue with: deeplearn "
              f"{train_words(spec)} --resume {run}",
              file=sys.stderr)
    return summary
