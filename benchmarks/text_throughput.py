"""Training characters/s of the char-LSTM through deeplearn's engine vs a plain hand-written nn.LSTM loop.

Both train the same model size on the same text with the same batches (B contiguous streams, TBPTT chunks of T,
state carried), Adam and gradient clipping; they run in the same process, alternating, so that a change in the
machine's load hits both. Time is wall-clock between the ends of two steps (everything the loop does in between:
making the batch, the step, the engine's logging), over the same step window, after warm-up steps.

    flock /tmp/deeplearn-cpu.lock python benchmarks/text_throughput.py [--file F] [--rounds 4] [--steps 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.engine import TrainConfig, fit, setup
from deeplearn.text.task import build_task


class PlainLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int, embed: int):
        super().__init__()
        self.embed, self.lstm = nn.Embedding(vocab, embed), nn.LSTM(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, hx=None):
        out, hx = self.lstm(self.embed(x), hx)
        return self.head(out), hx


def plain_run(ids: torch.Tensor, vocab: int, a, warm: int, steps: int) -> float:
    """A hand-written TBPTT loop; returns characters/s over steps warm+1 .. warm+steps."""
    torch.manual_seed(a.seed)
    model = PlainLSTM(vocab, a.hidden, a.layers, a.embed or a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    stream_len = (len(ids) - a.seq_len) // a.batch
    rows = torch.arange(a.batch) * stream_len
    cols = torch.arange(a.seq_len)
    hx = None
    for i in range(warm + steps):
        if i == warm:
            t0 = time.perf_counter()
        pos = rows[:, None] + i * a.seq_len + cols
        x, y = ids[pos], ids[pos + 1]
        logits, hx = model(x, hx)
        hx = tuple(h.detach() for h in hx)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
    loss.item()
    return steps * a.batch * a.seq_len / (time.perf_counter() - t0)


def engine_run(a, warm: int, steps: int, out: Path) -> float:
    c = TrainConfig(steps=warm + steps, batch_size=a.batch, optimizer="adam", lr=a.lr, schedule="cosine",
                    clip_grad=a.clip, eval_every=10**9, log_every=50, progress="none", threads=a.threads,
                    seed=a.seed)
    rt = setup(c)
    task = build_task({"file": a.file, "hidden": a.hidden, "layers": a.layers, "embed": a.embed,
                       "seq_len": a.seq_len, "eval_streams": 1, "val_fraction": 0.001}, rt, a.batch, a.seed)
    stamps = {}

    def on_step_end(step):
        if step in (warm, warm + steps):
            stamps[step] = time.perf_counter()

    fit(task, c, rt, out, on_step_end=on_step_end)
    return steps * a.batch * a.seq_len / (stamps[warm + steps] - stamps[warm])


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("DEEPLEARN_DATA", repo.parent / "shared" / "data"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--file", default=str(data / "text" / "tinyshakespeare.txt"))
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embed", type=int, default=None)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--warm", type=int, default=5)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from deeplearn.text.data import Vocab, read_text

    text = read_text(a.file)
    vocab = Vocab.of(text)
    ids = vocab.encode(text)
    eng, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):  # alternate, starting with a different one each round
            order = ["engine", "plain"] if r % 2 == 0 else ["plain", "engine"]
            for which in order:
                if which == "engine":
                    eng.append(engine_run(a, a.warm, a.steps, Path(tmp) / f"run{r}"))
                else:
                    plain.append(plain_run(ids, len(vocab), a, a.warm, a.steps))
            print(f"round {r + 1}: engine {eng[-1]:,.0f} chars/s, plain {plain[-1]:,.0f} chars/s, "
                  f"ratio {eng[-1] / plain[-1]:.3f}", flush=True)
    ratio = statistics.median(e / q for e, q in zip(eng, plain))
    result = {"engine_chars_per_s": eng, "plain_chars_per_s": plain, "median_ratio": ratio,
              "model": f"lstm {a.layers}x{a.hidden}", "batch": a.batch, "seq_len": a.seq_len,
              "steps_timed": a.steps, "threads": torch.get_num_threads(), "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
