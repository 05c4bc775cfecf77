"""Training throughput of every vision model on this machine: samples/s, model FLOPs per sample, MFU.

    python benchmarks/vision_throughput.py --threads 2            # all models, a markdown table
    python benchmarks/vision_throughput.py --models lenet5 googlenet --steps 5

Each model takes SGD steps (forward, loss incl. auxiliary heads, backward, update) on random data at its own input
size; the first step is a warm-up and is not timed. Model FLOPs per training sample = 3 x forward FLOPs (the
backward pass costs about twice the forward: gradients for inputs and for weights), forward FLOPs = 2 x MACs of
the conv and linear layers (deeplearn.vision.flops). MFU = achieved model FLOP/s / peak FLOP/s, where the peak is
the best float32 matrix-product rate timed in this same process with the same threads: torch.mm at 2048-4096, or
a 1x1 convolution (also a matrix product, through oneDNN), whichever is faster.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F

from deeplearn.models import ClassifierOutput, count_parameters, get, logits_of
from deeplearn.vision.flops import count_macs

MODELS = ["lenet5", "lenet5-modern", "alexnet-cifar", "zfnet-cifar", "googlenet-cifar", "bn-inception-cifar",
          "alexnet", "zfnet", "googlenet", "bn-inception"]


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_matmul_flops(sizes=(2048, 3072, 4096), repeats: int = 3) -> float:
    """Best float32 FLOP/s of n x n matmuls (2 n^3 FLOPs each): the best over sizes and repeats, as contention
    and small sizes only ever slow it down."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)  # warm-up: thread pool start, caches
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def conv_rates(threads: int) -> list[tuple[int, float]]:
    """Model FLOP/s of a 256->256-channel convolution on 14x14 maps (batch 32, forward) for 1x1, 3x3 and 5x5
    kernels. A 1x1 convolution is a plain matrix product; if the larger kernels beat the matmul peak, the library
    computes them with fewer arithmetic operations than the direct method (Winograd- or FFT-style algorithms), and
    MFU counted in model FLOPs can pass 100 %."""
    out = []
    for k in (1, 3, 5):
        x, w = torch.randn(32, 256, 14, 14), torch.randn(256, 256, k, k)
        F.conv2d(x, w, padding=k // 2)  # warm-up
        best = min(_timed(lambda: F.conv2d(x, w, padding=k // 2)) for _ in range(3))
        out.append((k, 2 * 32 * 256 * 256 * k * k * 14 * 14 / best))
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def batch_size_for(input_hw: int, macs: int) -> int:
    """Small batches for the expensive nets, so each model's measurement takes seconds, not minutes."""
    if input_hw >= 200:
        return 4
    return 64 if macs < 1e7 else 16 if macs > 1e9 else 32


def time_training(name: str, steps: int, batch: int | None) -> dict:
    spec = get(name)
    classes = 1000 if spec.input_size[0] >= 200 else 10
    shape = (spec.channels, *spec.input_size)
    torch.manual_seed(0)
    model = spec.build(classes, shape)
    macs = count_macs(model, shape)  # eval-mode forward: the network that is used at test time
    train_macs = count_macs(model, shape, train=True)  # plus the auxiliary heads (GoogLeNet)
    bs = batch or batch_size_for(shape[1], macs)
    x, y = torch.randn(bs, *shape), torch.randint(0, classes, (bs,))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()

    def step():
        out = model(x)
        loss = F.cross_entropy(logits_of(out), y)
        if isinstance(out, ClassifierOutput):
            loss = loss + sum(0.3 * F.cross_entropy(a, y) for a in out.aux)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    sps = steps * bs / dt
    return {"model": name, "input": "x".join(map(str, shape)), "params": count_parameters(model), "batch": bs,
            "macs": macs, "train_flops": 3 * 2 * train_macs, "samples_per_s": sps,
            "flops_per_s": sps * 3 * 2 * train_macs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up step)")
    p.add_argument("--batch-size", type=int, help="one batch size for all (default: by model cost)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", help="also write the rows (and the peak) to this JSON file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    mm_peak = peak_matmul_flops()
    rates = conv_rates(args.threads)
    # A 1x1 convolution is a matrix product too, computed by oneDNN rather than torch.mm's BLAS: on this machine it
    # ran far faster than torch.mm, so the peak is the best of both (an MFU against torch.mm alone passed 100 %).
    peak = max(mm_peak, rates[0][1])
    print(f"machine: {cpu_name()}, {args.threads} threads; torch {torch.__version__}; float32 matrix-product peak "
          f"{peak / 1e9:.1f} GFLOP/s = best of torch.mm (2048^2..4096^2: {mm_peak / 1e9:.1f}) and a 1x1 "
          f"convolution (256->256 channels, 14x14, batch 32: {rates[0][1] / 1e9:.1f})")
    print("convolution check (model FLOP/s, same shape): " + ", ".join(
        f"{k}x{k} {r / 1e9:.0f} GFLOP/s ({r / peak:.0%} of the peak)" for k, r in rates) +
        " - a larger kernel above 100 % means fewer operations than the direct method (Winograd- or FFT-style)")
    print("| model | input | params | batch | forward GMACs/sample | train GFLOPs/sample | samples/s | MFU |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name in args.models:
        r = time_training(name, args.steps, args.batch_size)
        rows.append(r)
        print(f"| `{r['model']}` | {r['input']} | {r['params']:,} | {r['batch']} | {r['macs'] / 1e9:.4f} | "
              f"{r['train_flops'] / 1e9:.3f} | {r['samples_per_s']:.1f} | {r['flops_per_s'] / peak:.1%} |",
              flush=True)
    peak_after = peak_matmul_flops()
    print(f"peak matmul re-measured after the models: {peak_after / 1e9:.1f} GFLOP/s (a drop means contention)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": cpu_name(), "threads": args.threads, "torch": torch.__version__,
                       "peak_flops": peak, "mm_peak_flops": mm_peak, "conv_flops": rates,
                       "peak_flops_after": peak_after, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
