"""Training characters/s of the char-LSTM on this CPU for several sizes and batch sizes (fp32, and bf16 autocast).

Each spec LAYERSxHIDDEN/BATCH[/bf16]: one training step (forward over T characters of B streams, backward, gradient
clipping, Adam) repeated; the median of the steps after two warm-up steps. Used to pick the model for the
300-second budget together with text_sweep.py (loss after N characters).

    flock /tmp/deeplearn-cpu.lock python benchmarks/text_cpu_speed.py 2x256/64 2x384/32 1x512/32/bf16
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from deeplearn.text.model import CharRNN, detach


def measure(layers: int, hidden: int, batch: int, seq_len: int, embed: int, bf16: bool, steps: int,
            vocab: int = 65) -> dict:
    torch.manual_seed(0)
    model = CharRNN(vocab, hidden, layers, "lstm", embed)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x, y = torch.randint(vocab, (batch, seq_len)), torch.randint(vocab, (batch, seq_len))
    state, times = None, []
    for _ in range(steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, state = model(x, state)
        state = tuple(s.float() for s in detach(state))
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[2:])[len(times[2:]) // 2]
    return {"model": f"{layers}x{hidden}", "batch": batch, "seq_len": seq_len, "embed": embed,
            "precision": "bf16-autocast" if bf16 else "fp32", "ms_per_step": round(t * 1000, 1),
            "chars_per_s": round(batch * seq_len / t), "threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("specs", nargs="+", help="LAYERSxHIDDEN/BATCH[/bf16]")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for spec in a.specs:
        parts = spec.split("/")
        layers, hidden = (int(v) for v in parts[0].split("x"))
        r = measure(layers, hidden, int(parts[1]), a.seq_len, a.embed, parts[-1] == "bf16", a.steps)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
