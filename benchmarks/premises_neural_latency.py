"""Ranking latency of the neural ranker: premise embeddings cached once per corpus, then one conjecture encoding
plus the head over ~4,000 cached rows per ranking (issue 7 asks for well under 100 ms).

    python benchmarks/premises_neural_latency.py --model runs/neural-lstm-token [--data-dir ../shared/data]

Without --model it times an untrained model of the default size (the latency does not depend on the weights);
`--side-features`: one that also reads the symbol-name-invariant pair features (neural/side.py), computed for every
candidate at each ranking; `--knn-features`: also k-NN's and SInE's verdicts (a k-NN fitted on the training split).
Baseline, side by side: the same ranking of the largest problem by a fresh ranker, which must first encode every
candidate premise (what scoring pair by pair costs); the ratio is the cache's speed-up.
For a model with pair features it also times the plain-Python pair features (`SideFeatures.matrix_reference`, the
path before the array version) on the same problems in the same process, and checks that both rank alike.
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
    ap.add_argument("--knn-features", action="store_true", help="without --model: with k-NN/SInE features too")
    a = ap.parse_args()
    corpus = load_mptp(a.data_dir)
    knn = None
    if a.knn_features:
        from deeplearn.premises.evaluate import chrono_split
        from deeplearn.premises.knn import KNN

        knn = KNN().fit(chrono_split(corpus)[0])
    big = max(corpus.problems, key=lambda p: len(p.premises))  # the problem with the most candidates
    others = sorted(corpus.problems, key=lambda p: -len(p.premises))[1: 1 + a.repeats]
    for threads in a.threads:
        if a.model:
            r = ranker_mod.load(a.model)
        else:
            enc = Encoding.build(corpus.formulas.values())
            wide = a.side_features or a.knn_features
            side = SideFeatures.build(corpus.formulas.values(), knn) if wide else None
            r = NeuralRanker.from_model(PremiseModel(enc.size, side_features=wide, knn_features=a.knn_features), enc,
                                        {}, side=side)
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
        if r.side is not None:
            reference(r, [big] + others, times)


def reference(r, problems, times) -> None:
    """The old path: pair features in plain Python (matrix_reference), the same problems, the same ranker."""
    fast = r.side.matrix
    r.side.matrix = r.side.matrix_reference
    try:
        ref_times, same, worst = [], 0, 0.0
        for p in problems:
            t0 = time.perf_counter()
            ref = r.rank(p.conjecture, p.premises)
            ref_times.append(time.perf_counter() - t0)
            r.side.matrix = fast
            new = r.rank(p.conjecture, p.premises)
            r.side.matrix = r.side.matrix_reference
            same += [n for n, _ in new] == [n for n, _ in ref]
            worst = max(worst, max(abs(x - y) for (_, x), (_, y) in zip(sorted(new), sorted(ref))))
    finally:
        r.side.matrix = fast
    med, ref_med = statistics.median(times[1:]), statistics.median(ref_times[1:])
    print(f"  old path (plain-Python pair features, same process, same problems): median {1000 * ref_med:.1f} ms, "
          f"max {1000 * max(ref_times[1:]):.1f} ms; array path {ref_med / med:.1f}x faster; identical rankings "
          f"{same}/{len(problems)}, largest score difference {worst:.1e}")


if __name__ == "__main__":
    main()
