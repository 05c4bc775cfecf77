"""Premise usefulness as an engine Task: a batch is (conjecture row, premise row, label) indices into one table
of encoded formulas, so each formula is stored once however many pairs it is in; the loss is logistic.

Validation also ranks: besides the pair loss, each evaluation ranks every candidate premise of the validation
problems and reports part 1's ranking metrics (recall@k, AUC; `val_recall` is the mean of recall@16..128), so
the best checkpoint can be the one that ranks best rather than the one with the lowest pair loss (the two
disagree: the pair loss weighs a few thousand sampled pairs, the ranking all ~1,500 candidates of a problem).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deeplearn.engine import Runtime, Task, TensorSource
from deeplearn.premises.neural.encoding import Encoding
from deeplearn.premises.neural.model import padded

RANK_KS = (16, 32, 64, 128)


class PairTask(Task):
    def __init__(self, model, encoding: Encoding, formulas: dict, rows: list, val_rows: list, batch_size: int,
                 seed: int, rt: Runtime, config: dict, meta: dict, val_problems: list | None = None, side=None,
                 candidates: dict | None = None):
        """`val_problems`: (conjecture, candidate premises, names of the premises a proof used) to rank at each
        evaluation; each replica ranks its share and the sums are added up like every other metric. `side`: the
        SideFeatures of a model that reads them (a batch then carries each pair's features as a 4th tensor);
        `candidates`: problem conjecture name -> its candidate premises (the context of --knn-features)."""
        self.model, self.config, self.meta, self.encoding, self.side = model, config, meta, encoding, side
        self.ranks_val = bool(val_problems)  # every replica adds the same keys, even with an empty share
        self.val_problems = list(val_problems or [])[rt.rank::rt.world_size]
        names = sorted({n for r in rows + val_rows for n in r[:2]})
        row_of = {n: i for i, n in enumerate(names)}
        self.ids, self.lengths = padded([encoding.encode(formulas[n]) for n in names])
        self.ids, self.lengths = self.ids.to(rt.device), self.lengths.to(rt.device)

        def tensors(rs):
            out = (torch.tensor([row_of[r[0]] for r in rs], dtype=torch.long),
                   torch.tensor([row_of[r[1]] for r in rs], dtype=torch.long),
                   torch.tensor([r[2] for r in rs], dtype=torch.float32))
            if side is None:
                return out
            return (*out, side.rows(formulas, rs, candidates or {}))  # (N, side.dim)

        per_rank = rt.per_rank_batch(batch_size)
        self.train = TensorSource(tensors(rows), per_rank, shuffle=True, seed=seed, rank=rt.rank,
                                  world=rt.world_size)
        self.evals = {}
        if val_rows:
            self.evals["val"] = TensorSource(tensors(val_rows), 512, shuffle=False, rank=rt.rank, world=rt.world_size)
        n_pos = sum(r[2] for r in rows)
        # weight positives up to the negatives' total: the loss stays balanced however many negatives are drawn
        self.pos_weight = torch.tensor((len(rows) - n_pos) / max(n_pos, 1.0), device=rt.device)

    def forward(self, model, batch):
        c, p = batch[0], batch[1]
        uc, ci = torch.unique(c, return_inverse=True)  # encode each distinct formula of the batch once
        up, pi = torch.unique(p, return_inverse=True)
        cl, pl = self.lengths[uc], self.lengths[up]
        return model(self.ids[uc, : int(cl.max())], cl, self.ids[up, : int(pl.max())], pl, ci, pi,
                     batch[3] if len(batch) > 3 else None)

    def loss(self, output, batch):
        return F.binary_cross_entropy_with_logits(output, batch[2], pos_weight=self.pos_weight)

    def metric_sums(self, output, batch):
        y = batch[2]
        pred = (output > 0).float()
        return {"loss": F.binary_cross_entropy_with_logits(output, y, pos_weight=self.pos_weight, reduction="sum"),
                "correct": (pred == y).sum(), "count": torch.tensor(float(len(y)), device=y.device),
                "pos_correct": (pred * y).sum(), "pos": y.sum()}

    def evaluate(self, model, source, device, autocast=None):
        sums = super().evaluate(model, source, device, autocast)
        if source is self.evals.get("val") and self.ranks_val:
            sums.update({k: torch.tensor(v, device=device) for k, v in self.ranking_sums().items()})
        return sums

    @torch.no_grad()
    def ranking_sums(self) -> dict[str, float]:
        from deeplearn.premises.evaluate import ranking_metrics
        from deeplearn.premises.neural.ranker import NeuralRanker

        ranker = NeuralRanker.from_model(self.model, self.encoding, side=self.side)  # a fresh embedding cache
        out = {f"rank_{k}": 0.0 for k in ("n", "auc", *RANK_KS)}
        try:
            for conj, premises, needed in self.val_problems:
                m = ranking_metrics([n for n, _ in ranker.rank(conj, premises)], needed, RANK_KS)
                if m:
                    out["rank_n"] += 1
                    out["rank_auc"] += m["auc"]
                    for k in RANK_KS:
                        out[f"rank_{k}"] += m[f"recall@{k}"]
        finally:
            ranker.forget([a for _, premises, _ in self.val_problems for a in premises])
        return out

    def summarize(self, sums):
        n = max(float(sums["count"]), 1.0)
        out = {"loss": float(sums["loss"]) / n, "acc": float(sums["correct"]) / n,
               "pos_recall": float(sums["pos_correct"]) / max(float(sums["pos"]), 1.0)}
        if float(sums.get("rank_n", 0)) > 0:
            n = float(sums["rank_n"])
            out.update({f"recall@{k}": float(sums[f"rank_{k}"]) / n for k in RANK_KS})
            out["recall"] = sum(out[f"recall@{k}"] for k in RANK_KS) / len(RANK_KS)
            out["auc"] = float(sums["rank_auc"]) / n
        return out
