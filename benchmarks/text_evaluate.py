"""`deeplearn text evaluate`: the previous reading (32 cold pieces) against the new default (256 pieces, each
warmed by 256 characters it does not count) and bf16, on the same model and file, in one process.

    python benchmarks/text_evaluate.py RUN FILE [--reference-chars 200000] [--threads 2]

Prints chars/s of each (the best of --runs, after a warm-up) and the ratio to the previous reading, and each loss; on the first --reference-chars
characters it also reads the text as one stream (the exact carried-state loss) and prints each setting's
distance from it.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import machine
from deeplearn.text.commands import load_model
from deeplearn.text.data import EvalStreams, read_text
from deeplearn.text.task import TextTask

SETTINGS = {"previous (32 pieces, cold)": dict(streams=32, burn_in=0, amp=False),
            "default (256 pieces, burn-in 256)": dict(streams=256, burn_in=256, amp=False),
            "--amp bf16 (256, burn-in 256)": dict(streams=256, burn_in=256, amp=True)}


def evaluate(task, model, ids, streams, burn_in, amp, seq_len=256):
    source = EvalStreams(ids, streams, seq_len, burn_in=burn_in)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if amp else None
    t0 = time.perf_counter()
    loss = task.summarize(task.evaluate(model, source, torch.device("cpu"), autocast=autocast))["loss"]
    return loss, (len(ids) - 1) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("file")
    ap.add_argument("--reference-chars", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2, help="timed runs of each setting (the best is printed)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, vocab, cfg = load_model(args.run, "best")
    task = TextTask(model, None, {}, cfg["task"], cfg["meta"])
    ids = vocab.encode(read_text(args.file))
    print(f"# {machine()}")
    print(f"# model: {cfg['task']['cell']} {cfg['task']['layers']}x{cfg['task']['hidden']}; file {args.file}, "
          f"{len(ids):,} characters")
    for s in SETTINGS.values():  # warm-up: oneDNN builds its kernels on first use
        evaluate(task, model, ids[:20_000], **s)
    base = None
    for name, s in SETTINGS.items():
        results = [evaluate(task, model, ids, **s) for _ in range(args.runs)]
        loss, rate = results[0][0], max(r for _, r in results)
        base = base or rate
        print(f"whole file   {name:36s} loss {loss:.6f} nats/char  {rate:9,.0f} chars/s  ratio {rate / base:5.2f}")
    part = ids[:args.reference_chars]
    exact, rate = evaluate(task, model, part, streams=1, burn_in=0, amp=False)
    print(f"first {len(part):,}: one stream (exact) loss {exact:.6f}  ({rate:,.0f} chars/s)")
    for name, s in SETTINGS.items():
        loss, _ = evaluate(task, model, part, **s)
        print(f"first {len(part):,}: {name:36s} loss {loss:.6f}  |loss - exact| {abs(loss - exact):.2e}")


if __name__ == "__main__":
    main()
