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
import uuid
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
        self._reset()

    def _reset(self) -> None:
        """Drop the caches of squared norms (a refit or a new state changes the weights)."""
        self._key = f"knn-norm:{uuid.uuid4().hex}"
        self._example_sets: dict[str, tuple[frozenset, float]] | None = None

    def fit(self, problems: Sequence) -> "KNN":
        self.examples = {p.name: (sorted(features(p.conjecture)), list(p.deps)) for p in problems if p.deps}
        pool = {p.name: p.conjecture for p in problems}
        for p in problems:
            for a in p.premises:
                pool.setdefault(a.name, a)
        self.idf, self.idf_unseen = idf_table(features(a) for a in pool.values())
        self._reset()
        return self

    def state(self) -> dict:
        return {"examples": self.examples, "idf": self.idf, "idf_unseen": self.idf_unseen}

    def set_state(self, state: dict) -> None:
        self.examples = {k: (v[0], v[1]) for k, v in state["examples"].items()}
        self.idf, self.idf_unseen = state["idf"], state["idf_unseen"]
        self._reset()

    def _weight(self, f: str) -> float:
        return self.idf.get(f, self.idf_unseen)

    def _sq(self, fs) -> float:
        return sum(self._weight(f) ** 2 for f in fs)

    def similarity(self, a: frozenset | set, b: frozenset | set, a_sq: float | None = None,
                   b_sq: float | None = None) -> float:
        """IDF-weighted cosine; `a_sq`, `b_sq`: the sets' squared norms where known (rank caches them)."""
        shared = a & b
        if not shared:
            return 0.0
        num = sum(self._weight(f) ** 2 for f in shared)
        return num / math.sqrt((self._sq(a) if a_sq is None else a_sq) * (self._sq(b) if b_sq is None else b_sq))

    def _premise_sq(self, p: Annotated) -> float:
        sq = p.cache.get(self._key)
        if sq is None:
            sq = p.cache[self._key] = self._sq(features(p))
        return sq

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        cf = features(conjecture)
        c_sq = self._sq(cf)
        names = {p.name for p in premises}
        sims: dict[str, float] = {}
        for p in premises:
            sims[p.name] = self.similarity(cf, features(p), c_sq, self._premise_sq(p))
        if self._example_sets is None:  # the examples' feature sets and norms, built once per fit
            self._example_sets = {}
            for name, (feats, _) in self.examples.items():
                fs = frozenset(feats)
                self._example_sets[name] = (fs, self._sq(fs))
        for name in self.examples:
            if name not in sims and name != conjecture.name:
                fs, sq = self._example_sets.get(name) or (frozenset(self.examples[name][0]), None)
                sims[name] = self.similarity(cf, fs, c_sq, sq)
        sims.pop(conjecture.name, None)
        neighbours = sorted(sims.items(), key=lambda kv: (-round(kv[1], 9), kv[0]))[: self.k]
        votes: dict[str, float] = defaultdict(float)
        for name, s in neighbours:
            if name in names:
                votes[name] += self.self_weight * s
            for dep in self.examples.get(name, ((), ()))[1]:
                votes[dep] += s
        return ordered(premises, [votes.get(p.name, 0.0) + self.tie_weight * sims[p.name] for p in premises])
