"""Tabulate finished `deeplearn train` runs as the markdown rows of docs/vision.md.

    python benchmarks/vision_results.py runs/vision/cifar-*          # one row per run directory

Reads each run's config.json and summary.json; counts parameters by rebuilding the model (no weights loaded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deeplearn.models import count_parameters
from deeplearn.supervised.task import build_model


def row(run: Path) -> str:
    cfg = json.loads((run / "config.json").read_text())
    s = json.loads((run / "summary.json").read_text())
    meta, task, train = cfg["meta"], cfg["task"], cfg["train"]
    params = count_parameters(build_model(task, len(meta["class_names"]), meta["input_shape"]))
    test = s["test"]
    top5 = f"{test['test_top5']:.1%}" if "test_top5" in test else "-"
    return (f"| `{task['model']}` | {params:,} | {train['optimizer']} lr {train['lr']:g}, bs {train['batch_size']} | "
            f"{s['steps']:,} | {s['samples']:,} ({s['epochs']:.2f} ep) | {s['train_time_s']:.0f} s | "
            f"{s['samples_per_s']:.0f} | {test['test_acc']:.2%} | {top5} | {meta.get('num_test', '?'):,} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args()
    print("| model | params | recipe | steps | images seen | training time | samples/s | test acc | top-5 | "
          "test images |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        if (run / "summary.json").exists():
            print(row(run))


if __name__ == "__main__":
    main()
