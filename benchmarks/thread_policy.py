"""Thread policies on a shared CPU: the same `deeplearn train` jobs with each policy, on an idle machine and with
another job (a second training of the same kind) on the cores, as real CLI processes, alternating.

    python benchmarks/thread_policy.py [--repeats 2] [--job digits|mnist]

Policies: torch's default (all cores, OpenMP threads spinning while they wait: OMP_WAIT_POLICY unset), all cores
with OMP_WAIT_POLICY=PASSIVE (waiting threads sleep), and one thread. Figure: wall seconds of the job (median of
the repeats) and the ratio to the default on the idle machine. The policy that never collapses under load is
deeplearn's default (README, "Threads").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

JOBS = {
    "digits": ["train", "--epochs", "30"],  # the README's first command: the MLP on the embedded digits
    "mnist": ["train", "--data", "mnist", "--hidden", "512", "512", "--steps", "400", "--batch-size", "128",
              "--eval-every", "400", "--val-fraction", "0"],
}
POLICIES = {
    "all cores, spinning (torch default)": ({"OMP_WAIT_POLICY": "ACTIVE"}, []),
    "all cores, OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, []),
    "1 thread": ({}, ["--threads", "1"]),
}


def run_job(job: list[str], env_extra: dict, flags: list[str], load: bool) -> float:
    with tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        cmd = [sys.executable, "-m", "deeplearn", *job, "--progress", "none", *flags]
        other = None
        if load:  # another job of the same kind on the cores, with torch's default policy
            forever = ["--epochs", "100000", "--steps", "10000000", "--eval-every", "100000"]
            other = subprocess.Popen([sys.executable, "-m", "deeplearn", *job, *forever, "--progress", "none",
                                      "--out", f"{d}/load"], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(4)  # let it start training
        t0 = time.perf_counter()
        subprocess.run([*cmd, "--out", f"{d}/run"], check=True, env={**env, **env_extra}, capture_output=True)
        dt = time.perf_counter() - t0
        if other is not None:
            other.kill()
            other.wait()
        return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--job", choices=list(JOBS), default="digits")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"job: deeplearn {' '.join(JOBS[args.job])}; wall seconds, median of {args.repeats} alternating runs")
    times = {(p, load): [] for p in POLICIES for load in (False, True)}
    for _ in range(args.repeats):
        for load in (False, True):
            for name, (env, flags) in POLICIES.items():
                times[(name, load)].append(run_job(JOBS[args.job], env, flags, load))
    base = statistics.median(times[(next(iter(POLICIES)), False)])
    print(f"{'policy':<40} {'idle s':>8} {'shared s':>9} {'idle/base':>10} {'shared/base':>12}")
    for name in POLICIES:
        idle, shared = (statistics.median(times[(name, x)]) for x in (False, True))
        print(f"{name:<40} {idle:>8.2f} {shared:>9.2f} {idle / base:>10.2f} {shared / base:>12.2f}")


if __name__ == "__main__":
    main()
