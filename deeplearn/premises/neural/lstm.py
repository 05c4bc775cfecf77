"""The lecture's encoder: an LSTM over the formula, its last output is the embedding (DeepMath's best model)."""

from torch import nn

from deeplearn.premises.neural.base import Encoder, forget_bias, last_state, register


@register("lstm")
class LSTMEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.rnn = forget_bias(nn.LSTM(embed_dim, hidden, num_layers=layers, batch_first=True))

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.embed(ids), lengths, self.pool)
