"""The fast CIFAR-10 recipe's speed on this machine: MFU against the measured matrix-product peak, and images/s
through the engine against a plain PyTorch loop doing the same work.

    python benchmarks/cifar_fast.py --threads 1 --steps 12 --repeats 3

Model FLOPs per training image = 3 x forward FLOPs (forward = 2 x the MACs of the conv and linear layers,
deeplearn.vision.flops; the backward costs about twice the forward). The peaks are timed in this process with the
same threads: torch.mm of n x n matrices (2 n^3 FLOPs) and a 1x1 convolution (a matrix product through oneDNN,
channels_last), each in float32 and in bfloat16; MFU is given against the best bfloat16 and the best float32 peak.

Engine vs plain: the recipe's model, batch, augmentation (flip-translate on uint8 images held in memory, the
Encoder), bf16 autocast, channels_last, SGD + Nesterov. The engine run is `fit` with the recipe's options (linear
schedule, Lookahead every 5 steps, label smoothing); the plain loop is the hand-written loop of the same steps
(without the LR plan and Lookahead, which are the engine's extra work). Both count the same things as images/s
(batch fetch + encode + forward + backward + update), alternate in one process, median of --repeats runs each.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine  # noqa: E402
from deeplearn.engine import Runtime, TensorSource, TrainConfig, fit  # noqa: E402
from deeplearn.engine.optim import build_optimizer  # noqa: E402
from deeplearn.models import get  # noqa: E402
from deeplearn.supervised.encoding import Encoder  # noqa: E402
from deeplearn.supervised.task import ClassificationTask  # noqa: E402
from deeplearn.vision.flops import count_macs  # noqa: E402

RECIPE = dict(optimizer="sgd", lr=0.375, momentum=0.85, nesterov=True, weight_decay=1.33e-3, schedule="linear",
              warmup_steps=200, min_lr=0.026, lookahead_every=5, amp="bf16", channels_last=True)
MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]


def _best_rate(fn, flops: float, repeats: int = 3) -> float:
    fn()  # warm-up: thread pool, oneDNN primitive creation
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return flops / best


def peaks() -> dict[str, float]:
    """FLOP/s of torch.mm (2048^2 and 4096^2) and of a 1x1 convolution (256 -> 256 channels, 16x16, batch 64,
    channels_last), in float32 and bfloat16: the best of each kind."""
    out = {}
    for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        out[f"mm_{tag}"] = max(_best_rate(lambda a=torch.randn(n, n, dtype=dtype), b=torch.randn(n, n, dtype=dtype):
                                          torch.mm(a, b), 2 * n ** 3) for n in (2048, 4096))
        x = torch.randn(64, 256, 16, 16, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(256, 256, 1, 1, dtype=dtype).contiguous(memory_format=torch.channels_last)
        out[f"conv1x1_{tag}"] = _best_rate(lambda: F.conv2d(x, w), 2 * 64 * 256 * 256 * 16 * 16)
    return out


def _data(n: int):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g)


def _task(batch: int, x, y) -> ClassificationTask:
    torch.manual_seed(0)
    model = get("cifar-fast").build(10, (3, 32, 32))
    enc = Encoder(255, MEAN, STD, augment="flip-translate")
    train = TensorSource((x, y), batch, shuffle=True, seed=0, transform=enc)
    return ClassificationTask(model, train, {}, 10, {"label_smoothing": 0.2, "aux_weight": 0.0}, {})


def engine_rate(batch: int, steps: int, x, y) -> float:
    task = _task(batch, x, y)
    c = TrainConfig(steps=steps, batch_size=batch, eval_every=10 ** 9, checkpoint_minutes=None, progress="none",
                    **RECIPE)
    with tempfile.TemporaryDirectory() as d:
        summary = fit(task, c, Runtime(torch.device("cpu")), Path(d) / "run")
    return summary["samples_per_s"]


def plain_rate(batch: int, steps: int, x, y) -> float:
    """The same steps, by hand: fetch + encode, forward under bf16 autocast, label-smoothed loss, backward, step."""
    task = _task(batch, x, y)
    model = task.model.to(memory_format=torch.channels_last).train()
    opt = build_optimizer(model, TrainConfig(**RECIPE))
    t0 = time.perf_counter()
    for xb, yb in itertools.islice(_batches(task.train), steps):
        loss = _step(model, opt, xb.contiguous(memory_format=torch.channels_last), yb)
    loss.item()
    return steps * batch / (time.perf_counter() - t0)


def _batches(source):
    for epoch in itertools.count():
        yield from source.iter_epoch(epoch)


def _step(model, opt, xb, yb) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=12, help="timed steps per run")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    pk = peaks()
    print("peaks (GFLOP/s): " + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in pk.items()))
    macs = count_macs(get("cifar-fast").build(10, (3, 32, 32)), (3, 32, 32))
    train_flops = 3 * 2 * macs
    print(f"cifar-fast: {macs / 1e6:.1f} forward MMACs / image, {train_flops / 1e9:.3f} training GFLOPs / image")
    x, y = _data(args.batch_size * 10)
    plain_rate(args.batch_size, 2, x, y)  # warm-up of both paths' kernels (oneDNN primitive cache)
    eng, pln = [], []
    for _ in range(args.repeats):
        eng.append(engine_rate(args.batch_size, args.steps, x, y))
        pln.append(plain_rate(args.batch_size, args.steps, x, y))
        print(f"  run: engine {eng[-1]:.1f} img/s, plain {pln[-1]:.1f} img/s", flush=True)
    e, q = statistics.median(eng), statistics.median(pln)
    bf16 = max(pk["mm_bf16"], pk["conv1x1_bf16"])
    fp32 = max(pk["mm_fp32"], pk["conv1x1_fp32"])
    print(f"| threads | batch | engine img/s | plain img/s | engine / plain | model TFLOP/s | MFU vs bf16 peak "
          f"({bf16 / 1e12:.2f} TFLOP/s) | MFU vs fp32 peak ({fp32 / 1e12:.2f}) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.threads} | {args.batch_size} | {e:.1f} | {q:.1f} | {e / q:.3f} | {e * train_flops / 1e12:.3f} | "
          f"{e * train_flops / bf16:.1%} | {e * train_flops / fp32:.1%} |")


if __name__ == "__main__":
    main()
