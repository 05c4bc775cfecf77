"""Next-character prediction as an engine Task, with the hidden state carried across TBPTT chunks.

Loss: mean cross-entropy in nats per character; metrics: loss and bits per character (bpc = nats / ln 2).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from deeplearn.engine import Runtime, Task
from deeplearn.paths import DataError
from deeplearn.text.data import EvalStreams, StreamSource, Vocab, read_text, split_by_position
from deeplearn.text.model import CharRNN, detach

from deeplearn.text.options import TASK_DEFAULTS


class TextTask(Task):
    def __init__(self, model, train, evals, config: dict, meta: dict):
        self.model, self.train, self.evals, self.config, self.meta = model, train, evals, config, meta
        self.state = None  # the training streams' hidden state after the last chunk (detached)
        self.throughput_unit = ("chars", config.get("seq_len", TASK_DEFAULTS["seq_len"]))  # what the engine's throughput counts

    def forward(self, model, batch):
        x, _, reset = batch
        carry = self.config.get("carry_state", True) and not bool(reset[0])
        state = self.state if carry else None
        logits, state = model(x, state)
        self.state = detach(state)
        return logits

    def loss(self, output, batch):
        return F.cross_entropy(output.flatten(0, 1), batch[1].flatten(), ignore_index=-1)

    def metric_sums(self, output, batch):
        y = batch[1].flatten()
        return {"loss": F.cross_entropy(output.flatten(0, 1).float(), y, ignore_index=-1, reduction="sum"),
                "count": (y >= 0).sum()}

    def summarize(self, sums):
        loss = float(sums["loss"]) / max(float(sums["count"]), 1.0)
        return {"loss": loss, "bpc": loss / math.log(2)}

    def evaluate(self, model, source, device, autocast=None):
        """One pass over the text, carrying each piece's state from chunk to chunk (the training state is kept).

        With the state carried the text is read in calls of about EVAL_POSITIONS positions (`eval_chunks`), under
        inference mode."""
        state, carry = None, self.config.get("carry_state", True)
        with torch.inference_mode():
            sums = {"loss": torch.zeros((), device=device, dtype=torch.float64),
                    "count": torch.zeros((), device=device, dtype=torch.long)}
            for x, y, reset in eval_chunks(source, carry):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                with autocast() if autocast else contextlib.nullcontext():
                    logits, state = model(x, state if carry and not reset else None)
                for k, v in self.metric_sums(logits, (x, y)).items():
                    sums[k] += v
        sums = {k: v.clone() for k, v in sums.items()}  # outside inference mode: ordinary tensors (all-reduce)
        return sums

    def state_dict(self) -> dict:
        return {"state": list(self.state) if self.state is not None else []}

    def load_state_dict(self, saved: dict) -> None:
        self.state = tuple(saved["state"]) if saved.get("state") else None


# Positions (rows x columns) per evaluation call. Measured on this CPU (2x384 LSTM, 32 rows, 1 thread): 2,048
# (chunks of 64) reads ~25k chars/s against ~17-20k at 8,192 (chunks of 256): the activations stay in cache.
EVAL_POSITIONS = 2048


def eval_chunks(source, carry: bool = True):
    """(x, y, reset) of an evaluation source; with the state carried, an EvalStreams is read in calls of about
    EVAL_POSITIONS positions whatever its seq_len (the same computation: the state flows from call to call);
    without it each seq_len chunk starts from zero, as in training."""
    if not carry or not isinstance(source, EvalStreams):
        for x, y, reset in source.iter_epoch(0):
            yield x, y, bool(reset[0])
        return
    rows, cols = source.x.shape
    width = max(16, EVAL_POSITIONS // max(rows, 1))
    for start in range(0, cols, width):
        yield source.x[:, start:start + width], source.y[:, start:start + width], start == 0


def build_model(opts: dict, vocab_size: int) -> CharRNN:
    return CharRNN(vocab_size, opts["hidden"], opts["layers"], opts["cell"], opts["embed"], opts["dropout"])


def build_task(opts: dict, rt: Runtime, batch_size: int, seed: int) -> TextTask:
    """The task for text file opts["file"]: vocabulary of the whole file, last val_fraction for validation."""
    opts = {**TASK_DEFAULTS, **{k: v for k, v in opts.items() if v is not None}}
    text = read_text(opts["file"])
    vocab = Vocab.of(text)
    ids = vocab.encode(text)
    train_ids, val_ids = split_by_position(ids, opts["val_fraction"])
    try:
        train = StreamSource(train_ids, rt.per_rank_batch(batch_size) * rt.world_size, opts["seq_len"],
                             seed=seed, rank=rt.rank, world=rt.world_size)
    except DataError as e:
        raise DataError(f"{opts['file']}: {e}") from e
    evals = {"val": EvalStreams(val_ids, opts["eval_streams"], opts["seq_len"], rt.rank, rt.world_size)} \
        if len(val_ids) >= 2 else {}
    meta = {"vocab": vocab.chars, "file": str(Path(opts["file"]).resolve()), "num_chars": len(ids),
            "num_train": len(train_ids), "num_val": len(val_ids)}
    model = build_model(opts, len(vocab))
    return TextTask(model, train, evals, opts, meta)
