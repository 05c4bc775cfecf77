"""Proof rate of "neural union k-NN" (DeepMath's headline style: a problem counts when E proves it with the top-k
of either ranker, for some k) from the runs.jsonl of `deeplearn premises evaluate` run(s) on the same problems.

    python benchmarks/premises_neural_union.py runs/premises-neural-test40/runs.jsonl [more runs.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="runs.jsonl files of evaluate (the same test problems)")
    ap.add_argument("--methods", nargs="+", default=["neural", "knn"])
    a = ap.parse_args()
    proved, problems = defaultdict(set), set()
    for path in a.runs:
        with open(path) as fh:
            for line in fh:
                r = json.loads(line)
                meta = r.get("meta", r)
                problems.add(meta["problem"])
                if r.get("proved") or r.get("status") == "Theorem":
                    proved[meta["method"]].add(meta["problem"])
    for m in a.methods:
        print(f"{m}: {len(proved[m])}/{len(problems)}")
    union = set().union(*(proved[m] for m in a.methods))
    print(f"{' union '.join(a.methods)}: {len(union)}/{len(problems)}")


if __name__ == "__main__":
    main()
