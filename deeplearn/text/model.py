"""The character model: embedding -> multi-layer recurrent net -> logits over the vocabulary.

The recurrent net shares its weights over time (the lecture's "parameter sharing over time"); the cell is an
LSTM (Hochreiter & Schmidhuber 1997), a GRU, or a vanilla tanh RNN for comparison. Dropout is applied between
layers and before the output layer, as in char-rnn (Karpathy 2015).
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

State = tuple  # LSTM: (h, c); GRU / RNN: (h,), each (layers, batch, hidden)


class CharRNN(nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 256, layers: int = 2, cell: str = "lstm",
                 embed: int | None = None, dropout: float = 0.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; one of {', '.join(CELLS)}")
        self.cell, self.hidden, self.layers = cell, hidden, layers
        embed = embed or hidden
        self.embed = nn.Embedding(vocab_size, embed)  # = a one-hot input times a weight matrix, without the zeros
        self.rnn = CELLS[cell](embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: (B, T) character ids -> logits (B, T, V) and the state after the last character."""
        hx = None if state is None else (state if self.cell == "lstm" else state[0])
        out, hx = self.rnn(self.embed(x), hx)
        return self.head(self.drop(out)), (tuple(hx) if self.cell == "lstm" else (hx,))


def detach(state: State | None) -> State | None:
    """Cut the graph at a chunk boundary: truncated BPTT keeps the values, not the history."""
    return None if state is None else tuple(s.detach() for s in state)

