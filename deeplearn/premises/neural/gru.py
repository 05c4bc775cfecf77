"""GRU variant of the recurrent encoder (one of DeepMath's alternatives): last output is the embedding."""

from torch import nn

from deeplearn.premises.neural.base import Encoder, last_state, register


@register("gru")
class GRUEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.rnn = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True)

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.embed(ids), lengths, self.pool)
