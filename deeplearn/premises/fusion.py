"""Rankers fused by reciprocal rank (Cormack, Clarke and Büttcher, "Reciprocal rank fusion outperforms Condorcet
and individual rank learning methods", SIGIR 2009): a premise scores sum_i w_i / (k + its rank under ranker i).

* `ensemble`: any saved rankers, e.g. neural models trained with other seeds or encoders
  (`deeplearn premises ensemble RUN1 RUN2 ... --out ENS`, then `--model ENS`); equal weights by default.
* `neural+knn` (`--method neural+knn --model RUN`): the neural ranker of RUN and k-NN.

neural+knn gives the neural rank the weight w and k-NN's the weight 1. The two fail differently: k-NN votes
with the proofs of similar earlier conjectures and is strong at the very top; the neural model scores every
premise against the conjecture itself and places the last needed premise earlier on average
(docs/premises_neural.md). k = 60 is the paper's constant; the default neural weight 0.5 was chosen on the
validation problems of the training split for the plain LSTM (never on the test split; the table is in
docs/premises_neural.md); `--neural-weight W` (rank/select/prove/evaluate) sets it per run: for the k-NN-feature
model after a loop round validation chose 32 (docs/premises_loop.md, eleventh session).
`premises train` saves the k-NN it fitted on the same training problems as RUN/knn, so a run directory holds
both halves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from deeplearn.paths import DataError
from deeplearn.premises import ranker as ranker_mod
from deeplearn.premises.ranker import Ranker, ordered, register
from deeplearn.premises.tptp import Annotated


def fused(conjecture: Annotated, premises: Sequence[Annotated], members, k: float) -> list[tuple[str, float]]:
    """`members`: (ranker, weight) pairs; ranks count from 1."""
    score = dict.fromkeys((p.name for p in premises), 0.0)
    for ranker, w in members:
        for r, (name, _) in enumerate(ranker.rank(conjecture, premises), start=1):
            score[name] += w / (k + r)
    return ordered(premises, [score[p.name] for p in premises])


@register
class Ensemble(Ranker):
    name = "ensemble"
    learns = True

    def __init__(self, members: Sequence[str] = (), weights: Sequence[float] | None = None, k: float = 60.0):
        super().__init__(members=list(members), weights=list(weights) if weights else None, k=k)
        self.k = k
        self.weights = list(weights) if weights else [1.0] * len(members)
        if len(self.weights) != len(members):
            raise DataError(f"an ensemble of {len(members)} rankers needs as many weights, got {len(self.weights)}")
        self.rankers: list[Ranker] = []

    def fit(self, problems):
        raise DataError("an ensemble is made of saved rankers: deeplearn premises ensemble RUN1 RUN2 ... --out ENS")

    def load_from(self, run_dir: Path) -> None:
        # members are stored relative to the ensemble's directory, so the tree can move
        self.rankers = [ranker_mod.load(Path(run_dir) / m) for m in self.params["members"]]

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        if not self.rankers:
            raise DataError("the ensemble has no members: pass --model ENS (made by `premises ensemble`)")
        return fused(conjecture, premises, list(zip(self.rankers, self.weights)), self.k)


@register
class NeuralKNN(Ranker):
    name = "neural+knn"
    learns = True
    wraps = "neural"  # loaded from a neural run directory (`--model RUN`)

    def __init__(self, k: float = 60.0, neural_weight: float = 0.5):
        super().__init__(k=k, neural_weight=neural_weight)
        self.k, self.neural_weight = k, neural_weight
        self.neural: Ranker | None = None
        self.knn: Ranker | None = None

    def fit(self, problems):
        raise DataError("neural+knn is loaded from a neural run: `deeplearn premises train --out RUN`, then pass "
                        "--method neural+knn --model RUN")

    def load_from(self, run_dir: Path) -> None:
        self.neural = ranker_mod.load(run_dir)
        if not (Path(run_dir) / "knn" / "ranker.json").exists():
            raise DataError(f"{run_dir}: no k-NN beside the neural model (runs made before it was saved there); "
                            f"fit one on the same training split: deeplearn premises fit --method knn --out "
                            f"{Path(run_dir) / 'knn'}")
        self.knn = ranker_mod.load(Path(run_dir) / "knn")

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        if self.neural is None or self.knn is None:
            raise DataError("neural+knn has no model: pass --model RUN (made by `premises train`)")
        return fused(conjecture, premises, [(self.neural, self.neural_weight), (self.knn, 1.0)], self.k)
