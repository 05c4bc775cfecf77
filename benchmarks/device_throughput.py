"""Training throughput through the engine on whatever device is present: samples/s and MFU for LeNet-5 and
GoogLeNet, with the engine's speed paths off (fp32) and on (bf16 autocast + channels_last [+ torch.compile]).

    python benchmarks/device_throughput.py                 # CUDA if present, else CPU
    python benchmarks/device_throughput.py --compile --models googlenet

The data are random uint8 images held on the device (the engine's small-data fast path). samples/s is the median
of the engine's logged windows after the first (which holds cuDNN autotuning / compilation). Model FLOPs per
training sample = 3 x 2 x MACs of conv and linear layers (GoogLeNet's auxiliary heads included, as they train);
MFU = model FLOP/s / the best rate of a large matmul in the same dtype, timed here in the same process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from deeplearn.engine import Runtime, TensorSource, TrainConfig, fit  # noqa: E402
from deeplearn import models  # noqa: E402
from deeplearn.supervised.encoding import Encoder  # noqa: E402
from deeplearn.supervised.task import ClassificationTask  # noqa: E402
from deeplearn.vision.flops import count_macs  # noqa: E402

SETTINGS = {"lenet5": dict(batch=1024, steps=300, n=60000), "googlenet": dict(batch=128, steps=60, n=2048)}


def peak_matmul(device, dtype, n=8192, repeats=5) -> float:
    if device.type == "cpu":
        n = 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def run(name, device, amp, channels_last, compile_, steps, batch, n):
    torch.manual_seed(0)
    spec = models.get(name)
    shape = (spec.channels or 3, *spec.input_size)
    model = spec.build(1000 if shape[1] >= 200 else 10, shape)
    macs = count_macs(model, shape, train=True)
    x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, device=device)
    y = torch.randint(0, 10, (n,), device=device)
    src = TensorSource((x, y), batch, shuffle=True, transform=Encoder(255, [0.5] * shape[0], [0.25] * shape[0]))
    task = ClassificationTask(model, src, {}, 1000 if shape[1] >= 200 else 10, {"aux_weight": 0.3},
                              {"class_names": []})
    c = TrainConfig(steps=steps, batch_size=batch, lr=0.01, momentum=0.9, amp=amp, channels_last=channels_last,
                    compile=compile_, progress="none", log_every=max(steps // 10, 1), device=device.type)
    with tempfile.TemporaryDirectory() as d:
        fit(task, c, Runtime(device), Path(d) / "run")
        rows = [json.loads(line) for line in (Path(d) / "run/metrics.jsonl").read_text().splitlines()]
    rate = statistics.median(r["samples_per_s"] for r in rows[1:])
    return rate, macs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=list(SETTINGS))
    ap.add_argument("--compile", action="store_true", help="add a torch.compile row")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the step counts (CPU: use e.g. 0.05)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True  # fp32 rows use TF32 tensor cores, as PyTorch users do
    torch.backends.cudnn.allow_tf32 = True
    print(machine())
    peaks = {"fp32": peak_matmul(device, torch.float32)}
    if device.type == "cuda":
        peaks["bf16"] = peak_matmul(device, torch.bfloat16)
    print("measured matmul peak: " + ", ".join(f"{k} {v / 1e12:.1f} TFLOP/s" for k, v in peaks.items()))
    variants = [("fp32", "none", False, False)]
    if device.type == "cuda":
        variants.append(("bf16 + channels_last", "bf16", True, False))
        if a.compile:
            variants.append(("bf16 + channels_last + compile", "bf16", True, True))
    print(f"| model | batch | variant | samples/s | model GFLOP/sample | MFU |\n|---|---|---|---|---|---|")
    for name in a.models:
        s = SETTINGS[name]
        steps = max(int(s["steps"] * a.scale), 20)
        for label, amp, cl, comp in variants:
            rate, macs = run(name, device, amp, cl, comp, steps, s["batch"], s["n"])
            flops = 6 * macs
            peak = peaks["bf16" if amp == "bf16" else "fp32"]
            print(f"| {name} | {s['batch']} | {label} | {rate:,.0f} | {flops / 1e9:.3f} | "
                  f"{100 * rate * flops / peak:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
