"""Data-parallel scaling on this machine: samples/s with no DDP, DDP with 1 replica, and DDP with 2 replicas,
the same global batch and steps, run alternately as real `deeplearn train` / torchrun jobs.

    python benchmarks/replicas.py [--steps 400] [--repeats 2] [--model mlp] [--data mnist]

Threads: the single process uses all cores; with N replicas each gets cores / N. samples/s is the engine's own
(summary.json: training steps only, evaluation and start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402


def run(nproc: int | None, args, extra: list[str]) -> float:
    cores = os.cpu_count() or 1
    threads = cores if nproc is None else max(cores // nproc, 1)
    with tempfile.TemporaryDirectory() as d:
        train = ["train", "--model", args.model, "--data", args.data, "--steps", str(args.steps), "--batch-size",
                 str(args.batch), "--threads", str(threads), "--progress", "none", "--eval-every",
                 str(args.steps), "--val-fraction", "0", "--out", f"{d}/run", *extra]
        if nproc is None:
            cmd = [sys.executable, "-m", "deeplearn", *train]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
                   "-m", "deeplearn", *train]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        return json.loads(Path(d, "run/summary.json").read_text())["samples_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--data", default="mnist")
    a = ap.parse_args()
    extra = ["--hidden", "512", "512"] if a.model == "mlp" else []
    print(machine().split(";")[0] + f"; {a.model} on {a.data}, global batch {a.batch}, {a.steps} steps, "
          f"median of {a.repeats} alternating runs")
    res = {"no DDP (1 process)": [], "DDP, 1 replica": [], "DDP, 2 replicas": []}
    for _ in range(a.repeats):
        res["no DDP (1 process)"].append(run(None, a, extra))
        res["DDP, 1 replica"].append(run(1, a, extra))
        res["DDP, 2 replicas"].append(run(2, a, extra))
    base = statistics.median(res["no DDP (1 process)"])
    print(f"| setting | samples/s | ratio to no DDP |\n|---|---|---|")
    for k, v in res.items():
        m = statistics.median(v)
        print(f"| {k} | {m:,.0f} | {m / base:.3f} |")


if __name__ == "__main__":
    main()
