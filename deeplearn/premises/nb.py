"""Naive Bayes ranking, after MaSh (Kühlwein et al., "MaSh: Machine Learning for Sledgehammer", ITP 2013).

For each premise p: t_p counts the training proofs that used it, s_p(f) how many of those proofs' conjectures had
feature f. Each premise also counts once as an example of itself (its own features), as in MaSh, so premises no
training proof used still get a sensible score. The score of p for a conjecture with features F is

    ln t_p + sum_{f in F, s_p(f) > 0} idf(f) * ln(sigma * s_p(f) / t_p) + sum_{f in F, s_p(f) = 0} idf(f) * ln(pi)

(`sigma` rewards a shared feature, `pi` punishes a conjecture feature p was never seen with.)
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Sequence

from deeplearn.premises.features import features
from deeplearn.premises.ranker import Ranker, idf_table, ordered, register
from deeplearn.premises.tptp import Annotated


@register
class NaiveBayes(Ranker):
    name = "nb"
    learns = True

    def __init__(self, sigma: float = 10.0, pi: float = 0.05):
        # sigma and pi set how much a shared / missing feature counts; values of the order MaSh uses.
        super().__init__(sigma=sigma, pi=pi)
        self.ln_sigma, self.ln_pi = math.log(sigma), math.log(pi)
        self.uses: Counter = Counter()  # t_p without the self example
        self.cooc: dict[str, Counter] = defaultdict(Counter)  # s_p(f) without the self example
        self.idf: dict[str, float] = {}
        self.idf_unseen = 1.0

    def fit(self, problems: Sequence) -> "NaiveBayes":
        self.uses, self.cooc = Counter(), defaultdict(Counter)
        pool = {}
        for p in problems:
            pool.setdefault(p.name, p.conjecture)
            for a in p.premises:
                pool.setdefault(a.name, a)
            if not p.deps:
                continue
            cf = features(p.conjecture)
            for d in set(p.deps):
                self.uses[d] += 1
                self.cooc[d].update(cf)
        self.idf, self.idf_unseen = idf_table(features(a) for a in pool.values())
        return self

    def state(self) -> dict:
        return {"uses": dict(self.uses), "cooc": {k: dict(v) for k, v in self.cooc.items()},
                "idf": self.idf, "idf_unseen": self.idf_unseen}

    def set_state(self, state: dict) -> None:
        self.uses = Counter(state["uses"])
        self.cooc = defaultdict(Counter, {k: Counter(v) for k, v in state["cooc"].items()})
        self.idf, self.idf_unseen = state["idf"], state["idf_unseen"]

    def score(self, conj_feats: frozenset, premise: Annotated) -> float:
        own = features(premise)
        t = 1 + self.uses.get(premise.name, 0)
        co = self.cooc.get(premise.name)
        s = math.log(t)
        for f in conj_feats:
            c = (f in own) + (co.get(f, 0) if co else 0)
            w = self.idf.get(f, self.idf_unseen)
            s += w * (math.log(c / t) + self.ln_sigma if c else self.ln_pi)
        return s

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        cf = features(conjecture)
        return ordered(premises, [self.score(cf, p) for p in premises])
