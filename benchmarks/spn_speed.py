"""Evaluation throughput of the tensorized circuit against DeeProb-kit (node by node, numpy) and our own naive
node-by-node evaluator, on the same circuit and the same instances, alternating in one process.

    python benchmarks/spn_speed.py --data nltcs --structure hclt --hidden 16 --repeats 5

Prints instances/s of each and the ratios; first checks that all three give the same log-likelihoods.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeplearn.spn.circuit import Circuit  # noqa: E402
from deeplearn.spn.data import load_for_training  # noqa: E402
from deeplearn.spn.graph import naive_log_prob  # noqa: E402
from deeplearn.spn.learnspn import LearnSPNConfig, learnspn  # noqa: E402
from deeplearn.spn.structures import hclt_graph, rat_graph  # noqa: E402


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="nltcs")
    ap.add_argument("--data-dir")
    ap.add_argument("--structure", choices=["hclt", "rat", "learnspn"], default="hclt")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--instances", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from deeplearn.spn.oracle import deeprob_log_prob, to_deeprob

    data = load_for_training(args.data, args.data_dir)
    g = {"hclt": lambda: hclt_graph(data["train"], args.hidden),
         "rat": lambda: rat_graph(data["train"].shape[1]),
         "learnspn": lambda: learnspn(data["train"], LearnSPNConfig())}[args.structure]()
    c = Circuit(g, seed=0)
    full = c.to_graph()
    dr = to_deeprob(full)
    x = data["test"][: args.instances].astype(np.int64)
    xt = torch.as_tensor(x)

    def ours():
        with torch.no_grad():
            return c(xt).double().numpy()

    a, b, n = ours(), deeprob_log_prob(dr, x), naive_log_prob(full, x)
    err_dr, err_naive = float(np.abs(a - b).max()), float(np.abs(a - n).max())
    t_ours = t_dr = t_naive = None
    rows = {"ours": [], "deeprob": [], "naive": []}
    for _ in range(args.repeats):  # alternate, so load changes hit all three alike
        rows["ours"].append(timed(ours, 3))
        rows["deeprob"].append(timed(lambda: deeprob_log_prob(dr, x), 1))
        rows["naive"].append(timed(lambda: naive_log_prob(full, x), 1))
    t_ours, t_dr, t_naive = (statistics.median(rows[k]) for k in ("ours", "deeprob", "naive"))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = "?"
    import deeprob

    print(f"commit {commit}")
    print(f"command: python benchmarks/spn_speed.py {' '.join(sys.argv[1:])}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
          f", {torch.get_num_threads()} thread(s), deeprob-kit {getattr(deeprob, '__version__', '1.1.0')}, "
          f"numpy {np.__version__}; median of {args.repeats} alternating runs")
    st = g.stats()
    print(f"circuit: {args.structure} on {args.data}: {st['nodes']:,} nodes, {st['edges']:,} edges, "
          f"{len(c.layers)} layers; {len(x)} test instances")
    print(f"max |ours - deeprob| = {err_dr:.2e}, max |ours - naive| = {err_naive:.2e} (log-likelihood, nats)")
    print("| evaluator | instances/s | ours is faster by |\n|---|---|---|")
    for name, t in (("ours (tensorized, torch)", t_ours), ("DeeProb-kit (node by node)", t_dr),
                    ("naive node by node (numpy)", t_naive)):
        print(f"| {name} | {len(x) / t:,.0f} | {t / t_ours:.1f}x |")


if __name__ == "__main__":
    main()
