"""Is `--amp bf16` faster than float32 on this CPU? Seconds per training step of the cifar-fast net (the recipe's
widths, batch 32, channels-last, SGD with Nesterov momentum) in float32 and under bf16 autocast, alternated in one
process, and the ratio. Where the CPU has no bf16 arithmetic (no AVX512-BF16, no AMX) PyTorch emulates it.

    taskset -c 0 python benchmarks/amp_cpu.py --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.engine.runtime import cpu_has_native_bf16  # noqa: E402
from deeplearn.vision.models.cifar_fast import CifarFast  # noqa: E402


def step_seconds(net, opt, x, y, bf16: bool, steps: int) -> float:
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5, help="timed steps per precision and round (median)")
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"commit {commit()}; python benchmarks/amp_cpu.py --threads {a.threads} --batch {a.batch} "
          f"--steps {a.steps} --rounds {a.rounds}")
    print(machine())
    print(f"native bf16 (AVX512-BF16 or AMX): {cpu_has_native_bf16()}")
    torch.manual_seed(0)
    net = CifarFast().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.85, nesterov=True)
    x = torch.randn(a.batch, 3, 32, 32).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (a.batch,))
    for bf16 in (False, True):  # warm-up
        step_seconds(net, opt, x, y, bf16, 1)
    for r in range(a.rounds):
        fp32 = step_seconds(net, opt, x, y, False, a.steps)
        bf16 = step_seconds(net, opt, x, y, True, a.steps)
        print(f"round {r}: float32 {fp32:.3f} s/step, bf16 autocast {bf16:.3f} s/step, bf16/float32 {bf16 / fp32:.1f}x",
              flush=True)


if __name__ == "__main__":
    main()
