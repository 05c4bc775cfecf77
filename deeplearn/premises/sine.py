"""SInE-style ranking (Hoder & Voronkov, "Sine Qua Non for Large Theory Reasoning", CADE 2011).

A symbol s *triggers* a premise A when s occurs in A and s is among A's rarest symbols: occ(s) <= t * occ(s')
for every symbol s' of A, where occ counts the candidate premises containing a symbol and t >= 1 is the
tolerance (or occ(s) <= g, the generality threshold). Starting from the conjecture's symbols, premises
triggered at step d get depth d and their symbols trigger at step d + 1. SInE selects by depth; to rank every
premise we order by depth (shallower first), then by the rarity of the triggering symbol; premises never
triggered come last.

The ranking runs on arrays (symbol ids cached on each formula): a problem of 4,500 premises ranks in a few
milliseconds, so the neural ranker can read SInE's verdict as a feature (neural/side.py, `--knn-features`).
`rank_reference` is the plain-Python statement of the same rule, kept for the tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from deeplearn.premises.features import SYMBOLS, symbols
from deeplearn.premises.ranker import Ranker, ordered, register
from deeplearn.premises.tptp import Annotated


@register
class SInE(Ranker):
    name = "sine"

    def __init__(self, tolerance: float = 1.2, generality: int = 0):
        # t = 1.2: a middle value of the tolerances Hoder & Voronkov report (1.0 to 3.0); g = 0 as in Vampire.
        super().__init__(tolerance=tolerance, generality=generality)
        self.tolerance, self.generality = tolerance, generality

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        return ordered(premises, self.scores(conjecture, premises)) if premises else []

    def scores(self, conjecture: Annotated, premises: Sequence[Annotated]) -> np.ndarray:
        """Every premise's score, in the premises' order (`rank_reference`'s)."""
        n = len(premises)
        if not n:
            return np.zeros(0)
        conj = SYMBOLS.of(conjecture)
        flat, owner, _ = SYMBOLS.gather(SYMBOLS.rows(premises))
        n_sym = len(SYMBOLS.names)
        occ = np.bincount(flat, minlength=n_sym)  # candidates containing each symbol (symbol sets: once each)
        occ_e = occ[flat]
        rarest = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(rarest, owner, occ_e)
        trig = (occ_e <= self.tolerance * rarest[owner]) | (occ_e <= self.generality)
        t_owner, t_sym = owner[trig], flat[trig]
        order_of = _name_order()
        scores = np.zeros(n)
        seen = np.zeros(n_sym, dtype=bool)
        seen[conj[conj < n_sym]] = True
        active = seen.copy()
        depth = 0
        while active.any():
            hit = active[t_sym] & (scores[t_owner] == 0.0)
            if not hit.any():
                break
            ho, hs = t_owner[hit], t_sym[hit]
            o = np.lexsort((order_of[hs], ho))  # per premise, its first trigger in symbol-name order
            ho, hs = ho[o], hs[o]
            first = np.ones(len(ho), dtype=bool)
            first[1:] = ho[1:] != ho[:-1]
            prem, sym = ho[first], hs[first]
            # depth dominates (1/(depth+1)); a rarer trigger breaks ties (the < 0.01 term)
            scores[prem] = 1.0 / (depth + 1) + 0.01 / (1 + occ[sym])
            mark = np.zeros(n, dtype=bool)
            mark[prem] = True
            active = np.zeros(n_sym, dtype=bool)
            active[flat[mark[owner]]] = True
            active &= ~seen
            seen |= active
            depth += 1
        return scores

    def rank_reference(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        syms = [symbols(p) for p in premises]
        occ: Counter = Counter()
        for s in syms:
            occ.update(s)
        triggers: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(syms):
            if not s:
                continue
            rarest = min(occ[x] for x in s)
            for x in s:
                if occ[x] <= self.tolerance * rarest or occ[x] <= self.generality:
                    triggers[x].append(i)
        scores = [0.0] * len(premises)
        seen = set(symbols(conjecture))
        frontier = sorted(seen)
        depth = 0
        while frontier:
            nxt = []
            for x in frontier:
                for i in triggers.get(x, ()):
                    if scores[i] == 0.0:
                        # depth dominates (1/(depth+1)); a rarer trigger breaks ties (the < 0.01 term)
                        scores[i] = 1.0 / (depth + 1) + 0.01 / (1 + occ[x])
                        nxt.extend(s for s in syms[i] if s not in seen)
                        seen.update(syms[i])
            frontier = sorted(set(nxt))
            depth += 1
        return ordered(premises, scores)


# `_name_order` gives each symbol id's position in name order (the reference walks a frontier sorted by name, and
# the first trigger sets the score)
_ORDER: list = [None, 0]  # [array, table size it was built for]


def _name_order():
    names = SYMBOLS.names
    if _ORDER[1] != len(names):
        order = np.empty(len(names), dtype=np.int64)
        order[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
        _ORDER[0], _ORDER[1] = order, len(names)
    return _ORDER[0]
