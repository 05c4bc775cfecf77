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

`--knn-features` adds four more, the rankers' own verdicts on the premise among the conjecture's candidates
(these depend on the whole candidate list, so they are computed once per conjecture, `context`):

  6 knn_score   part 1's k-NN vote for the premise / the best vote among the candidates (k-NN scores a premise by
                its use in the proofs of similar training conjectures, a signal the overlap features lack)
  7 knn_rank    1 - log(1 + its k-NN rank) / log(1 + number of candidates)  (1: ranked first)
  8 sine_rank   the same of its SInE rank
  9 sine_score  SInE's score: 1 / (1 + its trigger depth) (+ < 0.01 for a rarer trigger), 0 if never triggered

The k-NN is the one fitted on the training split. For a training conjecture it is **leave-one-out**: the vote
never uses the conjecture's own proof (`loo_knn_scores`: its example is dropped from the neighbours, so the
feature is what k-NN would say of it as an unseen conjecture, as it does of a test one; test problems are never in
its base). Pairs whose "conjecture" is a premise read as one (the self pairs, data.py) get zeros for these four:
no k-NN verdict, the overlap features and the embeddings must decide.

`matrix` (ranking) computes all of them on arrays, over feature ids cached on the formulas, with the array
k-NN (`KNN.rank`); `matrix_reference` is the plain per-pair statement (`pair`, `KNN.rank_reference`), kept for
the tests: the two agree up to the last bit of float sums taken in another order.
"""

from __future__ import annotations

import math
import uuid
from typing import Sequence

import numpy as np

from deeplearn.premises.features import FEATURES, Column, WeightTable, features, shared_entries
from deeplearn.premises.ranker import idf_table
from deeplearn.premises.tptp import Annotated

N_SIDE = 6
N_KNN = 4  # --knn-features: k-NN score and rank, SInE rank and depth


def loo_knn_scores(knn, conjecture: Annotated, premises: Sequence[Annotated]) -> dict[str, float]:
    """k-NN's vote for every candidate (best first), leave-one-out: the conjecture's own training example (its
    proof) is removed from the neighbours for the call, whatever KNN.rank itself does with it. The plain-Python
    statement (`KNN.rank_reference`); `loo_knn_votes` is the array version the features use."""
    own = knn.examples.pop(conjecture.name, None)
    try:
        return dict(knn.rank_reference(conjecture, premises))
    finally:
        if own is not None:
            knn.examples[conjecture.name] = own


def loo_knn_votes(knn, conjecture: Annotated, premises: Sequence[Annotated]) -> np.ndarray:
    """`loo_knn_scores` as an array in the premises' order (`KNN.scores`; the names must be distinct)."""
    own = knn.examples.pop(conjecture.name, None)
    try:
        return knn.scores(conjecture, premises)
    finally:
        if own is not None:
            knn.examples[conjecture.name] = own


def _rank_feature(ranked: list[tuple[str, float]]) -> dict[str, float]:
    n = math.log1p(len(ranked)) or 1.0
    return {name: 1.0 - math.log1p(i) / n for i, (name, _) in enumerate(ranked)}


def _rank_feature_array(scores: np.ndarray) -> np.ndarray:
    """`_rank_feature` of the ranking of `scores` (ranker.order), in the scores' order."""
    from deeplearn.premises.ranker import order

    n = math.log1p(len(scores)) or 1.0
    pos = np.empty(len(scores), dtype=np.int64)
    pos[order(scores)] = np.arange(len(scores))
    return 1.0 - np.log1p(pos) / n


