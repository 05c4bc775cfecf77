"""Ranking latency of the neural ranker: premise embeddings cached once per corpus, then one conjecture encoding
plus the head over ~4,000 cached rows per ranking (issue 7 asks for well under 100 ms).

    python benchmarks/premises_neural_latency.py --model runs/neural-lstm-token [--data-dir ../shared/data]

Without --model it times an untrained model of the default size (the latency does not depend on the weights);
`--side-features`: one that also reads the symbol-name-invariant pair features (neural/side.py), computed for every
candidate at each ranking.
Baseline, side by side: the same ranking of the largest problem by a fresh ranker, which must first encode every
candidate premise (what scoring pair by pair costs); the ratio is the cache's speed-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

from deeplearn.premises import ranker as ranker_mod
from deeplearn.premises.corpus import load_mptp
from deeplearn.premises.neural.encoding import Encoding
from deeplearn.premises.neural.model import PremiseModel
from deeplearn.premises.neural.ranker import NeuralRanker
from deeplearn.premises.neural.side import SideFeatures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--data-dir")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--side-features", action="store_true", help="without --model: a model with side features")
    a = ap.parse_args()
    corpus = load_mptp(a.data_dir)
    big = max(corpus.problems, key=lambda p: len(p.premises))  # the problem with the most candidates
    others = sorted(corpus.problems, key=lambda p: -len(p.premises))[1: 1 + a.repeats]
    for threads in a.threads:
        if a.model:
            r = ranker_mod.load(a.model)
        else:
            enc = Encoding.build(corpus.formulas.values())
            side = SideFeatures.build(corpus.formulas.values()) if a.side_features else None
            r = NeuralRanker.from_model(PremiseModel(enc.size, side_features=a.side_features), enc, {}, side=side)
        torch.set_num_threads(threads)  # after loading: the ranker sets one thread when it loads
        if threads == a.threads[0]:
            print(f"machine: {machine()}")
        t0 = time.perf_counter()
        r.rank(big.conjecture, big.premises)  # fresh ranker: encodes the problem's premises first (the baseline)
        uncached_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        r.premise_rows(list(corpus.formulas.values()))  # the once-per-corpus cache: every formula encoded once
        cache_s = time.perf_counter() - t0
        times = []
        for p in [big] + others:
            t0 = time.perf_counter()
            r.rank(p.conjecture, p.premises)
            times.append(time.perf_counter() - t0)
        print(f"threads {threads}: the other corpus formulas cached in {cache_s:.2f} s; cached ranking of "
              f"the largest ({len(big.premises)} premises) {1000 * times[0]:.1f} ms; {len(others)} next-largest "
              f"problems ({statistics.fmean(len(p.premises) for p in others):.0f} premises on average): median "
              f"{1000 * statistics.median(times[1:]):.1f} ms, max {1000 * max(times[1:]):.1f} ms; uncached ranking "
              f"of the largest {1000 * uncached_s:.0f} ms = {uncached_s / times[0]:.0f}x the cached one")


if __name__ == "__main__":
    main()
