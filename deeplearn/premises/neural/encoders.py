"""The formula encoders (`--encoder`): the interface every variant implements, the variants, their registry.

An encoder maps a padded batch of id sequences `ids` (B, T) with `lengths` (B,) to embeddings (B, out_dim).
The conjecture and the premise each get their own encoder instance (separate weights, as DeepMath).

    lstm      the lecture's encoder: an LSTM over the formula (DeepMath's best model)
    gru       a GRU instead (one of DeepMath's alternatives)
    cnn       stacked 1-D convolutions, then max over time (DeepMath's fastest variant)
    cnn-lstm  local convolution features read by an LSTM
Recurrent encoders pool with max over their outputs (default) or take the last output (DeepMath's choice).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deeplearn.registry import Registry

ENCODERS: Registry[type] = Registry("encoder")


def register(name: str):
    def deco(cls):
        cls.kind = name
        return ENCODERS.add(name, cls)
    return deco


class Encoder(nn.Module):
    kind = "encoder"

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden: int = 64, layers: int = 1, kernel: int = 5,
                 pool: str = "max"):
        super().__init__()
        # recurrent encoders: "max" over outputs, or DeepMath's "last" output; on the toy corpus of the tests a
        # last-output LSTM never left the constant predictor in 1,200 full-batch steps, max pooling learned within 300
        self.pool = pool
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)  # padding embeds to zeros
        self.out_dim = hidden

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def forget_bias(rnn: nn.LSTM, value: float = 1.0) -> nn.LSTM:
    """Start the LSTM's forget gates open (Jozefowicz et al., ICML 2015): with torch's zero bias the gate is 0.5
    and a symbol's signal halves at every later token - on our toy corpus the model then never learned at all."""
    with torch.no_grad():
        for name, b in rnn.named_parameters():
            if name.startswith("bias_ih"):
                b[rnn.hidden_size: 2 * rnn.hidden_size].fill_(value)  # gate order: input, forget, cell, output
    return rnn


def last_state(rnn: nn.Module, x: torch.Tensor, lengths: torch.Tensor, pool: str = "last") -> torch.Tensor:
    """The top layer's output after each sequence's own last element (DeepMath's choice), or with pool="max" the
    max over all its outputs; packing makes padding irrelevant either way."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, h = rnn(packed)
    if pool == "max":
        y, _ = pad_packed_sequence(out, batch_first=True)
        return masked_max(y, lengths.to(y.device))
    h = h[0] if isinstance(h, tuple) else h  # LSTM returns (h, c)
    return h[-1]


def masked_max(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Max over time of (B, T, C) features, ignoring padded positions."""
    mask = torch.arange(x.shape[1], device=x.device)[None, :] >= lengths[:, None]
    return x.masked_fill(mask[:, :, None], float("-inf")).max(dim=1).values


class ConvStack(nn.Module):
    """`layers` same-length 1-D convolutions with ReLU over (B, T, C) features."""

    def __init__(self, in_dim: int, hidden: int, layers: int, kernel: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(in_dim if i == 0 else hidden, hidden, kernel, padding=kernel // 2)
                                   for i in range(layers))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])[:, None, :]
        h = x.transpose(1, 2)
        for conv in self.convs:
            h = torch.relu(conv(h)) * mask  # zero the padding again: the next layer must not see its activations
        return h.transpose(1, 2)


@register("lstm")
class LSTMEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.rnn = forget_bias(nn.LSTM(embed_dim, hidden, num_layers=layers, batch_first=True))

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.embed(ids), lengths, self.pool)


@register("gru")
class GRUEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.rnn = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True)

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.embed(ids), lengths, self.pool)


@register("cnn")
class CNNEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=2, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden)
        self.convs = ConvStack(embed_dim, hidden, layers, kernel)

    def forward(self, ids, lengths):
        return masked_max(self.convs(self.embed(ids), lengths), lengths)


@register("cnn-lstm")
class CNNLSTMEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.convs = ConvStack(embed_dim, hidden, 1, kernel)
        self.rnn = forget_bias(nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True))

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.convs(self.embed(ids), lengths), lengths, self.pool)
