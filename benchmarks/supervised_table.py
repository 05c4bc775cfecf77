"""The README's table for the lecture's first system: the classical feed-forward net (ReLU, tanh, sigmoid)
against traditional machine learning, on the embedded digits and (with the data) on MNIST.

    python benchmarks/supervised_table.py [--mnist] [--out runs/table]

Each row is a real `deeplearn train` / `deeplearn baseline` run; the table reads their summary.json files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

ROWS = [
    ("digits", "MLP 256-256, ReLU", ["train"]),
    ("digits", "MLP 256-256, tanh", ["train", "--activation", "tanh"]),
    ("digits", "MLP 256-256, sigmoid", ["train", "--activation", "sigmoid"]),
    ("digits", "logistic regression", ["baseline", "--method", "logreg"]),
    ("digits", "SVM (RBF)", ["baseline", "--method", "svm"]),
    ("digits", "random forest", ["baseline", "--method", "forest"]),
]
MNIST_ROWS = [
    ("mnist", "MLP 512-512, ReLU, 15 epochs", ["train", "--data", "mnist", "--hidden", "512", "512", "--epochs",
                                               "15", "--batch-size", "128", "--lr", "0.1"]),
    ("mnist", "logistic regression", ["baseline", "--data", "mnist", "--method", "logreg"]),
    ("mnist", "random forest", ["baseline", "--data", "mnist", "--method", "forest"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", action="store_true", help="add the MNIST rows (needs DEEPLEARN_DATA)")
    ap.add_argument("--out", default="runs/table")
    a = ap.parse_args()
    print(machine())
    print("| data | model | test accuracy | training time (s) | command |\n|---|---|---|---|---|")
    for i, (data, label, cmd) in enumerate(ROWS + (MNIST_ROWS if a.mnist else [])):
        out = Path(a.out) / f"{i:02d}"
        extra = ["--progress", "none"] if cmd[0] == "train" else []
        subprocess.run([sys.executable, "-m", "deeplearn", *cmd, *extra, "--out", str(out)], check=True,
                       capture_output=True)
        s = json.loads((out / "summary.json").read_text())
        secs = s.get("train_time_s", s.get("fit_time_s"))
        print(f"| {data} | {label} | {s['test']['test_acc']:.4f} | {secs:.1f} | `deeplearn {' '.join(cmd)}` |",
              flush=True)


if __name__ == "__main__":
    main()
