"""Test accuracy over training time of a `--eval-test` run (recipes/cifar10-fast.toml): a table and a PNG.

    python benchmarks/cifar_fast_curve.py runs/cifar10-fast-20min --png docs/img/cifar/test-acc-vs-time.png

Reads the run's metrics.jsonl (rows with test_acc carry train_time_s) and summary.json (the final test, after
Lookahead's last copy of the slow weights). "At T minutes" is the last evaluation at or before T minutes of
training: an accuracy the run had reached by then.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deeplearn.engine.logger import read_jsonl  # noqa: E402


def curve(run: Path) -> list[tuple[float, int, float]]:
    """(train seconds, step, test accuracy) of every evaluation, then the final test."""
    pts = [(r["train_time_s"], r["step"], r["test_acc"]) for r in read_jsonl(run / "metrics.jsonl") if "test_acc" in r]
    s = json.loads((run / "summary.json").read_text())
    return pts + [(s["train_time_s"], s["steps"], s["test"]["test_acc"])]


def reached_by(pts, seconds: float) -> tuple[float, int, float] | None:
    before = [p for p in pts if p[0] <= seconds + 1e-6]
    return before[-1] if before else None


def draw(pts, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p[0] / 60 for p in pts[:-1]], [100 * p[2] for p in pts[:-1]], "o-", label="test accuracy (fast weights)")
    ax.plot([pts[-1][0] / 60], [100 * pts[-1][2]], "r*", ms=12, label=f"final (slow weights): {100 * pts[-1][2]:.2f} %")
    ax.axhline(90, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("test accuracy (%), 10,000 images, flip TTA")
    ax.set_ylim(max(0, min(100 * p[2] for p in pts) - 5), 100)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--png", type=Path)
    p.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 15, 20])
    args = p.parse_args()
    pts = curve(args.run)
    s = json.loads((args.run / "summary.json").read_text())
    print(f"run {args.run}: {s['steps']} steps, {s['epochs']} epochs, {s['train_time_s']:.0f} s training, "
          f"{s['samples_per_s']:.0f} img/s, threads {s['threads']}, {s['device_name']}, torch {s['torch']}")
    print("| train time (s) | step | test accuracy |")
    print("|---|---|---|")
    for t, step, acc in pts:
        print(f"| {t:.0f} | {step} | {100 * acc:.2f} % |")
    for m in args.minutes:
        hit = reached_by(pts, 60 * m)
        print(f"reached by {m:g} min: " + (f"{100 * hit[2]:.2f} % (step {hit[1]}, {hit[0]:.0f} s)" if hit else "-"))
    if args.png:
        draw(pts, args.png, f"cifar-fast on CIFAR-10 (JPEG q75), {s['threads']} thread(s), {s['epochs']:.1f} epochs")


if __name__ == "__main__":
    main()
