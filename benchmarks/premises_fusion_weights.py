"""Choose neural+knn's reciprocal-rank-fusion constants on validation problems, and show what they give on test.

    python benchmarks/premises_fusion_weights.py --model runs/neural-lstm-v3
    python benchmarks/premises_fusion_weights.py --model runs/loop --k 60 --weights 0.5 1 2 4 8 16 32 --splits val

Validation: the last 5 % of the training split (the neural run's validation problems), ranked by the run's model
and by a k-NN fitted on the rest of the training split only. Test: the whole test split, k-NN fitted on the whole
training split (as `premises evaluate` does). A premise's fused score is w / (k + neural rank) + 1 / (k + k-NN
rank); the grid is k in {10, 30, 60} (60: Cormack et al. 2009) and w in {0.25, 0.5, 1} by default (`--k`,
`--weights`). Pick on validation only; the chosen w is `--neural-weight W` of rank/select/prove/evaluate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

KS = (16, 32, 64, 128)


def fused(a: list[str], b: list[str], k: float, w: float) -> list[str]:
    ra = {n: r for r, n in enumerate(a, start=1)}
    rb = {n: r for r, n in enumerate(b, start=1)}
    return sorted(ra, key=lambda n: -(w / (k + ra[n]) + 1 / (k + rb[n])))


def main() -> None:
    from deeplearn.premises import corpus as cm
    from deeplearn.premises import evaluate as ev
    from deeplearn.premises import ranker as rm
    from deeplearn.premises.knn import KNN

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--k", type=float, nargs="+", default=[10.0, 30.0, 60.0], help="fusion constants k")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 1.0], help="neural weights w")
    ap.add_argument("--splits", nargs="+", choices=["val", "test"], default=["val", "test"])
    args = ap.parse_args()
    corpus = cm.load_mptp(None)
    train, test = ev.chrono_split(corpus, 0.2)
    n_val = round(args.val_fraction * len(train))
    splits = {"val": (train[: len(train) - n_val], train[len(train) - n_val:]), "test": (train, test)}
    splits = {s: splits[s] for s in args.splits}
    neural = rm.load(args.model)
    print(machine())
    print("| split | ranker | " + " | ".join(f"recall@{k}" for k in KS) + " | AUC |")
    print("|---|---|" + "---|" * (len(KS) + 1))
    for split, (fit_on, probs) in splits.items():
        probs = [p for p in probs if p.deps]
        knn = KNN().fit(fit_on)
        a = {p.id: [n for n, _ in neural.rank(p.conjecture, p.premises)] for p in probs}
        b = {p.id: [n for n, _ in knn.rank(p.conjecture, p.premises)] for p in probs}
        rows = [("neural", lambda p: a[p.id]), ("k-NN", lambda p: b[p.id])]
        rows += [(f"fused k={k:g} w={w:g}", lambda p, k=k, w=w: fused(a[p.id], b[p.id], k, w))
                 for k in args.k for w in args.weights]
        scored = []
        for name, order in rows:
            ms = [ev.ranking_metrics(order(p), p.deps, KS) for p in probs]
            cells = [statistics.fmean(m[f"recall@{k}"] for m in ms) for k in KS] + [statistics.fmean(m["auc"] for m in ms)]
            print(f"| {split} ({len(probs)}) | {name} | " + " | ".join(f"{v:.3f}" for v in cells) + " |", flush=True)
            scored.append((statistics.fmean(cells[:len(KS)]), name))
        if split == "val":  # the first fused row with the best mean recall@16..128 (grid order breaks ties)
            best = max((s for s in scored if s[1].startswith("fused")), key=lambda s: s[0])
            print(f"chosen on validation (mean recall@{'/'.join(map(str, KS))} {best[0]:.4f}): {best[1]}", flush=True)


if __name__ == "__main__":
    main()
