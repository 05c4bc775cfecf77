"""Speed of the premises pipeline's CPU parts: parsing all MPTP2078 formulas, and ranking with each baseline.

    DEEPLEARN_DATA=../shared/data python benchmarks/premises_speed.py [--problems 100]

Prints one line per stage; E runs are measured by `deeplearn premises evaluate` instead.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time

from deeplearn.premises import corpus, evaluate, ranker
from deeplearn.premises.tptp import parse_formula


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--problems", type=int, default=100, help="test problems to rank")
    args = ap.parse_args()
    d = corpus.mptp_dir(args.data_dir)
    texts = [json.loads(line)["tptp"] for line in gzip.open(d / "formulas.jsonl.gz", "rt")]
    t0 = time.perf_counter()
    for t in texts:
        parse_formula(t)
    print(f"parse: {len(texts)} formulas in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    c = corpus.load_mptp(args.data_dir)
    print(f"load corpus: {len(c)} problems in {time.perf_counter() - t0:.2f} s")
    train, test = evaluate.chrono_split(c)
    test = test[: args.problems]
    for name in ranker.available():
        r = ranker.get(name)
        t0 = time.perf_counter()
        r.fit(train)
        fit_s = time.perf_counter() - t0
        _, rank_s = evaluate.rank_problems(r, test)
        mean_n = sum(len(p.premises) for p in test) / len(test)
        print(f"{name}: fit {fit_s:.2f} s, rank {1000 * rank_s / len(test):.1f} ms per problem "
              f"({mean_n:.0f} premises on average)")


if __name__ == "__main__":
    main()
