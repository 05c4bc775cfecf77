"""deeplearn: the systems of the lecture *Deep Learning Introduction* (Szegedy and Irving), on PyTorch."""

__version__ = "0.1.0"
