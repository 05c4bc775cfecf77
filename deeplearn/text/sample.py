"""Sampling text from a trained model, one character at a time (as char-rnn does).

temperature T divides the logits before the softmax (T -> 0 approaches the greedy argmax, which T = 0 gives
exactly; T > 1 flattens the distribution); top-k keeps only the k likeliest characters. A seed fixes the draws.
"""

from __future__ import annotations

from typing import Iterator

import torch

from deeplearn.paths import DataError
from deeplearn.text.data import Vocab
from deeplearn.text.model import CharRNN


def next_id(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator) -> int:
    """Draw the next character id from the logits (V,) of the last position."""
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits.double() / temperature  # float64: T = 1e-6 must not overflow to inf / nan
    if top_k is not None and 0 < top_k < len(logits):
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=0)
    return int(torch.multinomial(probs, 1, generator=gen))


@torch.no_grad()
def generate(model: CharRNN, vocab: Vocab, length: int, temperature: float = 1.0, top_k: int | None = None,
             prime: str = "", seed: int = 0) -> Iterator[str]:
    """Yield `length` new characters as they are made (the priming text is read, not repeated).

    Without a priming text the model starts from a newline (or, if the vocabulary has none, its first character).
    """
    gen = torch.Generator().manual_seed(seed)
    if not prime:
        prime = "\n" if "\n" in vocab.index else vocab.chars[0]
    ids = vocab.encode(prime, what="the priming text")
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(ids.to(device)[None], None)  # read the whole priming text in one call
    for _ in range(length):
        i = next_id(logits[0, -1].float().cpu(), temperature, top_k, gen)
        yield vocab.chars[i]
        logits, state = model(torch.tensor([[i]], device=device), state)


def check_options(length: int, temperature: float, top_k: int | None) -> None:
    if length < 0:
        raise DataError(f"--length must be >= 0, not {length}")
    if temperature < 0:
        raise DataError(f"--temperature must be >= 0 (0 = greedy), not {temperature}")
    if top_k is not None and top_k < 1:
        raise DataError(f"--top-k must be >= 1, not {top_k}")
