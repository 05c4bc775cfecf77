"""Style-transfer speed on this CPU: seconds for a 512-px Gatys transfer and a 512-px doodle, the time of one
optimization step against one plain forward + backward pass of the feature net, and the doodle's peak memory.

- Gatys: skimage:astronaut (512x512) in the style of The Starry Night, the `deeplearn vision style` defaults
  (EfficientNet-Lite0, 2 scales 256 -> 512, 100 L-BFGS steps each).
- Step ratio, at 512x512, alternated in the same process (median of --repeats): K optimization steps of the
  transfer (the loss closure: forward to the deepest style layer, content + Gram + TV losses, backward, L-BFGS's
  update) against K plain passes of the same frozen net to the same layers (forward, backward of the sum of the
  layers' means to the pixels).
- Doodle: Monet.jpg + Monet_sem.png -> Coastline_sem.png (512x384), the `deeplearn vision doodle` defaults, in a
  fresh process; peak memory = that process's peak resident set (VmHWM, reset by /proc/self/clear_refs once the
  net and inputs are loaded: ru_maxrss would start at the forking parent's size) against its size before.

    flock /tmp/deeplearn-cpu.lock python benchmarks/style_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402
from deeplearn.vision.style.gatys import GatysObjective, StyleConfig, fit_longer, transfer  # noqa: E402
from deeplearn.vision.style.images import read_colour  # noqa: E402
from deeplearn.vision.style.layers import style_layers  # noqa: E402
from deeplearn.vision.style.optimize import optimize  # noqa: E402

DATA = Path(os.environ.get("DEEPLEARN_DATA", ROOT.parent / "shared" / "data")).resolve() / "images"
STYLE = DATA / "styles" / "starry_night.jpg"
DOODLE = DATA / "doodle"

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads({threads})
sys.path.insert(0, {root!r})
from deeplearn.vision.features import load_feature_net
from deeplearn.vision.style.doodle_io import load_doodle
from deeplearn.vision.style.semantic import DoodleConfig, paint
d = load_doodle({style!r}, {style_map!r}, {target!r})
net = load_feature_net("efficientnet-lite0")
def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
before = status_kb("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM); a forked child inherits its parent's
t = time.perf_counter()
if {run}:
    paint(net, d.style, d.style_maps, d.target_maps, None, DoodleConfig(iterations={iterations}), progress=False)
print(json.dumps({{"seconds": time.perf_counter() - t, "maxrss_kb": status_kb("VmHWM"), "before_kb": before}}))
"""


def steps_vs_plain(net, content, style, k: int, repeats: int) -> tuple[float, float]:
    """Median seconds of k transfer steps and of k plain forward + backward passes, alternated."""
    layers = style_layers(net)
    objective = GatysObjective(net, layers, content, [style], [1.0], StyleConfig())
    wanted = objective.wanted
    step_t, plain_t = [], []
    for _ in range(repeats):
        x = content.clone()[None]
        t = time.perf_counter()
        optimize(x, objective, k, "lbfgs", progress=False)
        step_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(k):
            y = content.clone()[None].requires_grad_(True)
            feats = net.forward_layers(y, wanted)
            (g,) = torch.autograd.grad(sum(f.mean() for f in feats.values()), y)
        plain_t.append(time.perf_counter() - t)
    return statistics.median(step_t), statistics.median(plain_t)


def doodle_process(threads: int, run: bool, iterations: int = 100) -> dict:
    code = CHILD.format(threads=threads, iterations=iterations, root=str(ROOT), style=str(DOODLE / "Monet.jpg"),
                        style_map=str(DOODLE / "Monet_sem.png"), target=str(DOODLE / "Coastline_sem.png"), run=run)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def stylize_ms(run: str, image: torch.Tensor, repeats: int) -> float:
    from deeplearn.vision.style.fast import load_stylizer

    model = load_stylizer(run)
    x = fit_longer(image, 512)[None]
    times = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="steps per timing of the step ratio")
    p.add_argument("--parts", nargs="+", default=["ratio", "gatys", "doodle"], choices=["ratio", "gatys", "doodle"])
    p.add_argument("--doodle-iterations", type=int, default=100,
                   help="L-BFGS steps per scale of the doodle (memory: only L-BFGS's history grows with them)")
    p.add_argument("--fast-run", default=None, help="a `vision style-train` run: also time its 512-px stylization")
    p.add_argument("--out", default="benchmarks/results/style_speed.txt")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net = load_feature_net("efficientnet-lite0")
    content, style = read_colour("skimage:astronaut"), read_colour(str(STYLE))
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    lines = [f"# commit {sha.strip()}; command: python benchmarks/style_speed.py {' '.join(sys.argv[1:])}; runs: 1 "
             f"(the step ratio: median of {a.repeats} alternating runs of {a.steps} steps)",
             machine(), "| what | figure | target |", "|---|---|---|"]
    gatys_s = None
    if "ratio" in a.parts:
        step, plain = steps_vs_plain(net, fit_longer(content, 512), fit_longer(style, 512), a.steps, a.repeats)
        lines.append(f"| one transfer step / one plain forward+backward (512x512, Lite0 to "
                     f"{style_layers(net).style[-1]}) | {step / plain:.3f} ({step / a.steps * 1e3:.0f} ms / "
                     f"{plain / a.steps * 1e3:.0f} ms) | <= 1.3 |")
    if "gatys" in a.parts:
        t = time.perf_counter()
        result = transfer(net, content, [style], StyleConfig(size=512), progress=False)
        gatys_s = time.perf_counter() - t
        lines.append(f"| Gatys 512x512 (astronaut, Starry Night; Lite0, "
                     f"{' -> '.join(f'{w}x{h}' for h, w in result.sizes)}, {sum(map(len, result.losses))} L-BFGS "
                     f"steps) | {gatys_s:.1f} s | <= 60 s |")
    if "doodle" in a.parts:
        doodle = doodle_process(a.threads, True, a.doodle_iterations)
        lines += [f"| doodle 512x384 (Monet -> Coastline; Lite0, 2 scales x {a.doodle_iterations} L-BFGS steps) | "
                  f"{doodle['seconds']:.1f} s | <= 300 s |",
                  f"| doodle peak memory (peak resident set of its process while painting; before it) | "
                  f"{doodle['maxrss_kb'] / 1024:.0f} MiB ({doodle['before_kb'] / 1024:.0f} MiB with net and inputs "
                  f"loaded) | bounded |"]
    if a.fast_run:
        ms = stylize_ms(a.fast_run, content, a.repeats)
        vs = f" ({gatys_s * 1e3 / ms:.0f}x faster than the Gatys transfer)" if gatys_s else ""
        lines.append(f"| fast stylizer ({a.fast_run}), astronaut 512x512, one forward pass (median of {a.repeats}) "
                     f"| {ms:.0f} ms{vs} | < 1000 ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
