"""The premise-usefulness model: conjecture encoder, premise encoder (separate weights), classifier head.

The three-part shape follows DeepMath's released model code (tensorflow/deepmath, premises/model.py); sizes
default to this CPU (embedding 32, hidden 64) and go up to the paper's (`--hidden 1024`). The head is
wider (128) than the encoders: on the tests' toy corpus a 32-unit concatenation head stayed at the constant
predictor for 2 of 4 seeds, a 128-unit one learned the conjecture-premise match for all 4.
"""

from __future__ import annotations

import torch
from torch import nn

from deeplearn.paths import DataError
from deeplearn.premises.neural.encoders import ENCODERS
from deeplearn.premises.neural.heads import HEADS

MODEL_DEFAULTS = {"encoder": "lstm", "head": "concat", "embed_dim": 32, "hidden": 64, "layers": 1,
                  "kernel": 5, "head_hidden": 128, "pool": "max", "share_embedding": False,
                  "mirror_init": False, "side_features": False, "knn_features": False}


class PremiseModel(nn.Module):
    def __init__(self, vocab_size: int, encoder: str = "lstm", head: str = "concat", embed_dim: int = 32,
                 hidden: int = 64, layers: int = 1, kernel: int = 5, head_hidden: int = 128, pool: str = "max",
                 share_embedding: bool = False, mirror_init: bool = False, side_features: bool = False,
                 knn_features: bool = False):
        super().__init__()
        enc = ENCODERS.get(encoder)  # an unknown name is a DataError listing the known ones
        head_cls = HEADS.get(head)
        self.conjecture = enc(vocab_size, embed_dim, hidden, layers, kernel, pool=pool)
        self.premise = enc(vocab_size, embed_dim, hidden, layers, kernel, pool=pool)  # same shape, its own weights
        if mirror_init:
            # start both encoders from the same weights (they stay separate parameters and drift apart in training):
            # equal inputs then embed equally, so the head starts from a similarity of the two formulas
            self.premise.load_state_dict(self.conjecture.state_dict())
        if share_embedding:
            # one symbol-embedding table read by both (still separate) encoders: a symbol then enters both sides as
            # the same vector, so what the encoders learn about matching frequent symbols carries over to rare and
            # unseen (hashed) ones; with two tables, each symbol's pair of vectors must be aligned by its own data
            self.premise.embed = self.conjecture.embed
        self.head = head_cls(self.conjecture.out_dim, self.premise.out_dim, head_hidden)
        self.side = None
        if side_features or knn_features:  # pair features (side.py), an MLP added to the head's logit
            from deeplearn.premises.neural.side import N_KNN, N_SIDE

            n_in = N_SIDE + (N_KNN if knn_features else 0)  # --knn-features: also k-NN's and SInE's verdicts
            self.side = nn.Sequential(nn.Linear(n_in, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, c_ids, c_len, p_ids, p_len, c_index, p_index, side=None) -> torch.Tensor:
        """Logits for pairs (c_index[i], p_index[i]) of the distinct conjectures and premises given; `side`: the
        pairs' (B, N_SIDE) features when the model has a side MLP."""
        return self.score(self.conjecture(c_ids, c_len)[c_index], self.premise(p_ids, p_len)[p_index], side)

    def score(self, c: torch.Tensor, p: torch.Tensor, side=None) -> torch.Tensor:
        """The logit of embedded pairs: the head, plus the side MLP of the pair features."""
        out = self.head(c, p)
        if self.side is not None:
            if side is None:
                raise ValueError("this model reads side features: pass the pairs' features")
            out = out + self.side(side).squeeze(-1)
        return out


def padded(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids padded with 0, and the lengths."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    ids = torch.zeros(len(seqs), int(lengths.max()) if len(seqs) else 1, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths
