"""SInE-style ranking (Hoder & Voronkov, "Sine Qua Non for Large Theory Reasoning", CADE 2011).

A symbol s *triggers* a premise A when s occurs in A and s is among A's rarest symbols: occ(s) <= t * occ(s')
for every symbol s' of A, where occ counts the candidate premises containing a symbol and t >= 1 is the
tolerance (or occ(s) <= g, the generality threshold). Starting from the conjecture's symbols, premises
triggered at step d get depth d and their symbols trigger at step d + 1. SInE selects by depth; to rank every
premise we order by depth (shallower first), then by the rarity of the triggering symbol; premises never
triggered come last.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

from deeplearn.premises.features import symbols
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
