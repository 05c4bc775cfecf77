"""MePo-style ranking (Meng & Paulson, "Lightweight relevance filtering for machine-generated resolution
problems", J. Applied Logic 7(1), 2009), the relevance filter behind Isabelle's Sledgehammer.

The relevant symbols start as the conjecture's. A premise's relevance is the weight of its relevant symbols over
the weight of all its symbols, a rare symbol weighing more (w = 1 + 2 / ln(occ + 1)). Each pass selects the
premises whose relevance reaches the pass mark p, adds their symbols, and raises the mark, p <- p + (1 - p) / c,
so later passes are stricter. A premise's score is its pass (earlier is better) plus its relevance; premises
never selected come last, ordered by their final relevance.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

from deeplearn.premises.features import symbols
from deeplearn.premises.ranker import Ranker, ordered, register
from deeplearn.premises.tptp import Annotated


@register
class MePo(Ranker):
    name = "mepo"

    def __init__(self, pass_mark: float = 0.6, convergence: float = 2.4, max_passes: int = 50):
        # p = 0.6 and c = 2.4 are the values Meng & Paulson (2009) found best.
        super().__init__(pass_mark=pass_mark, convergence=convergence, max_passes=max_passes)
        self.pass_mark, self.convergence, self.max_passes = pass_mark, convergence, max_passes

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        syms = [symbols(p) for p in premises]
        occ: Counter = Counter()
        for s in syms:
            occ.update(s)
        vocab = {s: j for j, s in enumerate(occ)}
        rows = [i for i, s in enumerate(syms) for _ in s]
        cols = [vocab[x] for s in syms for x in s]
        # premise x symbol incidence: one sparse product per pass gives every premise's relevant weight
        m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(premises), len(vocab)))
        w = np.array([1.0 + 2.0 / math.log(occ[s] + 1.0) for s in vocab]) if vocab else np.zeros(0)
        total = m @ w if vocab else np.zeros(len(premises))
        relevant = np.zeros(len(vocab))
        for s in symbols(conjecture):
            if s in vocab:
                relevant[vocab[s]] = 1.0
        selected_pass = np.full(len(premises), -1)
        p = self.pass_mark
        rel = np.zeros(len(premises))
        for n in range(self.max_passes):
            rel = np.divide(m @ (w * relevant), total, out=np.zeros(len(premises)), where=total > 0)
            new = (rel >= p) & (selected_pass < 0)
            if not new.any():
                break
            selected_pass[new] = n
            relevant[m[np.flatnonzero(new)].indices] = 1.0
            p = p + (1.0 - p) / self.convergence
        # selected: score in (1, 2], earlier pass higher; unselected: their relevance in [0, 1]
        scores = np.where(selected_pass >= 0, 1.0 + 0.99 / (np.maximum(selected_pass, 0) + 1.0) + 0.01 * rel, rel)
        return ordered(premises, scores.tolist())
