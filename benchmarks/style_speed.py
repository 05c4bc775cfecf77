"""Style-transfer speed on this CPU: seconds for a 512-px Gatys transfer and a 512-px doodle, the time of one
optimization step against one plain forward + backward pass of the feature net, peak memory of the doodle and of
a 1024-px Gatys transfer.

- Gatys (`--gatys-sizes`): skimage:astronaut in the style of The Starry Night, the `deeplearn vision style`
  defaults (coarse to fine: 256 -> 512, or 256 -> 512 -> 1024; 100 L-BFGS steps at each scale) through each of
  `--models` (the first, EfficientNet-Lite2, is the default of `vision style`), each in a fresh process.
- Step ratio, at 512x512, for each of `--models`: a step is one L-BFGS iteration as `vision style` runs it: one
  evaluation of the loss and its gradient (forward to the deepest style layer, content + Gram + TV losses,
  backward to the pixels) plus L-BFGS's direction and update (no line search: one evaluation per step). Timed over
  a whole run of `--steps` steps from the content image (so the history fills, as in a real transfer), against
  `--plain` plain passes of the same frozen net to the same layers (forward, then backward of the sum of the
  layers' means to the pixels), alternated in one process, median of `--repeats`.
- Doodle: Monet.jpg + Monet_sem.png -> Coastline_sem.png (512x384), the `deeplearn vision doodle` defaults, in a
  fresh process.
- Peak memory of a fresh process = its peak resident set (VmHWM, reset by /proc/self/clear_refs once the net and
  inputs are loaded: ru_maxrss would start at the forking parent's size), next to its size before.

    flock /tmp/deeplearn-cpu.lock flock /tmp/deeplearn-core1.lock python benchmarks/style_speed.py --threads 2
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

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402
from deeplearn.vision.style.gatys import GatysObjective, StyleConfig, fit_longer  # noqa: E402
from deeplearn.vision.style.images import read_colour  # noqa: E402
from deeplearn.vision.style.layers import style_layers  # noqa: E402
from deeplearn.vision.style.optimize import HISTORY, optimize  # noqa: E402

DATA = Path(os.environ.get("DEEPLEARN_DATA", ROOT.parent / "shared" / "data")).resolve() / "images"
STYLE = DATA / "styles" / "starry_night.jpg"
DOODLE = DATA / "doodle"

CHILD = """
import json, sys, time, torch
torch.set_num_threads({threads})
sys.path.insert(0, {root!r})
from deeplearn.vision.features import load_feature_net
job = {job!r}
net = load_feature_net(job["model"])
if job["kind"] == "doodle":
    from deeplearn.vision.style.doodle_io import load_doodle
    from deeplearn.vision.style.semantic import DoodleConfig, paint
    d = load_doodle(job["style"], job["style_map"], job["target"])
    run = lambda: paint(net, d.style, d.style_maps, d.target_maps, None, DoodleConfig(), progress=False)
else:
    from deeplearn.vision.style.gatys import StyleConfig, transfer
    from deeplearn.vision.style.images import read_colour
    content, style = read_colour(job["content"]), read_colour(job["style"])
    run = lambda: transfer(net, content, [style], StyleConfig(size=job["size"]), progress=False)
def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
before = status_kb("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM); a forked child inherits its parent's
t = time.perf_counter()
result = run()
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "peak_kb": status_kb("VmHWM"), "before_kb": before,
                  "sizes": [list(s) for s in result.sizes] if hasattr(result, "sizes") else [],
                  "steps": sum(map(len, result.losses))}}))
