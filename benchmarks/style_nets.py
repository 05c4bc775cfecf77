"""Which feature net makes the better style transfer? Each net's outputs scored in the OTHER nets.

For every (photo, painting) pair, `transfer` runs through each candidate net with the same options; each output
is scored in every net that did not make it (deeplearn.vision.style.measure.distances): the style distance
relative to the content photo's own (output / photo; < 1 means nearer the painting's Grams than the photo was)
and the content distance relative to the painting's (output / painting resized to the photo; < 1 means nearer
the photo's content than the painting is). The table gives the mean of both over pairs and scoring nets.

    flock /tmp/deeplearn-cpu.lock python benchmarks/style_nets.py --threads 2 --size 256
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.vision.features import load_feature_net  # noqa: E402
from deeplearn.vision.style.gatys import StyleConfig, resize, transfer  # noqa: E402
from deeplearn.vision.style.images import read_colour  # noqa: E402
from deeplearn.vision.style.measure import distances  # noqa: E402

NETS = ["efficientnet-lite0", "efficientnet-lite2", "random-multiscale"]
STYLES = Path(os.environ.get("DEEPLEARN_DATA", "../shared/data")) / "images" / "styles"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--photos", nargs="+", default=["skimage:chelsea", "skimage:astronaut"])
    p.add_argument("--styles", nargs="+", default=["starry_night.jpg", "the_scream.jpg"])
    p.add_argument("--out", default="benchmarks/results/style_nets.txt")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    nets = {n: load_feature_net(n) for n in NETS}
    rows = {n: {"style": [], "content": [], "seconds": []} for n in NETS}
    for photo in a.photos:
        for style_name in a.styles:
            content, style = read_colour(photo), read_colour(str(STYLES / style_name))
            for name, net in nets.items():
                t = time.perf_counter()
                out = transfer(net, content, [style], StyleConfig(size=a.size, iterations=a.iterations),
                               progress=False).image
                rows[name]["seconds"].append(time.perf_counter() - t)
                c, s = resize(content, out.shape[-2:]), resize(style, out.shape[-2:])
                for scorer_name, scorer in nets.items():
                    if scorer_name == name:
                        continue
                    d_out, d_c, d_s = (distances(scorer, im, c, [style]) for im in (out, c, s))
                    rows[name]["style"].append(d_out["style"] / d_c["style"])
                    rows[name]["content"].append(d_out["content"] / d_s["content"])
                print(name, photo, style_name, f"{rows[name]['style'][-1]:.3f} {rows[name]['content'][-1]:.3f}",
                      flush=True)
    sha = commit()
    lines = [f"# commit {sha}; command: python benchmarks/style_nets.py {' '.join(sys.argv[1:])}; runs: 1",
             machine(),
             f"{len(a.photos)} photos x {len(a.styles)} paintings, {a.size} px, {a.iterations} L-BFGS steps, "
             "default weights; each output scored in the two nets that did not make it",
             "| optimized through | style distance / photo's (lower: more style) | content distance / painting's "
             "(lower: more content) | sum | s per transfer |", "|---|---|---|---|---|"]
    for n, r in rows.items():
        st, co = statistics.mean(r["style"]), statistics.mean(r["content"])
        lines.append(f"| {n} | {st:.3f} | {co:.3f} | {st + co:.3f} | {statistics.mean(r['seconds']):.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
