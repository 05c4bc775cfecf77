"""CNN -> LSTM: local convolution features read by an LSTM whose last output is the embedding."""

from torch import nn

from deeplearn.premises.neural.base import ConvStack, Encoder, forget_bias, last_state, register


@register("cnn-lstm")
class CNNLSTMEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=1, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden, pool=pool)
        self.convs = ConvStack(embed_dim, hidden, 1, kernel)
        self.rnn = forget_bias(nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True))

    def forward(self, ids, lengths):
        return last_state(self.rnn, self.convs(self.embed(ids), lengths), lengths, self.pool)
