"""Convolutional encoder: stacked 1-D convolutions, then max over time (DeepMath's fastest variant)."""

from deeplearn.premises.neural.base import ConvStack, Encoder, masked_max, register


@register("cnn")
class CNNEncoder(Encoder):
    def __init__(self, vocab_size, embed_dim=32, hidden=64, layers=2, kernel=5, pool="max"):
        super().__init__(vocab_size, embed_dim, hidden)
        self.convs = ConvStack(embed_dim, hidden, layers, kernel)

    def forward(self, ids, lengths):
        return masked_max(self.convs(self.embed(ids), lengths), lengths)