"""


def steps_vs_plain(net, content, style, steps: int, plain: int, repeats: int) -> tuple[float, float]:
    """Median seconds of one transfer step (over a run of `steps`) and of one plain forward + backward pass."""
    layers = style_layers(net)
    objective = GatysObjective(net, layers, content, [style], [1.0], StyleConfig())
    wanted = objective.wanted
    step_t, plain_t = [], []
    for _ in range(repeats):
        x = content.clone()[None]
        t = time.perf_counter()
        n = len(optimize(x, objective, steps, "lbfgs", progress=False))
        step_t.append((time.perf_counter() - t) / n)
        t = time.perf_counter()
        for _ in range(plain):
            y = content.clone()[None].requires_grad_(True)
            feats = net.forward_layers(y, wanted)
            (g,) = torch.autograd.grad(sum(f.mean() for f in feats.values()), y)
        plain_t.append((time.perf_counter() - t) / plain)
    return statistics.median(step_t), statistics.median(plain_t)


def child(threads: int, job: dict) -> dict:
    code = CHILD.format(threads=threads, root=str(ROOT), job=job)
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
    p.add_argument("--steps", type=int, default=100, help="L-BFGS steps per timing of the step ratio")
    p.add_argument("--plain", type=int, default=30, help="plain passes per timing of the step ratio")
    p.add_argument("--models", nargs="+", default=["efficientnet-lite2", "efficientnet-lite0"])
    p.add_argument("--parts", nargs="+", default=["ratio", "gatys", "doodle"], choices=["ratio", "gatys", "doodle"])
    p.add_argument("--gatys-sizes", nargs="+", type=int, default=[512])
    p.add_argument("--fast-run", default=None, help="a `vision style-train` run: also time its 512-px stylization")
    p.add_argument("--out", default="benchmarks/results/style_speed.txt")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    content, style = read_colour("skimage:astronaut"), read_colour(str(STYLE))
    sha = commit()
    dirty = " (+ uncommitted changes)" if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                                       capture_output=True, text=True, cwd=ROOT).stdout else ""
    lines = [f"# commit {sha.strip()}{dirty}; command: python benchmarks/style_speed.py {' '.join(sys.argv[1:])}; "
             f"runs: 1 (the step ratio: median of {a.repeats} alternating runs of {a.steps} steps and {a.plain} plain "
             "passes)", machine(), "| what | figure | target |", "|---|---|---|"]
    gatys_s = None
    if "ratio" in a.parts:
        for model in a.models:
            net = load_feature_net(model)
            step, plain = steps_vs_plain(net, fit_longer(content, 512), fit_longer(style, 512), a.steps, a.plain,
                                         a.repeats)
            lines.append(f"| one transfer step / one plain forward+backward (512x512, {model} to "
                         f"{style_layers(net).style[-1]}; a step over a {a.steps}-step L-BFGS run, history "
                         f"{HISTORY}) | {step / plain:.3f} ({step * 1e3:.0f} ms / {plain * 1e3:.0f} ms) | <= 1.3 |")
            print(lines[-1], flush=True)
    if "gatys" in a.parts:
        for size in a.gatys_sizes:
            for model in a.models:
                r = child(a.threads, {"kind": "gatys", "model": model, "size": size, "content": "skimage:astronaut",
                                      "style": str(STYLE)})
                gatys_s = gatys_s or r["seconds"]
                lines.append(f"| Gatys {size}x{size} (astronaut, Starry Night; {model}, "
                             f"{' -> '.join(f'{w}x{h}' for h, w in r['sizes'])}, {r['steps']} L-BFGS steps) | "
                             f"{r['seconds']:.1f} s; peak memory {r['peak_kb'] / 1024:.0f} MiB "
                             f"({r['before_kb'] / 1024:.0f} MiB before) | {'<= 60 s' if size == 512 else '-'} |")
                print(lines[-1], flush=True)
    if "doodle" in a.parts:
        r = child(a.threads, {"kind": "doodle", "model": "efficientnet-lite0", "style": str(DOODLE / "Monet.jpg"),
                              "style_map": str(DOODLE / "Monet_sem.png"), "target": str(DOODLE / "Coastline_sem.png")})
        lines += [f"| doodle 512x384 (Monet -> Coastline; Lite0, the defaults: {r['steps']} L-BFGS steps over "
                  f"2 scales) | {r['seconds']:.1f} s | <= 300 s |",
                  f"| doodle peak memory (peak resident set of its process while painting; before it) | "
                  f"{r['peak_kb'] / 1024:.0f} MiB ({r['before_kb'] / 1024:.0f} MiB with net and inputs loaded) | "
                  "bounded |"]
        print(lines[-1], flush=True)
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
