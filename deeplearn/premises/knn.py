"""k-nearest-neighbour ranking on symbol features, after MaSh (Kühlwein et al., "MaSh: Machine Learning for
Sledgehammer", ITP 2013).

Facts are compared by the cosine of their IDF-weighted feature sets (`features.features`). The k facts most
similar to the conjecture vote: each gives its similarity to every premise its proof used, and (weighted by
`self_weight`) to itself, since a similar earlier fact is itself often useful. The neighbours are the candidate
premises plus the training conjectures; only training proofs (`Problem.deps`) are used. A small multiple of each
premise's own similarity breaks ties, so every premise gets a rank.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

from deeplearn.premises.features import features
from deeplearn.premises.ranker import Ranker, idf_table, ordered, register
from deeplearn.premises.tptp import Annotated


@register
class KNN(Ranker):
    name = "knn"
    learns = True

    def __init__(self, k: int = 40, self_weight: float = 1.0, tie_weight: float = 0.01):
        # k = 40: MaSh's order of magnitude for k; it matters little between 20 and 80 on MPTP (our check).
        super().__init__(k=k, self_weight=self_weight, tie_weight=tie_weight)
        self.k, self.self_weight, self.tie_weight = k, self_weight, tie_weight
        self.examples: dict[str, tuple[list[str], list[str]]] = {}  # conjecture -> (features, proof premises)
        self.idf: dict[str, float] = {}
        self.idf_unseen = 1.0

    def fit(self, problems: Sequence) -> "KNN":
        self.examples = {p.name: (sorted(features(p.conjecture)), list(p.deps)) for p in problems if p.deps}
        pool = {p.name: p.conjecture for p in problems}
        for p in problems:
            for a in p.premises:
                pool.setdefault(a.name, a)
        self.idf, self.idf_unseen = idf_table(features(a) for a in pool.values())
        return self

    def state(self) -> dict:
        return {"examples": self.examples, "idf": self.idf, "idf_unseen": self.idf_unseen}

    def set_state(self, state: dict) -> None:
        self.examples = {k: (v[0], v[1]) for k, v in state["examples"].items()}
        self.idf, self.idf_unseen = state["idf"], state["idf_unseen"]

    def _weight(self, f: str) -> float:
        return self.idf.get(f, self.idf_unseen)

    def similarity(self, a: frozenset | set, b: frozenset | set) -> float:
        shared = a & b
        if not shared:
            return 0.0
        num = sum(self._weight(f) ** 2 for f in shared)
        return num / math.sqrt(sum(self._weight(f) ** 2 for f in a) * sum(self._weight(f) ** 2 for f in b))

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        cf = features(conjecture)
        names = {p.name for p in premises}
        sims: dict[str, float] = {}
        for p in premises:
            sims[p.name] = self.similarity(cf, features(p))
        for name, (feats, _) in self.examples.items():
            if name not in sims and name != conjecture.name:
                sims[name] = self.similarity(cf, frozenset(feats))
        sims.pop(conjecture.name, None)
        neighbours = sorted(sims.items(), key=lambda kv: (-round(kv[1], 9), kv[0]))[: self.k]
        votes: dict[str, float] = defaultdict(float)
        for name, s in neighbours:
            if name in names:
                votes[name] += self.self_weight * s
            for dep in self.examples.get(name, ((), ()))[1]:
                votes[dep] += s
        return ordered(premises, [votes.get(p.name, 0.0) + self.tie_weight * sims[p.name] for p in premises])