class SideFeatures:
    def __init__(self, idf: dict[str, float], unseen: float, knn=None):
        self.idf, self.unseen = dict(idf), float(unseen)
        self.knn = knn  # a fitted part-1 KNN: the four --knn-features (None: the six overlap features only)
        self._key = ("side-stats", uuid.uuid4().hex)  # per table: the IDF sums depend on it
        self._contexts: dict[tuple, tuple[dict[str, int], np.ndarray]] = {}
        self._table = WeightTable(FEATURES, lambda f: self.idf.get(f, self.unseen), lambda w: w * w)
        self._sums = Column(FEATURES, lambda a: self._stats(a)[1])  # per formula: sum of IDF, of IDF^2 (as _stats)
        self._squares = Column(FEATURES, lambda a: self._stats(a)[2])

    @property
    def dim(self) -> int:
        return N_SIDE + (N_KNN if self.knn is not None else 0)

    @classmethod
    def build(cls, formulas, knn=None) -> "SideFeatures":
        idf, unseen = idf_table(features(a) for a in formulas)
        return cls(idf, unseen, knn)

    def state(self) -> dict:
        return {"idf": self.idf, "unseen": self.unseen, "knn": self.knn.state() if self.knn is not None else None}

    @classmethod
    def from_state(cls, state: dict) -> "SideFeatures":
        knn = None
        if state.get("knn") is not None:
            from deeplearn.premises.knn import KNN

            knn = KNN()
            knn.set_state(state["knn"])
        return cls(state["idf"], state["unseen"], knn)

    def context(self, conjecture: Annotated, premises: Sequence[Annotated]) -> dict[str, list[float]]:
        """premise name -> its four k-NN/SInE features among these candidates (leave-one-out k-NN), in plain
        Python (the reference statement of `context_array`)."""
        from deeplearn.premises.sine import SInE

        votes = loo_knn_scores(self.knn, conjecture, premises)  # best first (KNN.rank's order, ties broken)
        best = max(votes.values(), default=0.0)
        knn_rank = _rank_feature(list(votes.items()))
        sine = SInE().rank_reference(conjecture, premises)
        sine_rank, sine_score = _rank_feature(sine), dict(sine)
        return {n: [v / best if best > 0 else 0.0, knn_rank[n], sine_rank[n], sine_score[n]]
                for n, v in votes.items()}

    def context_array(self, conjecture: Annotated, premises: Sequence[Annotated]) -> np.ndarray:
        """`context`'s four features of every premise, (len(premises), N_KNN) float64 in the premises' order."""
        from deeplearn.premises.sine import SInE

        n = len(premises)
        if len({p.name for p in premises}) != n:  # repeated names: the reference's dict semantics decide
            ctx = self.context(conjecture, premises)
            return np.array([ctx[p.name] for p in premises], dtype=np.float64).reshape(n, N_KNN)
        votes = loo_knn_votes(self.knn, conjecture, premises)
        sine = SInE().scores(conjecture, premises)
        out = np.zeros((n, N_KNN))
        best = votes.max(initial=0.0)
        if best > 0:
            out[:, 0] = votes / best
        out[:, 1] = _rank_feature_array(votes)
        out[:, 2] = _rank_feature_array(sine)
        out[:, 3] = sine
        return out

    def _cached_context(self, conjecture: Annotated, premises: Sequence[Annotated]):
        """(premise name -> row, context_array), kept per conjecture and candidate list (training reads the same
        conjecture's rows many times)."""
        key = (conjecture.name, len(premises), premises[0].name, premises[-1].name)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = ({p.name: i for i, p in enumerate(premises)},
                                         self.context_array(conjecture, premises))
        return ctx

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

    def pair(self, conjecture: Annotated, premise: Annotated,
             context: dict[str, list[float]] | None = None) -> list[float]:
        """The pair's features; with --knn-features, `context` (from `context`) gives the last four (zeros where it
        is None or lacks the premise: a pair without a k-NN verdict, such as a self pair)."""
        base = self._overlap(conjecture, premise)
        if self.knn is None:
            return base
        known = context.get(premise.name) if context is not None else None
        return base + (list(known) if known is not None else [0.0] * N_KNN)

    def _overlap(self, conjecture: Annotated, premise: Annotated) -> list[float]:
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

    def matrix_reference(self, conjecture: Annotated, premises: Sequence[Annotated]):
        """(len(premises), dim) float tensor, pair by pair in plain Python (the statement `matrix` is tested
        against)."""
        import torch

        ctx = self.context(conjecture, premises) if self.knn is not None and premises else None
        return torch.tensor([self.pair(conjecture, p, ctx) for p in premises],
                            dtype=torch.float32).reshape(-1, self.dim)

    def matrix(self, conjecture: Annotated, premises: Sequence[Annotated]):
        """(len(premises), dim) float tensor: `matrix_reference`'s values, computed on arrays."""
        import torch

        n = len(premises)
        out = np.zeros((n, self.dim), dtype=np.float64)
        if n:
            out[:, :N_SIDE] = self._overlap_array(conjecture, premises)
            if self.knn is not None:
                out[:, N_SIDE:] = self.context_array(conjecture, premises)
        return torch.from_numpy(out.astype(np.float32))

    def _overlap_array(self, conjecture: Annotated, premises: Sequence[Annotated]) -> np.ndarray:
        """`_overlap` of every premise, (n, N_SIDE) float64."""
        n = len(premises)
        _, c_sum, c_sq, c_max = self._stats(conjecture)
        rows = FEATURES.rows(premises)
        p_sum, p_sq = self._sums[rows], self._squares[rows]
        flat, owner, lens = FEATURES.gather(rows)
        cids = FEATURES.of(conjecture)
        w, w2 = self._table.arrays()
        o, fh = shared_entries(cids, len(w), flat, owner)
        s_sum = np.bincount(o, weights=w[fh], minlength=n)
        s_sq = np.bincount(o, weights=w2[fh], minlength=n)
        shared = np.bincount(o, minlength=n)
        s_max = np.zeros(n)
        np.maximum.at(s_max, o, w[fh])  # weights are > 0, so 0 stands for "none shared" as max(default=0)
        res = np.zeros((n, N_SIDE))
        ok = p_sq > 0
        if c_sq:
            res[ok, 0] = s_sq[ok] / np.sqrt(c_sq * p_sq[ok])
        ok = p_sum != 0
        res[ok, 1] = s_sum[ok] / p_sum[ok]
        if c_sum:
            res[:, 2] = s_sum / c_sum
        if c_max:
            res[:, 3] = s_max / c_max
        res[:, 4] = np.log1p(shared) / 3.0
        res[:, 5] = np.log1p(lens) / 5.0
        return res

    def rows(self, formulas: dict, rows: Sequence[tuple], candidates: dict[str, Sequence[Annotated]]):
        """(len(rows), dim) features of training rows (conjecture name, premise name, ...); `candidates`: a problem
        conjecture's candidate premises (its k-NN/SInE context); other rows (self pairs) get no k-NN verdict."""
        import torch

        out = []
        for r in rows:
            c = formulas[r[0]]
            feats = self._overlap(c, formulas[r[1]])
            if self.knn is not None:
                known = None
                if r[0] in candidates and candidates[r[0]]:
                    index, arr = self._cached_context(c, candidates[r[0]])
                    i = index.get(r[1])
                    known = arr[i].tolist() if i is not None else None
                feats += known if known is not None else [0.0] * N_KNN
            out.append(feats)
        return torch.tensor(out, dtype=torch.float32).reshape(len(rows), self.dim)
