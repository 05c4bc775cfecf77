"""DeepDream speed: seconds for a 512-px, 4-octave, 10-steps-per-octave dream with EfficientNet-Lite0, and the
ratio of the dream's time to the same number of plain forward + backward passes of the net at the same sizes.

The baseline, run in the same process and alternated with the dream: for each octave size, `steps` times a forward
pass of the same frozen network to the same layer and the backward pass of the layer's mean square to the input
pixels (what any gradient-ascent on pixels must pay). The ratio is what the recipe adds on top of it: jitter
(roll), gradient normalization, the step, clipping, the octave resizes and the bookkeeping. The net stops at the
dream's layer in both, so the ratio does not profit from the truncation.

    flock /tmp/deeplearn-cpu.lock python benchmarks/dream_speed.py --threads 2 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.vision.dream import DreamConfig, dream, octave_sizes  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402
from deeplearn.vision.pixels import read_photo  # noqa: E402


def plain_passes(net, layer: str, sizes, steps: int) -> float:
    """Seconds for `steps` forward + backward passes at each size (input grad only, as in the dream)."""
    t = time.perf_counter()
    for h, w in sizes:
        x = torch.rand(1, 3, h, w)
        for _ in range(steps):
            x.requires_grad_(True)
            value = net.forward_layers(x, [layer])[layer].pow(2).mean()
            (g,) = torch.autograd.grad(value, x)
            x = x.detach()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", nargs="+", default=["blocks.8", "head"])
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"commit {commit()}; command: python benchmarks/dream_speed.py --threads {args.threads} "
          f"--repeats {args.repeats} --layers {' '.join(args.layers)} --size {args.size}")
    print(machine())
    net = load_feature_net("efficientnet-lite0")
    image = read_photo("skimage:astronaut", 3, args.size)  # 512 x 512
    print(f"EfficientNet-Lite0, skimage:astronaut {image.shape[2]}x{image.shape[1]}, 4 octaves x 1.4, 10 steps; "
          f"median of {args.repeats} alternating runs")
    print("| layer | dream (s) | plain fwd+bwd x 40 (s) | ratio dream / plain |")
    print("|---|---|---|---|")
    for layer in args.layers:
        cfg = DreamConfig(layer)
        sizes = octave_sizes(*image.shape[-2:], cfg.octaves, cfg.octave_scale)
        dream(net, image, DreamConfig(layer, octaves=1, steps=2), progress=False)  # warm-up
        d, p = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            dream(net, image, cfg, progress=False)
            d.append(time.perf_counter() - t)
            p.append(plain_passes(net, layer, sizes, cfg.steps))
        dm, pm = statistics.median(d), statistics.median(p)
        print(f"| {layer} | {dm:.2f} | {pm:.2f} | {dm / pm:.3f} |", flush=True)


if __name__ == "__main__":
    main()
