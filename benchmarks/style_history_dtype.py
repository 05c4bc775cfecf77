"""A/B of the L-BFGS history's dtype (optimize.STORE): ms per step of a 512-px Gatys transfer (astronaut, The
Starry Night) with float32 and bfloat16 pairs, alternated in one process, with a plain forward + backward of the
feature net beside them.

    flock /tmp/deeplearn-cpu.lock flock /tmp/deeplearn-core1.lock taskset -c 0,1 \\
        python benchmarks/style_history_dtype.py --threads 2 --model efficientnet-lite2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from style_speed import STYLE, GatysObjective, StyleConfig, fit_longer, read_colour, style_layers  # noqa: E402

import deeplearn.vision.style.optimize as optimize_module  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="efficientnet-lite2")
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(machine(), flush=True)
    net = load_feature_net(a.model)
    content = fit_longer(read_colour("skimage:astronaut"), 512)
    obj = GatysObjective(net, style_layers(net), content, [fit_longer(read_colour(str(STYLE)), 512)], [1.0],
                         StyleConfig())

    def plain(n: int = 20) -> float:
        t = time.perf_counter()
        for _ in range(n):
            y = content.clone()[None].requires_grad_(True)
            feats = net.forward_layers(y, obj.wanted)
            torch.autograd.grad(sum(f.mean() for f in feats.values()), y)
        return (time.perf_counter() - t) / n * 1e3

    plain(3)
    for _ in range(a.rounds):
        print(f"plain forward+backward {plain():.1f} ms", flush=True)
        for store in (torch.float32, torch.bfloat16):
            optimize_module.STORE = store
            t = time.perf_counter()
            n = len(optimize_module.optimize(content.clone()[None], obj, a.steps, "lbfgs", progress=False))
            print(f"history {store}: {(time.perf_counter() - t) / n * 1e3:.1f} ms per step", flush=True)
    optimize_module.STORE = None


if __name__ == "__main__":
    main()
