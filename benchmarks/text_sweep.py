"""Validation loss after a fixed number of training characters, over model sizes, batch sizes and learning rates.

On a CPU the 300-second budget buys a number of characters that depends on the model (characters/s, measured
on the CPU); which model and learning rate then gives the lowest validation loss for that many characters does
not depend on the machine, so this sweep can run wherever it is fast (on a GPU: seconds per run). Each run
trains through deeplearn's engine with a cosine schedule fitted to its own length and reports the validation
loss of its final weights.

    python benchmarks/text_sweep.py --file tinyshakespeare.txt --device cuda --workers 8 --out sweep.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

# The default grid; each option below replaces one axis (models as LAYERSxHIDDEN).
MODELS = "1x256,1x512,2x128,2x256,2x384,3x256"
BATCHES = "32,64,128"
LRS = "2e-3,4e-3,8e-3"
BUDGETS = "1e6,2e6,4e6,8e6"  # training characters


def one_run(file: str, device: str, layers: int, hidden: int, batch: int, lr: float, budget: int,
            seq_len: int, embed: int | None) -> dict:
    import torch

    from deeplearn.engine import TrainConfig, fit, setup
    from deeplearn.text.task import build_task

    steps = max(budget // (batch * seq_len), 10)
    c = TrainConfig(steps=steps, batch_size=batch, optimizer="adam", lr=lr, schedule="cosine",
                    warmup_steps=min(50, steps // 10), min_lr=lr / 30, clip_grad=1.0, eval_every=steps,
                    log_every=10**9, progress="none", device=device, seed=0, threads=1)
    rt = setup(c)
    task = build_task({"file": file, "layers": layers, "hidden": hidden, "embed": embed, "seq_len": seq_len},
                      rt, batch, 0)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        s = fit(task, c, rt, Path(tmp) / "run")
    return {"layers": layers, "hidden": hidden, "embed": embed, "batch": batch, "seq_len": seq_len, "lr": lr,
            "chars": steps * batch * seq_len, "steps": steps, "val_loss": s["final"]["val_loss"],
            "params": sum(p.numel() for p in task.model.parameters()), "seconds": time.perf_counter() - t0,
            "device": str(torch.device(device))}


def _nums(text: str, typ) -> list:
    return [typ(float(v)) for v in text.split(",")]


def worker(args) -> None:
    index, a = args
    models = [tuple(int(v) for v in m.split("x")) for m in a.models.split(",")]
    grid = list(itertools.product(models, _nums(a.batches, int), _nums(a.lrs, float), _nums(a.budgets, float)))
    with open(f"{a.out}.{index}", "w") as f:
        for (layers, hidden), batch, lr, budget in grid[index::a.workers]:
            budget = int(budget)
            r = one_run(a.file, a.device, layers, hidden, batch, lr, budget, a.seq_len, a.embed)
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(json.dumps(r), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--models", default=MODELS)
    p.add_argument("--batches", default=BATCHES)
    p.add_argument("--lrs", default=LRS)
    p.add_argument("--budgets", default=BUDGETS)
    p.add_argument("--out", default="sweep.jsonl")
    a = p.parse_args()
    with mp.get_context("spawn").Pool(a.workers) as pool:
        pool.map(worker, [(i, a) for i in range(a.workers)])
    rows = []
    for i in range(a.workers):
        rows += [json.loads(line) for line in Path(f"{a.out}.{i}").read_text().splitlines()]
        Path(f"{a.out}.{i}").unlink()
    Path(a.out).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
