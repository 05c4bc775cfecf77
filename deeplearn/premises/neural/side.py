"""Symbol-name-invariant pair features for the neural ranker (`--side-features`; issue 19, point 2).

The encoders read symbols by name, so a premise of a new article, whose symbols no training proof ever used,
reaches them as hash buckets. k-NN and SInE rank such premises by what does not depend on the names: which
symbols the conjecture and the premise share, and how rare those are. These features give the network that
signal as an extra input, per (conjecture, premise) pair, over part 1's MaSh features (`features.features`:
symbols and subterm shapes) weighted by their IDF over the training pool (an unseen feature gets the highest IDF):

  0 cosine      IDF^2-weighted cosine of the two feature sets (k-NN's similarity)
  1 cover_p     IDF mass of the shared features / the premise's (how much of the premise the conjecture mentions)
  2 cover_c     IDF mass of the shared features / the conjecture's
  3 rarest      the highest IDF among shared features / the conjecture's highest (SInE's trigger: the rarest
                symbol in common)
  4 shared      log(1 + number of shared features) / 3
  5 size        log(1 + number of premise features) / 5

Renaming symbols consistently (and keeping their counts) changes none of them. The model adds a small MLP of
them to the head's logit (model.py), a wide-and-deep combination: the embeddings keep what they learn from names.
"""

from __future__ import annotations

import math
import uuid
from typing import Sequence

from deeplearn.premises.features import features
from deeplearn.premises.ranker import idf_table
from deeplearn.premises.tptp import Annotated

N_SIDE = 6


class SideFeatures:
    def __init__(self, idf: dict[str, float], unseen: float):
        self.idf, self.unseen = dict(idf), float(unseen)
        self._key = ("side-stats", uuid.uuid4().hex)  # per table: the IDF sums depend on it

    @classmethod
    def build(cls, formulas) -> "SideFeatures":
        idf, unseen = idf_table(features(a) for a in formulas)
        return cls(idf, unseen)

    def state(self) -> dict:
        return {"idf": self.idf, "unseen": self.unseen}

    @classmethod
    def from_state(cls, state: dict) -> "SideFeatures":
        return cls(state["idf"], state["unseen"])

    def _stats(self, a: Annotated) -> tuple[frozenset, float, float, float]:
        """(features, sum of IDF, sum of IDF^2, max IDF) of one formula, cached on it."""
        key = self._key
        st = a.cache.get(key)
        if st is None:
            fs = features(a)
            ws = [self.idf.get(f, self.unseen) for f in fs]
            st = (fs, sum(ws), sum(w * w for w in ws), max(ws, default=0.0))
            a.cache[key] = st
        return st

    def pair(self, conjecture: Annotated, premise: Annotated) -> list[float]:
        cf, c_sum, c_sq, c_max = self._stats(conjecture)
        pf, p_sum, p_sq, _ = self._stats(premise)
        shared = cf & pf
        ws = [self.idf.get(f, self.unseen) for f in shared]
        s_sum, s_sq = sum(ws), sum(w * w for w in ws)
        return [s_sq / math.sqrt(c_sq * p_sq) if c_sq and p_sq else 0.0,
                s_sum / p_sum if p_sum else 0.0,
                s_sum / c_sum if c_sum else 0.0,
                max(ws, default=0.0) / c_max if c_max else 0.0,
                math.log1p(len(shared)) / 3.0,
                math.log1p(len(pf)) / 5.0]

    def matrix(self, conjecture: Annotated, premises: Sequence[Annotated]):
        """(len(premises), N_SIDE) float tensor."""
        import torch

        return torch.tensor([self.pair(conjecture, p) for p in premises], dtype=torch.float32).reshape(-1, N_SIDE)
