"""The README's DeepDream / feature-visualization gallery: runs each `deeplearn vision` command (printed, as run),
then stores a copy of its PNG in docs/img, reduced to a 256-colour palette when it would exceed 280 KB.

    flock /tmp/deeplearn-cpu.lock python benchmarks/dream_gallery.py --run runs/cifar-lenet5 --threads 2
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 280_000


def items(run: str | None, run_layer: str, run_grid_layer: str, run_channels: str):
    yield "dream-lite0-chelsea-blocks2", "dream skimage:chelsea --model efficientnet-lite0 --layer blocks.2"
    yield "dream-lite0-chelsea-blocks10", "dream skimage:chelsea --model efficientnet-lite0 --layer blocks.10"
    yield "dream-lite0-noise-blocks10", "dream --noise --model efficientnet-lite0 --layer blocks.10"
    yield "visualize-lite0-blocks12", "visualize --model efficientnet-lite0 --layer blocks.12 --channels 0-15"
    if run:
        name = Path(run).name
        yield f"dream-{name}-chelsea", f"dream skimage:chelsea --model {run} --layer {run_layer} --size 256"
        yield f"dream-{name}-noise", f"dream --noise --model {run} --layer {run_layer} --size 256"
        yield f"visualize-{name}", (f"visualize --model {run} --layer {run_grid_layer} --channels {run_channels} "
                                    f"--size 64 --init-sd 0.1")


def store(src: Path, dst: Path) -> int:
    """Copy src to dst as PNG; quantize to 256 colours if it would be larger than LIMIT bytes."""
    im = Image.open(src).convert("RGB")
    im.save(dst, format="PNG", optimize=True)
    if dst.stat().st_size > LIMIT:
        im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            dst, format="PNG", optimize=True)
    return dst.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a CIFAR-10 run directory of `deeplearn train` for the second half")
    ap.add_argument("--run-layer", default="c3", help="its dream layer (default c3)")
    ap.add_argument("--run-grid-layer", default="c3", help="its visualized layer (default c3)")
    ap.add_argument("--run-channels", default="0-15")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="names of the items to make (default: all)")
    args = ap.parse_args()
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, cmd in items(args.run, args.run_layer, args.run_grid_layer, args.run_channels):
            if args.only and name not in args.only:
                continue
            png = Path(tmp) / f"{name}.png"
            full = f"deeplearn vision {cmd} -o {name}.png"
            print(f"$ {full}", flush=True)
            subprocess.run([sys.executable, "-m", "deeplearn", "vision", *shlex.split(cmd), "--threads",
                            str(args.threads), "-o", str(png)], check=True, stderr=subprocess.DEVNULL)
            size = store(png, out / f"{name}.png")
            print(f"  -> docs/img/{name}.png ({size / 1000:.0f} KB)", flush=True)


if __name__ == "__main__":
    main()
