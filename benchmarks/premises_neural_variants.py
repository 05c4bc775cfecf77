"""The neural ranker's variants side by side at one training budget: encoder (LSTM, CNN, ...) x input level
(token, char), each trained from scratch on MPTP2078's training split and ranked on the whole test split with
part 1's metrics (recall@k, AUC), beside part 1's k-NN on the same problems.

    python benchmarks/premises_neural_variants.py --budget 150 --jobs 2 \
        --variants lstm:token cnn:token lstm:char cnn:char --out runs/neural-variants

Each variant is `deeplearn premises train` with the recipe below (only --encoder/--level change), one torch
thread per job; `--jobs 2` trains two variants at a time on a 2-core machine. Every number is from one run (seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

# the recipe of docs/premises_neural.md without its mining round (an epoch of mining costs a variant-dependent
# time, so the variants would not get equal budgets)
RECIPE = {"head": "interact", "embed_dim": 64, "hidden": 128, "share_embedding": True, "mirror_init": True,
          "buckets": 1024, "random_ratio": 2.0, "popular_ratio": 2.0, "self_ratio": 1.0, "hard_rounds": 0}
TRAIN = {"batch_size": 256, "lr": 3e-3, "epochs": 1000, "threads": 1, "progress": "none"}
CHAR_MAX_LEN = 384  # 2x the token limit: formulas have ~2.2x more characters than tokens (median 87 vs 40)


def _metrics(ranker, corpus, problems):
    from deeplearn.premises import evaluate as ev

    rankings, seconds = ev.rank_problems(ranker, problems)
    m = ev.summarize([ev.ranking_metrics(rankings[p.id], p.deps or []) for p in problems])
    return {**m, "ranking_s": seconds}


def run_variant(variant: str, budget: float, out: str, data_dir: str | None) -> dict:
    from deeplearn.engine.config import TrainConfig
    from deeplearn.premises import corpus as cm
    from deeplearn.premises import evaluate as ev
    from deeplearn.premises.neural.train import TRAIN_DEFAULTS, train

    encoder, level = variant.split(":")
    corpus = cm.load_mptp(data_dir)
    test = ev.chrono_split(corpus, 0.2)[1]
    opts = {**RECIPE, "encoder": encoder, "level": level}
    if level == "char":
        opts["max_len"] = CHAR_MAX_LEN
    tc = TrainConfig.from_dict({**TrainConfig().to_dict(), **TRAIN_DEFAULTS, **TRAIN, "max_time": budget})
    t0 = time.perf_counter()
    ranker, report = train(corpus, opts, tc, Path(out) / variant.replace(":", "-"), log=lambda s: None)
    wall = time.perf_counter() - t0
    return {"variant": variant, "wall_s": wall, "steps": [r["steps"] for r in report["rounds"]],
            **_metrics(ranker, corpus, test)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=["lstm:token", "cnn:token", "lstm:char", "cnn:char"])
    ap.add_argument("--budget", type=float, default=150, help="round-0 training seconds per variant")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/neural-variants")
    ap.add_argument("--data-dir")
    ap.add_argument("--json", help="also write the rows here")
    a = ap.parse_args()
    print(f"machine: {machine()} (each job: 1 torch thread, {a.jobs} jobs at a time)")
    print(f"recipe: {json.dumps(RECIPE)}; train {json.dumps(TRAIN)}; round-0 budget {a.budget:.0f} s; "
          f"char max_len {CHAR_MAX_LEN}")
    with ProcessPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(run_variant, v, a.budget, a.out, a.data_dir) for v in a.variants]
        rows = [f.result() for f in futures]
    from deeplearn.premises import corpus as cm
    from deeplearn.premises import evaluate as ev
    from deeplearn.premises.knn import KNN

    corpus = cm.load_mptp(a.data_dir)
    train_probs, test = ev.chrono_split(corpus, 0.2)
    rows.append({"variant": "k-NN (part 1)", "wall_s": 0.0, "steps": [],
                 **_metrics(KNN().fit(train_probs), corpus, test)})
    print("| variant | steps | wall s | recall@16 | recall@32 | recall@64 | recall@128 | AUC | "
          "ranking s (test) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {', '.join(map(str, r['steps']))} | {r['wall_s']:.0f} | {r['recall@16']:.3f} | "
              f"{r['recall@32']:.3f} | {r['recall@64']:.3f} | {r['recall@128']:.3f} | {r['auc']:.3f} | "
              f"{r['ranking_s']:.1f} |")
    print(f"({rows[0]['problems']} test problems with a known proof)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
