"""The neural ranker behind `--method neural --model RUN`: scores every candidate premise of a conjecture.

Premise embeddings do not depend on the conjecture, so each distinct formula is encoded once and kept (a row of
one matrix, found through the formula object's cache, else through its id sequence); ranking a conjecture is
then one conjecture encoding plus the head over the cached rows. torch is imported lazily: the registry loads
this module for every `premises` command.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Sequence

from deeplearn.paths import DataError
from deeplearn.premises.ranker import Ranker, ordered, register
from deeplearn.premises.tptp import Annotated

WEIGHTS = "model.pt"


@register
class NeuralRanker(Ranker):
    name = "neural"
    learns = True

    def __init__(self, **params):
        super().__init__(**params)
        self.model = self.encoding = self.side = None  # side: SideFeatures, for a model that reads them
        self._key = f"neural-row:{uuid.uuid4().hex}"
        self._rows: dict[tuple, int] = {}  # id sequence -> row of the embedding cache
        self._chunks: list = []  # embedding blocks, concatenated into `_matrix` when a rank needs them
        self._matrix = None

    @staticmethod
    def _one_thread() -> None:
        """Rank on one thread: the batches are small, and on this shared 2-core machine a second torch thread
        waiting on a busy core made LSTM steps up to 250x slower. `DEEPLEARN_NEURAL_THREADS` overrides."""
        import os

        import torch

        torch.set_num_threads(int(os.environ.get("DEEPLEARN_NEURAL_THREADS", 1)))

    @classmethod
    def from_model(cls, model, encoding, config: dict | None = None, side=None) -> "NeuralRanker":
        r = cls()
        r.model, r.encoding, r.config, r.side = model.eval(), encoding, dict(config or {}), side
        r.fitted = True
        return r

    def fit(self, problems):
        raise DataError("the neural ranker trains through the engine: `deeplearn premises train --out RUN`, "
                        "then pass --model RUN")

    # persistence -------------------------------------------------------------------------------------------
    def save(self, run_dir) -> Path:
        import torch

        from deeplearn.engine.checkpoint import save_atomic

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        save_atomic({"model": self.model.state_dict(), "config": self.config, "encoding": self.encoding.state(),
                     "side": self.side.state() if self.side is not None else None,
                     "torch": str(torch.__version__)}, run_dir / WEIGHTS)
        path = run_dir / "ranker.json"
        path.write_text(json.dumps({"method": self.name, "params": {}, "weights": WEIGHTS, "config": self.config}))
        return path

    def load_from(self, run_dir: Path) -> None:
        from deeplearn.engine.checkpoint import CheckpointError, load
        from deeplearn.premises.neural.encoding import Encoding
        from deeplearn.premises.neural.model import MODEL_DEFAULTS, PremiseModel

        try:
            blob = load(Path(run_dir) / WEIGHTS)
        except CheckpointError as e:
            raise DataError(f"{run_dir}: no usable neural model ({e})") from None
        self.config, self.encoding = blob["config"], Encoding.from_state(blob["encoding"])
        if blob.get("side") is not None:
            from deeplearn.premises.neural.side import SideFeatures

            self.side = SideFeatures.from_state(blob["side"])
        opts = {k: self.config.get(k, v) for k, v in MODEL_DEFAULTS.items()}
        self.model = PremiseModel(self.encoding.size, **opts)
        self.model.load_state_dict(blob["model"])
        self.model.eval()
        self._one_thread()

    # ranking -----------------------------------------------------------------------------------------------
    def _embed(self, encoder, seqs: list[list[int]], batch: int = 256):
        import torch

        from deeplearn.premises.neural.model import padded

        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths batch with little padding
        out = [None] * len(seqs)
        for s in range(0, len(order), batch):
            idx = order[s: s + batch]
            ids, lengths = padded([seqs[i] for i in idx])
            for i, e in zip(idx, encoder(ids, lengths)):
                out[i] = e
        return torch.stack(out) if out else torch.zeros(0, encoder.out_dim)

    def premise_rows(self, premises: Sequence[Annotated]) -> list[int]:
        """Rows of the premises in the embedding cache, encoding those not seen before."""
        import torch

        rows = [a.cache.get(self._key) for a in premises]
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            new: dict[tuple, int] = {}
            for i in missing:
                key = tuple(self.encoding.encode(premises[i]))
                r = self._rows.get(key)
                if r is None:
                    r = new.setdefault(key, len(self._rows) + len(new))
                rows[i] = r
                premises[i].cache[self._key] = r
            if new:
                with torch.no_grad():
                    self._chunks.append(self._embed(self.model.premise, [list(k) for k in new]))
                self._rows.update(new)
                self._matrix = None
        return rows

    def forget(self, premises: Sequence[Annotated]) -> None:
        """Drop this ranker's cached rows from the formulas (a ranker made for one evaluation leaves nothing)."""
        for a in premises:
            a.cache.pop(self._key, None)

    def premise_matrix(self):
        import torch

        if self._matrix is None:
            self._matrix = torch.cat(self._chunks) if self._chunks else torch.zeros(0, self.model.premise.out_dim)
            self._chunks = [self._matrix]
        return self._matrix

    def scores(self, conjecture: Annotated, premises: Sequence[Annotated]):
        import torch

        if self.model is None:
            raise DataError("the neural ranker has no model: pass --model RUN (made by `premises train`)")
        rows = self.premise_rows(premises)
        with torch.no_grad():
            c = self._embed(self.model.conjecture, [self.encoding.encode(conjecture)])
            p = self.premise_matrix()[torch.tensor(rows, dtype=torch.long)]
            side = self.side.matrix(conjecture, premises) if self.model.side is not None else None
            return self.model.score(c.expand(len(rows), -1), p, side)

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        if not premises:
            return []
        return ordered(premises, self.scores(conjecture, premises).tolist())
