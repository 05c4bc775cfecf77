"""k-nearest-neighbour ranking on symbol features, after MaSh (Kühlwein et al., "MaSh: Machine Learning for
Sledgehammer", ITP 2013).

Facts are compared by the cosine of their IDF-weighted feature sets (`features.features`). The k facts most
similar to the conjecture vote: each gives its similarity to every premise its proof used, and (weighted by
`self_weight`) to itself, since a similar earlier fact is itself often useful. The neighbours are the candidate
premises plus the training conjectures; only training proofs (`Problem.deps`) are used. A small multiple of each
premise's own similarity breaks ties, so every premise gets a rank.

`rank` computes the similarities on arrays (feature ids cached on each formula; the neural ranker reads k-NN's
verdict as a feature at every ranking, neural/side.py, so it must take milliseconds for 4,500 premises);
`rank_reference` is the plain-Python statement of the same rule, kept for the tests. The two add the same
squared weights in a different order, so similarities may differ in the last bit; neighbours and the final order
compare scores rounded to 9 digits, as before.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from typing import Sequence

import numpy as np

from deeplearn.premises.features import FEATURES, Column, WeightTable, features, shared_entries
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
        self._table = WeightTable(FEATURES, self._weight, lambda w: w ** 2)  # the squared weights it adds
        self._norms = Column(FEATURES, self._premise_sq)  # every formula's squared norm, as rank_reference's
        self._example_arrays = None  # (names, flat ids, owner, squared norms) of the examples, for `rank`

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

    def _examples_flat(self):
        """The examples' feature ids concatenated and their squared norms (as `rank_reference` computes them),
        built once per fit; rebuilt if examples were added since (a removed one is skipped by `rank`)."""
        ex = self._example_arrays
        if ex is None or any(name not in ex[4] for name in self.examples):
            names = list(self.examples)
            sets = [frozenset(self.examples[n][0]) for n in names]
            arrs = [FEATURES.intern(sorted(fs)) for fs in sets]
            lens = np.fromiter((len(a) for a in arrs), dtype=np.int64, count=len(arrs))
            flat = np.concatenate(arrs) if arrs else np.zeros(0, dtype=np.int64)
            sq = np.array([self._sq(fs) for fs in sets], dtype=np.float64)
            ex = self._example_arrays = (names, flat, np.repeat(np.arange(len(names)), lens), sq, set(names))
        return ex

    def _cosines(self, cids: np.ndarray, c_sq: float, flat, owner, sq: np.ndarray) -> np.ndarray:
        """`similarity` of the conjecture (feature ids `cids`) with every formula of a flattened list."""
        w, w2 = self._table.arrays()
        o, f = shared_entries(cids, len(w2), flat, owner)
        num = np.bincount(o, weights=w2[f], minlength=len(sq))
        shared = np.bincount(o, minlength=len(sq)) > 0
        out = np.zeros(len(sq))
        out[shared] = num[shared] / np.sqrt(c_sq * sq[shared])
        return out

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        names = [p.name for p in premises]
        if len(set(names)) != len(names):  # repeated names: the reference's dict semantics decide
            return self.rank_reference(conjecture, premises)
        return ordered(premises, self.scores(conjecture, premises))

    def scores(self, conjecture: Annotated, premises: Sequence[Annotated]) -> np.ndarray:
        """Every premise's score (`rank_reference`'s, in the premises' order); premise names must be distinct."""
        n = len(premises)
        names = [p.name for p in premises]
        index = {name: i for i, name in enumerate(names)}
        cf = features(conjecture)
        c_sq = self._sq(cf)
        cids = FEATURES.of(conjecture)
        rows = FEATURES.rows(premises)
        flat, owner, _ = FEATURES.gather(rows)
        ex_names, ex_flat, ex_owner, ex_sq, _ = self._examples_flat()
        p_sq = self._norms[rows]
        sims = self._cosines(cids, c_sq, flat, owner, p_sq)
        ex_sims = self._cosines(cids, c_sq, ex_flat, ex_owner, ex_sq)
        # the neighbour pool: the candidates, then the examples not among them (as rank_reference's dict), minus
        # the conjecture itself and any example removed since the arrays were built
        keep = np.fromiter((nm not in index and nm != conjecture.name and nm in self.examples for nm in ex_names),
                           dtype=bool, count=len(ex_names))
        pool_s = np.concatenate([sims, ex_sims[keep]])
        pool_names = names + [nm for nm, k in zip(ex_names, keep) if k]
        if conjecture.name in index:
            pool_s[index[conjecture.name]] = 0.0
        # a neighbour of similarity 0 votes 0: only positive ones matter. Candidates for the k best under the
        # reference's key (-round(s, 9), name): every s within 2e-9 of the k-th largest
        pos = np.flatnonzero(pool_s > 0)
        if len(pos) > self.k:
            t = np.partition(pool_s[pos], len(pos) - self.k)[len(pos) - self.k]
            pos = pos[pool_s[pos] >= t - 2e-9]
        neighbours = sorted(((pool_names[i], float(pool_s[i])) for i in pos),
                            key=lambda kv: (-round(kv[1], 9), kv[0]))[: self.k]
        votes = np.zeros(n)
        for name, s in neighbours:  # the reference's additions, in its order
            if name in index:
                votes[index[name]] += self.self_weight * s
            for dep in self.examples.get(name, ((), ()))[1]:
                i = index.get(dep)
                if i is not None:
                    votes[i] += s
        return votes + self.tie_weight * sims

    def rank_reference(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
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
