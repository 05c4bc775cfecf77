"""Training pairs (conjecture, premise, useful?) from the training problems' proofs, as DeepMath built them.

* Positives: every premise some known proof of the conjecture used: `Problem.deps`, plus for MPTP2078 the
  upstream `atp_deps` and all our E proofs (`e_proofs`) - a union is right for labels (each is useful).
* Negatives, per problem: as many highly k-NN-ranked unused premises as positives (the corpus's `nn_negatives`
  where it has them - training problems only -, else part 1's k-NN fitted on the training problems), plus
  `random_ratio` times as many random unused chainy premises (the ranker must also push down the thousands of
  unrelated premises, which k-NN negatives never show it); hard negatives are added by mining (train.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from deeplearn.paths import DataError
from deeplearn.premises.corpus import Corpus, Problem, _read_jsonl


@dataclass
class Labels:
    positives: list[str]
    knn_negatives: list[str] = field(default_factory=list)  # best-ranked unused first


def mptp_labels(corpus: Corpus) -> dict[str, dict]:
    """problem id -> the raw record's proof fields (atp_deps, e_proofs, nn_negatives), for MPTP2078 only."""
    path = Path(corpus.root or "") / "problems.jsonl.gz"
    if corpus.root is None or not path.exists():
        return {}
    return {r["id"]: {k: r.get(k) for k in ("atp_deps", "e_proofs", "nn_negatives")} for r in _read_jsonl(path)}


def problem_labels(problems: Sequence[Problem], records: dict[str, dict], knn=None) -> dict[str, Labels]:
    """Labels of every problem with a known proof; `knn`, a fitted part-1 ranker, supplies missing negatives."""
    out = {}
    for p in problems:
        cands = {a.name for a in p.premises}
        rec = records.get(p.id, {})
        pos = list(dict.fromkeys(list(p.deps or []) + list(rec.get("atp_deps") or []) +
                                 [n for e in rec.get("e_proofs") or [] for n in e.get("used") or []]))
        pos = [n for n in pos if n in cands]
        if not pos:
            continue
        used = set(pos)
        negs = [n for n in rec.get("nn_negatives") or [] if n in cands and n not in used]
        if len(negs) < len(pos) and knn is not None:
            ranked = [n for n, _ in knn.rank(p.conjecture, p.premises) if n not in used]
            negs = list(dict.fromkeys(negs + ranked))
        out[p.id] = Labels(pos, negs[: len(pos)])
    return out


def pairs(problems: Sequence[Problem], labels: dict[str, Labels], random_ratio: float, seed: int,
          extra_negatives: dict[str, list[str]] | None = None,
          popular_ratio: float = 0.0, self_ratio: float = 0.0) -> list[tuple[str, str, float]]:
    """(conjecture name, premise name, label) rows; sampled negatives are a pure function of (seed, problem).

    `popular_ratio` x positives negatives are drawn in proportion to how often each premise is a positive (of
    these problems): a few premises (t2_subset, ...) are used by dozens of proofs, and without such negatives the
    premise alone predicts the label, so a model learns that prior and ranks the same premises first for every
    conjecture; drawn this way, each premise is about as often a negative as a positive and only the conjecture
    can tell which (word2vec's unigram negative sampling, Mikolov et al. 2013, with the same aim).

    `self_ratio` x positives "self" pairs per problem: one of its premises read as a conjecture paired with itself
    (label 1) and with a random candidate (label 0) - k-NN's rule that a fact is useful for itself and so, by
    similarity, for conjectures like it (part 1's knn.py, after MaSh); half the needed premises of the test split
    were never used by a training proof, and only such similarity can rank them."""
    used_by = [n for p in problems if p.id in labels for n in labels[p.id].positives]
    rows = []
    for p in problems:
        lab = labels.get(p.id)
        if lab is None:
            continue
        rng = random.Random(f"{seed}:{p.id}")
        rows += [(p.name, n, 1.0) for n in lab.positives]
        negs = list(dict.fromkeys(lab.knn_negatives + (extra_negatives or {}).get(p.id, [])))
        taken = set(lab.positives) | set(negs)
        pool = [a.name for a in p.premises if a.name not in taken]
        k = min(len(pool), round(random_ratio * len(lab.positives)))
        negs += rng.sample(pool, k)
        want = round(popular_ratio * len(lab.positives))
        if want and used_by:
            cands, taken = {a.name for a in p.premises}, set(lab.positives) | set(negs)
            for _ in range(20 * want):  # rejection sampling: most draws are candidates of a later problem
                if want == 0:
                    break
                n = used_by[rng.randrange(len(used_by))]
                if n in cands and n not in taken:
                    negs.append(n)
                    taken.add(n)
                    want -= 1
        rows += [(p.name, n, 0.0) for n in negs]
        names = [a.name for a in p.premises]
        n_self = min(len(names), round(self_ratio * len(lab.positives))) if len(names) > 1 else 0
        for n in rng.sample(names, n_self):
            other = names[rng.randrange(len(names) - 1)]
            other = names[-1] if other == n else other  # a uniform draw among the other premises
            rows += [(n, n, 1.0), (n, other, 0.0)]
    return rows


def add_harvested(labels: dict[str, Labels], problems: Sequence[Problem],
                  harvested: dict[str, tuple[list[str], list[str]]]) -> dict[str, list[str]]:
    """Merge the prover loop's proofs into `labels` (in place): their used premises join the positives (a problem
    proved for the first time gets labels of its own). Returns the extra negatives per problem: premises given to
    E in a proof's selection but unused by it, never a positive, only candidates of that problem."""
    extra: dict[str, list[str]] = {}
    for p in problems:
        if p.id not in harvested:
            continue
        cands = {a.name for a in p.premises}
        pos, neg = harvested[p.id]
        lab = labels.setdefault(p.id, Labels([]))
        lab.positives = list(dict.fromkeys(lab.positives + [n for n in pos if n in cands]))
        used = set(lab.positives)
        lab.knn_negatives = [n for n in lab.knn_negatives if n not in used]
        extra[p.id] = [n for n in dict.fromkeys(neg) if n in cands and n not in used]
        if not lab.positives:
            del labels[p.id]
    return extra


def check_trainable(train: Sequence[Problem], labels: dict[str, Labels], where: str) -> None:
    if not train:
        raise DataError(f"{where}: no training problems (the corpus is empty)")
    if not labels:
        raise DataError(f"{where}: none of the {len(train)} training problems has a known proof, so there is "
                        f"nothing to learn from (give proof dependencies, e.g. --deps deps.json with --tptp-dir)")
