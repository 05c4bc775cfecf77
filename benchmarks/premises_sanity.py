"""Check our E runner against the E 3.5.1 runs recorded with the corpus (`e_sample40.jsonl`): the same problems,
bushy and chainy, the same flags and CPU limit; prints solved counts and status disagreements.

    flock /tmp/deeplearn-cpu.lock python benchmarks/premises_sanity.py --data-dir ../shared/data --workers 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from deeplearn.premises import corpus, evaluate, prover


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpu-limit", type=float, default=5.0)
    ap.add_argument("--cache", default="runs/premises-sanity/e_cache.jsonl")
    args = ap.parse_args()
    c = corpus.load_mptp(args.data_dir)
    recs = [json.loads(line) for line in (c.root / "e_sample40.jsonl").read_text().splitlines()]
    recs = [r for r in recs if r["prover"].startswith("E3") and r["version"] in ("bushy", "chainy")]
    jobs = []
    for r in recs:
        p = c.get(r["id"])
        names = p.bushy if r["version"] == "bushy" else [a.name for a in p.premises]
        jobs.append(prover.Job(evaluate.selection_text(p, names), {"problem": p.id, "method": r["version"]}))
    Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = prover.prove_many(jobs, args.cpu_limit, args.workers, prover.ResultCache(args.cache))
    wall = time.perf_counter() - t0
    for version in ("bushy", "chainy"):
        pairs = [(r, x) for r, x in zip(recs, res) if r["version"] == version]
        ours = sum(x.proved for _, x in pairs)
        theirs = sum(r["status"] == "Theorem" for r, _ in pairs)
        differ = [f"{r['id']}: recorded {r['status']}, now {x.status}" for r, x in pairs
                  if (r["status"] == "Theorem") != x.proved]
        print(f"{version}: {ours}/{len(pairs)} proved now, {theirs}/{len(pairs)} recorded; differ: {differ or 'none'}")
    print(f"{len(jobs)} E runs, {wall:.0f} s wall, {args.workers} workers, {args.cpu_limit:g} s CPU each")


if __name__ == "__main__":
    main()
