"""The engine's Task for learning circuit parameters by SGD: loss = mean negative log-likelihood."""

from __future__ import annotations

import torch

from deeplearn.engine.data import TensorSource
from deeplearn.engine.task import Task
from deeplearn.spn.circuit import Circuit


class SPNTask(Task):
    """Maximum likelihood by minibatch SGD through `deeplearn.engine.fit` (checkpoints, resume, replicas).

    Args:
        circuit: the model; data: {"train", "valid", "test"} long tensors [N, V]; batch_size: global batch;
        rt: the engine's Runtime; config/meta: what the run stores.
    """

    def __init__(self, circuit: Circuit, data: dict[str, torch.Tensor], batch_size: int, seed: int, rt,
                 config: dict, meta: dict):
        self.model = circuit
        per_rank = rt.per_rank_batch(batch_size)
        self.train = TensorSource([data["train"], data["train"]], per_rank, shuffle=True, seed=seed,
                                  rank=rt.rank, world=rt.world_size)
        self.evals = {"val": TensorSource([data["valid"], data["valid"]], 2048, shuffle=False, rank=rt.rank,
                                          world=rt.world_size),
                      "test": TensorSource([data["test"], data["test"]], 2048, shuffle=False, rank=rt.rank,
                                           world=rt.world_size)}
        self.config, self.meta = config, meta

    def loss(self, output: torch.Tensor, batch) -> torch.Tensor:
        return -output.mean()

    def metric_sums(self, output: torch.Tensor, batch) -> dict[str, torch.Tensor]:
        return {"nll": -output.double().sum(), "count": torch.tensor(float(len(output)), dtype=torch.float64,
                                                                     device=output.device)}

    def summarize(self, sums: dict[str, torch.Tensor]) -> dict:
        nll = float(sums["nll"] / sums["count"])
        return {"loss": nll, "ll": -nll}
