"""`deeplearn tune`: search the train options of any trainable system with Optuna; every trial is a normal run
directory made by that system's own run sequence."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  deeplearn tune --param lr=loguniform:1e-4:1 --trials 20 --out runs/tune-lr -- --epochs 10
  deeplearn tune --space space.toml --trials 10 --study s1 --storage postgresql://host/db --out runs/s1
  deeplearn tune --trials 0 --out runs/tune-lr        (no new trials: the table and plot of the study)
  deeplearn tune --system text --param lr=loguniform:1e-3:1e-2 --metric val_loss --trials 8 --out runs/tune-text \
      -- data.txt --max-time 60
Train options after `--` are fixed for every trial; see `deeplearn [SYSTEM] train --help`. The space syntax is
in docs/tune.md."""


def register(sub) -> None:
    p = sub.add_parser("tune", help="hyperparameter search (Optuna) over the train options of any trainable system",
                       description="Sample train options from a search space, train each trial as a run\n"
                                   "directory <out>/trials/<number>/, prune trials whose validation metric lags\n"
                                   "the median, and report a table and a plot.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", default="supervised",
                   help="the system whose train options are searched (one with a training spec; default supervised)")
    p.add_argument("--space", metavar="TOML", help="search-space file: [params] and optional [fixed] tables")
    p.add_argument("--param", action="append", default=[], metavar="NAME=KIND:ARGS",
                   help="a searched option, e.g. lr=loguniform:1e-4:1, hidden=categorical:[64],[256,256] "
                        "(repeatable; overrides --space)")
    p.add_argument("--trials", type=int, default=10, help="trials this worker runs (default 10)")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--metric", default="val_acc", help="metric to optimize, from the eval rows (default val_acc)")
    p.add_argument("--direction", choices=["maximize", "minimize"],
                   help="default: maximize for *acc* metrics, minimize otherwise")
    p.add_argument("--value", choices=["best", "last"], default="best",
                   help="a trial's value: its best or its last evaluation (default best)")
    p.add_argument("--study", default="tune", help="study name; workers with one name and storage share it")
    p.add_argument("--storage", help="Optuna RDB URL (default sqlite:///<out>/study.db)")
    p.add_argument("--out", help="folder of the study's files and trials/ (default runs/tune-<time>)")
    p.add_argument("--sampler", choices=["tpe", "random"], default="tpe")
    p.add_argument("--sampler-seed", type=int, help="seed of the sampler (give each worker its own)")
    p.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median")
    p.add_argument("--prune-startup", type=int, default=3,
                   help="complete trials before the median pruner prunes anything (default 3)")
    p.add_argument("--prune-warmup", type=int, default=1,
                   help="evaluations every trial gets before it can be pruned (default 1)")
    p.add_argument("train_args", nargs="*", metavar="-- TRAIN_OPTIONS",
                   help="fixed `deeplearn train` options for every trial")
    p.set_defaults(func=cmd_tune)


def fixed_options(path: str | None, after_dashes: list[str]) -> tuple[dict, list[str]]:
    """(params of the space file, fixed train argv): trials print no progress unless asked; the file's
    [fixed] options come next and the options after `--` last, so those win."""
    from deeplearn.tune.space import load_file, option_tokens

    params, fixed = load_file(path) if path else ({}, {})
    argv = ["--progress", "none"] + [tok for k, v in fixed.items() for tok in option_tokens(k, v)]
    return params, argv + list(after_dashes)


def cmd_tune(args) -> int:
    import optuna

    from deeplearn.paths import DataError
    from deeplearn.cli import get_system
    from deeplearn.engine.command import default_run_dir
    from deeplearn.engine.trainer import TrainingError
    from deeplearn.tune import report, study as studies, trial as trials
    from deeplearn.tune.space import parse_params

    space, fixed = fixed_options(args.space, args.train_args)
    space.update(parse_params(args.param))
    if not space and args.trials > 0:
        raise DataError("nothing to search: give --param NAME=KIND:ARGS or --space FILE")
    spec = get_system(args.system).training_spec()
    parser = trials.train_parser(spec)
    trials.check_options(parser, fixed, space)
    out = Path(args.out or default_run_dir("tune"))
    out.mkdir(parents=True, exist_ok=True)
    direction = args.direction or ("maximize" if "acc" in args.metric else "minimize")
    url = args.storage or studies.default_storage(out)
    # `announce` prints one line per trial; a failed trial's error is in its run's summary.json.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = studies.open_study(url, args.study, args.metric, direction,
                               studies.make_sampler(args.sampler, args.sampler_seed),
                               studies.make_pruner(args.pruner, args.prune_startup, args.prune_warmup))
    print(f"study {args.study!r} in {url}: {args.trials} trials, {direction} {args.metric}; trials in "
          f"{out / 'trials'}", flush=True)
    for p in space.values():
        print(f"  {p.name} = {p.describe()}")

    def objective(trial):
        return trials.run_trial(trial, spec, parser, fixed, space, out, args.metric, direction == "maximize",
                                args.value)

    def announce(study, t):
        value = f"{args.metric} {t.value:.4g}" if t.value is not None else t.user_attrs.get("note", "")
        secs = t.duration.total_seconds() if t.duration else 0.0
        print(f"trial {t.number} {t.state.name.lower()}: {value} {t.params} ({secs:.1f} s)", flush=True)

    code = 0
    try:
        if args.trials > 0:
            study.optimize(objective, n_trials=args.trials, timeout=args.timeout, catch=(TrainingError,),
                           callbacks=[announce])
    except KeyboardInterrupt:
        print("interrupted: the table below holds the trials so far")
        code = 130
    report.write(study, out, args.metric)
    return code
