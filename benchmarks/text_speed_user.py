"""Speed a user feels in the text system: `text sample` chars/s and `text evaluate` chars/s, the current code
against the previous implementation (kept below as the baseline), side by side in one process, alternating.

The model is the README's 2x384 LSTM with a 64-wide embedding over Tiny Shakespeare's 65 characters, with
random weights (seed 0): speed does not depend on the values of the weights. Sampling: 2,000 characters,
temperature 0.8, from the same seed; evaluate: the first --chars characters of Tiny Shakespeare read as
`text evaluate` does (32 streams, chunks of 256, state carried); both losses are printed (equal to 1e-4).

    flock /tmp/deeplearn-cpu.lock python benchmarks/text_speed_user.py --threads 1 [--rounds 3] [--chars 200000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

from deeplearn.paths import data_root  # noqa: E402
from deeplearn.text.data import EvalStreams, Vocab, read_text  # noqa: E402
from deeplearn.text.model import CharRNN  # noqa: E402
from deeplearn.text.sample import generate, next_id  # noqa: E402
from deeplearn.text.task import TextTask  # noqa: E402


# --- the previous implementation (deeplearn/text/sample.py and task.py before this change) -----------------
@torch.no_grad()
def old_generate(model, vocab, length, temperature=1.0, top_k=None, prime="", seed=0):
    gen = torch.Generator().manual_seed(seed)
    if not prime:
        prime = "\n" if "\n" in vocab.index else vocab.chars[0]
    ids = vocab.encode(prime, what="the priming text")
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(ids.to(device)[None], None)
    for _ in range(length):
        i = next_id(logits[0, -1].float().cpu(), temperature, top_k, gen)
        yield vocab.chars[i]
        logits, state = model(torch.tensor([[i]], device=device), state)


@torch.no_grad()
def old_evaluate(task, model, source, device):
    sums = {"loss": torch.zeros((), dtype=torch.float64), "count": torch.zeros((), dtype=torch.long)}
    state = None
    for batch in source.iter_epoch(0):
        x, y, reset = batch
        logits, state = model(x, state if not bool(reset[0]) else None)
        for k, v in task.metric_sums(logits, (x, y)).items():
            sums[k] += v
    return sums
# -------------------------------------------------------------------------------------------------------------


def time_sample(fn, model, vocab, n) -> tuple[float, str]:
    t0 = time.perf_counter()
    text = "".join(fn(model, vocab, n, 0.8, None, "ROMEO:", 0))
    return n / (time.perf_counter() - t0), text


def time_evaluate(fn, task, model, source) -> tuple[float, float]:
    t0 = time.perf_counter()
    loss = task.summarize(fn(model, source, torch.device("cpu")))["loss"]
    return source.n / (time.perf_counter() - t0), loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(data_root() / "text" / "tinyshakespeare.txt"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--length", type=int, default=2000)
    ap.add_argument("--chars", type=int, default=200_000, help="characters of the file to evaluate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    text = read_text(args.file)
    vocab = Vocab.of(text)
    ids = vocab.encode(text)[: args.chars]
    model = CharRNN(len(vocab), hidden=384, layers=2, cell="lstm", embed=64).eval()
    task = TextTask(model, None, {}, {"carry_state": True}, {})
    source = EvalStreams(ids, 32, 256)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}\ncommand: python benchmarks/text_speed_user.py {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}\nmodel: 2x384 LSTM, embed 64, vocabulary {len(vocab)}, random weights (seed 0)")
    rows = {"sample_old": [], "sample_new": [], "eval_old": [], "eval_new": []}
    for r in range(args.rounds):
        so, text_old = time_sample(old_generate, model, vocab, args.length)
        sn, text_new = time_sample(generate, model, vocab, args.length)
        eo, loss_old = time_evaluate(lambda m, s, d: old_evaluate(task, m, s, d), task, model, source)
        en, loss_new = time_evaluate(task.evaluate, task, model, source)
        for k, v in zip(rows, (so, sn, eo, en)):
            rows[k].append(v)
        print(f"round {r + 1}: sample old {so:,.0f} new {sn:,.0f} chars/s (same text: {text_old == text_new}); "
              f"evaluate old {eo:,.0f} new {en:,.0f} chars/s (loss old {loss_old:.6f} new {loss_new:.6f}, "
              f"|diff| {abs(loss_old - loss_new):.1e})", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"median over {args.rounds} rounds: sample {med['sample_old']:,.0f} -> {med['sample_new']:,.0f} chars/s "
          f"(ratio {med['sample_new'] / med['sample_old']:.2f}); evaluate {med['eval_old']:,.0f} -> "
          f"{med['eval_new']:,.0f} chars/s (ratio {med['eval_new'] / med['eval_old']:.2f})")


if __name__ == "__main__":
    main()
