"""Premise usefulness as an engine Task: a batch is (conjecture row, premise row, label) indices into one table
of encoded formulas, so each formula is stored once however many pairs it is in; the loss is logistic."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deeplearn.engine import Runtime, Task, TensorSource
from deeplearn.premises.neural.encoding import Encoding
from deeplearn.premises.neural.model import padded


class PairTask(Task):
    def __init__(self, model, encoding: Encoding, formulas: dict, rows: list, val_rows: list, batch_size: int,
                 seed: int, rt: Runtime, config: dict, meta: dict):
        self.model, self.config, self.meta = model, config, meta
        names = sorted({n for r in rows + val_rows for n in r[:2]})
        row_of = {n: i for i, n in enumerate(names)}
        self.ids, self.lengths = padded([encoding.encode(formulas[n]) for n in names])
        self.ids, self.lengths = self.ids.to(rt.device), self.lengths.to(rt.device)

        def tensors(rs):
            return (torch.tensor([row_of[r[0]] for r in rs], dtype=torch.long),
                    torch.tensor([row_of[r[1]] for r in rs], dtype=torch.long),
                    torch.tensor([r[2] for r in rs], dtype=torch.float32))

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
        return model(self.ids[uc, : int(cl.max())], cl, self.ids[up, : int(pl.max())], pl, ci, pi)

    def loss(self, output, batch):
        return F.binary_cross_entropy_with_logits(output, batch[2], pos_weight=self.pos_weight)

    def metric_sums(self, output, batch):
        y = batch[2]
        pred = (output > 0).float()
        return {"loss": F.binary_cross_entropy_with_logits(output, y, pos_weight=self.pos_weight, reduction="sum"),
                "correct": (pred == y).sum(), "count": torch.tensor(float(len(y)), device=y.device),
                "pos_correct": (pred * y).sum(), "pos": y.sum()}

    def summarize(self, sums):
        n = max(float(sums["count"]), 1.0)
        return {"loss": float(sums["loss"]) / n, "acc": float(sums["correct"]) / n,
                "pos_recall": float(sums["pos_correct"]) / max(float(sums["pos"]), 1.0)}
