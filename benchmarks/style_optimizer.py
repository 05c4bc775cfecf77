"""Does a cheaper optimization step cost quality? The 512-px Gatys transfer with each L-BFGS variant, scored in
a net that was not optimized.

Variants: torch.optim.LBFGS (two-loop recursion) against this project's compact L-BFGS (optimize.py: the same
algorithm, so the same iterates up to rounding), with history sizes and Gram precisions (float32, or bfloat16
inputs with float32 accumulation). For each (photo, painting) pair and variant: seconds, the final loss in the
optimized net (float32 Grams), and the style / content distances of the output in the scoring net
(measure.distances; the same distances `vision style` prints), with the photo's and the painting's own for
reference.

    flock /tmp/deeplearn-cpu.lock taskset -c 0 python benchmarks/style_optimizer.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402
from deeplearn.vision.style.gatys import GatysObjective, StyleConfig, fit_longer, resize, transfer  # noqa: E402
from deeplearn.vision.style.images import read_colour  # noqa: E402
from deeplearn.vision.style.layers import style_layers  # noqa: E402
from deeplearn.vision.style.measure import distances, score_net_for  # noqa: E402
from deeplearn.vision.style import optimize as optimize_module  # noqa: E402

STYLES = Path(os.environ.get("DEEPLEARN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) \
    / "images" / "styles"
# (optimizer, history, Gram precision); the first is the previous default
VARIANTS = ["torch-lbfgs:50:float32", "lbfgs:50:float32", "lbfgs:50:bfloat16", "lbfgs:20:bfloat16",
            "lbfgs:10:bfloat16", "lbfgs:5:bfloat16"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--pairs", nargs="+", default=["skimage:astronaut=starry_night.jpg"],
                   help="PHOTO=PAINTING (a file in images/styles)")
    p.add_argument("--variants", nargs="+", default=VARIANTS, help="OPTIMIZER:HISTORY:GRAM_PRECISION[:HISTORY_DTYPE]")
    p.add_argument("--out", default="benchmarks/results/style_optimizer.txt")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net, scorer = load_feature_net(a.model), load_feature_net(score_net_for(a.model))
    sha = commit()
    lines = [f"# commit {sha}; command: python benchmarks/style_optimizer.py {' '.join(sys.argv[1:])}; runs: 1 each",
             machine(),
             f"{a.size} px, {a.model} (the other defaults of `vision style`: 2 scales x 100 L-BFGS steps); scored in "
             f"{scorer.name}",
             "| pair | optimizer | history | Gram inputs | s | final loss | style distance | content distance |",
             "|---|---|---|---|---|---|---|---|"]
    for pair in a.pairs:
        photo, painting = pair.split("=")
        content, style = read_colour(photo), read_colour(str(STYLES / painting))
        ref = None
        for v in a.variants:
            method, history, precision, *store = v.split(":")
            optimize_module.STORE = getattr(torch, store[0]) if store else None  # the pairs' dtype (image's)
            cfg = StyleConfig(size=a.size, optimizer=method, history=int(history), gram_precision=precision)
            t = time.perf_counter()
            result = transfer(net, content, [style], cfg, progress=False)
            seconds = time.perf_counter() - t
            out = result.image
            c = resize(content, out.shape[-2:])
            with torch.no_grad():  # the final loss in float32, whatever the run's Gram precision
                loss = float(GatysObjective(net, style_layers(net), c, [fit_longer(style, max(out.shape[-2:]))],
                                            [1.0], StyleConfig(gram_precision="float32"))(out[None]))
            if ref is None:
                ref = {"photo": distances(scorer, c, c, [style]),
                       "painting": distances(scorer, resize(style, out.shape[-2:]), c, [style])}
            d = distances(scorer, out, c, [style])
            lines.append(f"| {photo.split(':')[-1]} / {painting} | {method} | {history}"
                         f"{' (' + store[0] + ')' if store else ''} | {precision} | "
                         f"{seconds:.1f} | {loss:.4f} | {d['style']:.4f} | {d['content']:.4f} |")
            print(lines[-1], flush=True)
        lines.append(f"| {photo.split(':')[-1]} / {painting} | (the photo itself) | | | | | "
                     f"{ref['photo']['style']:.4f} | 0 |")
        lines.append(f"| {photo.split(':')[-1]} / {painting} | (the painting itself) | | | | | "
                     f"{ref['painting']['style']:.4f} | {ref['painting']['content']:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
