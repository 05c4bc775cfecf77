"""The style-transfer gallery of docs/style.md and the README: runs each `deeplearn vision style | doodle` command
below (in this process, through the CLI), stores the pictures as JPEGs in docs/img/style/ and the printed figures
(time, distances measured in a net that was not optimized, semantic accuracy) in benchmarks/results/style_gallery.txt.

For each doodle it also runs plain Gatys on the same inputs (the painting's Grams, no maps, from noise at the
target's size: `vision style TARGET_MAP PAINTING --init noise --content-weight 0`) and measures the semantic
accuracy of both in Lite2: the fraction of output positions whose nearest painting patch lies in a region of the
kind the target map has there.

    flock /tmp/deeplearn-cpu.lock python benchmarks/style_gallery.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import contextlib
import io
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import commit, machine  # noqa: E402
from deeplearn.cli import main as cli  # noqa: E402

DATA_ROOT = os.environ.get("DEEPLEARN_DATA", "../shared/data")
DATA = f"{DATA_ROOT}/images"
IMG = ROOT / "docs" / "img" / "style"
S = f"{DATA}/styles"
D = f"{DATA}/doodle"

STYLE_RUNS = [
    ("chelsea-starry", f"skimage:chelsea {S}/starry_night.jpg"),
    ("chelsea-scream", f"skimage:chelsea {S}/the_scream.jpg"),
    ("astronaut-starry", f"skimage:astronaut {S}/starry_night.jpg"),
    ("astronaut-scream", f"skimage:astronaut {S}/the_scream.jpg"),
    ("astronaut-starry-colors", f"skimage:astronaut {S}/starry_night.jpg --preserve-colors"),
    ("coffee-starry-scream", f"skimage:coffee {S}/starry_night.jpg {S}/the_scream.jpg --style-weights 0.7 0.3"),
]
DOODLES = [("monet-coastline", "Monet", "Coastline"), ("renoir-landscape", "Renoir", "Landscape")]


def shown(args: str, tmp: Path) -> str:
    """The command as docs show it: data under $DEEPLEARN_DATA, pictures in the current directory."""
    return "deeplearn " + args.replace(str(tmp) + "/", "").replace(DATA_ROOT, "$DEEPLEARN_DATA")


def run(args: str) -> tuple[str, float]:
    """Run `deeplearn ARGS` in this process; (its stdout, seconds)."""
    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = cli(shlex.split(args))
    if code != 0:
        raise SystemExit(f"deeplearn {args} exited {code}")
    return buf.getvalue(), time.perf_counter() - t


def to_jpeg(png: Path, name: str, quality: int = 88) -> Path:
    from PIL import Image

    IMG.mkdir(parents=True, exist_ok=True)
    out = IMG / f"{name}.jpg"
    Image.open(png).convert("RGB").save(out, quality=quality, optimize=True)
    return out


def strip(images, height: int = 192):
    """Images side by side at one height (a PIL image)."""
    from PIL import Image

    ims = [im.convert("RGB").resize((round(im.width * height / im.height), height)) for im in images]
    canvas = Image.new("RGB", (sum(i.width for i in ims) + 4 * (len(ims) - 1), height), (255, 255, 255))
    x = 0
    for im in ims:
        canvas.paste(im, (x, 0))
        x += im.width + 4
    return canvas


def doodle_accuracy(png: Path, style: str, style_map: str, target_map: str) -> float:
    from deeplearn.vision.features import load_feature_net
    from deeplearn.vision.pixels import read_image
    from deeplearn.vision.style.doodle_io import load_doodle
    from deeplearn.vision.style.measure import semantic_accuracy

    d = load_doodle(style, style_map, target_map)
    return semantic_accuracy(load_feature_net("efficientnet-lite2"), read_image(png), d.target_labels, d.style,
                             d.style_labels)


def main() -> None:
    from PIL import Image

    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--only", nargs="*", default=None, help="names to run (default all)")
    p.add_argument("--tmp", default="/tmp/style-gallery")
    p.add_argument("--fast-run", default=None, help="a `vision style-train` run to stylize skimage:chelsea with")
    p.add_argument("--out", default=None, help="results file (default style_gallery.txt, with --only "
                   "style_gallery_part.txt, in benchmarks/results)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    tmp = Path(a.tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, spec in STYLE_RUNS:
        if a.only and name not in a.only:
            continue
        args = f"vision style {spec} --size {a.size} --no-progress -o {tmp / name}.png"
        out, sec = run(args)
        jpg = to_jpeg(tmp / f"{name}.png", name)
        lines += [f"## {name} ({jpg.stat().st_size // 1024} KB)", shown(args, tmp),
                  out.replace(str(tmp) + "/", "").strip(), ""]
        print(lines[-3], lines[-2], sep="\n", flush=True)
    for name, painting, target in DOODLES:
        if a.only and name not in a.only:
            continue
        style, smap, tmap = f"{D}/{painting}.jpg", f"{D}/{painting}_sem.png", f"{D}/{target}_sem.png"
        args = f"vision doodle --style {style} --style-map {smap} --target-map {tmap} --no-progress -o {tmp / name}.png"
        out, sec = run(args)
        base_args = f"vision style {tmap} {style} --init noise --content-weight 0 --size 512 --no-progress " \
                    f"--no-score -o {tmp / name}-gatys.png"
        base_out, base_sec = run(base_args)
        acc, base_acc = (doodle_accuracy(tmp / f"{n}.png", style, smap, tmap) for n in (name, f"{name}-gatys"))
        pic = strip([Image.open(tmp / f"{name}.png"), Image.open(tmp / f"{name}-gatys.png")], height=288)
        pic.save(IMG / f"{name}.jpg", quality=88, optimize=True)
        lines += [f"## {name} ({(IMG / f'{name}.jpg').stat().st_size // 1024} KB: doodle | plain Gatys; "
                  "inputs not committed)",
                  shown(args, tmp), out.strip(),
                  "plain Gatys on the same inputs: " + shown(base_args, tmp),
                  base_out.strip(),
                  f"semantic accuracy in efficientnet-lite2: doodle {acc:.3f}, plain Gatys {base_acc:.3f}", ""]
        print("\n".join(lines[-6:]), flush=True)
    if a.fast_run:
        args = f"vision stylize {a.fast_run} skimage:chelsea --size 512 -o {tmp}/fast-chelsea.png"
        out, sec = run(args)
        jpg = to_jpeg(tmp / "fast-chelsea.png", "fast-chelsea")
        lines += [f"## fast-chelsea ({jpg.stat().st_size // 1024} KB)", shown(args, tmp), out.strip(), ""]
    sha = commit()
    head = [f"# commit {sha.strip()}; command: python benchmarks/style_gallery.py {' '.join(sys.argv[1:])}; runs: 1",
            machine(), ""]
    out_file = Path(a.out) if a.out else \
        ROOT / "benchmarks" / "results" / ("style_gallery.txt" if not a.only else "style_gallery_part.txt")
    out_file.write_text("\n".join(head + lines) + "\n")


if __name__ == "__main__":
    main()
