"""The plain-PyTorch reference for the 300-second Tiny Shakespeare budget: a hand-written 2x256 nn.LSTM loop.

char-rnn's recipe (Karpathy 2015) with Adam: B contiguous streams, TBPTT chunks of T characters with the state
carried, Adam at a constant learning rate, gradient clipping. The budget counts the same thing as
`deeplearn text train --max-time`: seconds spent in training steps (batch, forward, backward, update), not
evaluation. The validation loss is measured the same way as deeplearn's (`EvalStreams`, every character of the
last 10% once, state carried through 32 pieces), so the two numbers compare.

    flock /tmp/deeplearn-cpu.lock python benchmarks/text_baseline_300s.py --max-time 300 --json runs/text/baseline.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.text.data import EvalStreams, Vocab, read_text, split_by_position


class PlainLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, hx=None):
        out, hx = self.lstm(self.embed(x), hx)
        return self.head(out), hx


@torch.no_grad()
def val_loss(model, ids, seq_len=128, streams=32) -> float:
    total, count, hx = 0.0, 0, None
    for x, y, reset in EvalStreams(ids, streams, seq_len).iter_epoch(0):
        logits, hx = model(x, None if reset[0] else hx)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum").item()
        count += int((y >= 0).sum())
    return total / count


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("DEEPLEARN_DATA", repo.parent / "shared" / "data"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", default=str(data / "text" / "tinyshakespeare.txt"))
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--max-time", type=float, default=300.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = read_text(a.file)
    vocab = Vocab.of(text)
    train, val = split_by_position(vocab.encode(text), 0.1)
    model = PlainLSTM(len(vocab), a.hidden, a.layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    stream_len = (len(train) - 1) // a.batch
    rows, cols = torch.arange(a.batch) * stream_len, torch.arange(a.seq_len)
    per_epoch = stream_len // a.seq_len
    spent, step, hx = 0.0, 0, None
    while spent < a.max_time:
        t0 = time.perf_counter()
        i = step % per_epoch
        if i == 0:
            hx = None  # the streams restart
        pos = rows[:, None] + i * a.seq_len + cols
        logits, hx = model(train[pos], hx)
        hx = tuple(h.detach() for h in hx)
        loss = F.cross_entropy(logits.flatten(0, 1), train[pos + 1].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} train loss {loss.item():.4f} time {spent:.0f} s", flush=True)
        spent += time.perf_counter() - t0
    model.eval()
    result = {"val_loss": val_loss(model, val), "steps": step, "train_time_s": spent,
              "chars_per_s": step * a.batch * a.seq_len / spent, "epochs": step / per_epoch,
              "model": f"lstm {a.layers}x{a.hidden}", "batch": a.batch, "seq_len": a.seq_len, "lr": a.lr,
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
