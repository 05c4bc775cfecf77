"""What a run writes: metrics.jsonl (one JSON row per log), summary.json, curves.png, and what it prints.

Only replica 0 writes or prints; the other replicas get a logger that does nothing.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from tqdm import tqdm


def write_json(path: Path, obj) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class RunLogger:
    def __init__(self, metrics_path: Path, active: bool, total_steps: int, progress: str = "auto",
                 tensorboard: bool = False, resume_step: int = 0):
        self.metrics_path, self.active = Path(metrics_path), active
        self.run_dir = self.metrics_path.parent
        self.bar = None
        self.tb = None
        if not active:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # On resume, rows after the checkpoint's step were never part of the surviving state: drop them.
        rows = [r for r in read_jsonl(self.metrics_path) if r.get("step", 0) <= resume_step]
        self.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        use_bar = progress == "bar" or (progress == "auto" and sys.stderr.isatty())
        self.lines = progress in ("lines", "auto") and not use_bar
        if use_bar:
            self.bar = tqdm(total=total_steps, initial=resume_step, unit="step", dynamic_ncols=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise RuntimeError("--tensorboard needs the tensorboard package: pip install tensorboard") from e
            self.tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def log(self, row: dict, evaluation: bool = False) -> None:
        if not self.active:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k not in ("step",):
                    self.tb.add_scalar(k, v, row["step"])
        shown = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")}
        if self.bar is not None:
            self.bar.n = row["step"]
            self.bar.set_postfix({k: _fmt(v) for k, v in shown.items() if k != "lr"}, refresh=True)
        elif self.lines and evaluation:
            print(f"step {row['step']} epoch {row.get('epoch', 0):.2f} | "
                  + " ".join(f"{k} {_fmt(v)}" for k, v in shown.items()), flush=True)

    def message(self, text: str) -> None:
        if self.active:
            (tqdm.write if self.bar is not None else print)(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


def plot_curves(metrics_path: Path, out_png: Path) -> None:
    """Training curves: losses on one panel, the other eval metrics on a second, the learning rate on a third."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(metrics_path)
    if not rows:
        return
    keys = sorted({k for r in rows for k, v in r.items() if isinstance(v, (int, float))})
    loss_keys = [k for k in keys if k.endswith("loss")]
    other = [k for k in keys if k.startswith(("val_", "test_")) and not k.endswith("loss")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, group, title in ((axes[0], loss_keys, "loss"), (axes[1], other, "eval metrics"),
                             (axes[2], ["lr"], "learning rate")):
        for k in group:
            pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
            if pts:
                ax.plot(*zip(*pts), marker="." if k.startswith(("val_", "test_")) else None, label=k)
        ax.set_title(title)
        ax.set_xlabel("step")
        if group:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
