"""Deep learning as usually done, on the same synthetic data: a net of the true shape trained by SGD layer by
layer (a sparse autoencoder per layer, the greedy layer-wise recipe of Bengio et al. 2007), through the engine,
then read as a graph and scored by the same measures as the provable learner.

Each layer: h = sigmoid(E x + a), x^ = sigmoid(D h + b), loss = binary cross-entropy(x^, x) + l1 * mean(h).
The next layer trains on the codes 1[h > 1/2] of this one. The decoder column D[:, i] is unit i's edges:
positive where D[j, i] > tau * max_j |D[j, i]|, negative where below -tau * max. The SGD net has no threshold
of its own, so it is scored at the tau in {0.1, ..., 0.9} that gives it the best mean positive-edge F1 (an
oracle choice in its favour, reported with the scores).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.arora import measures
from deeplearn.arora.learn import LearnedLayer
from deeplearn.arora.model import load_net, load_samples, save_samples
from deeplearn.engine import Task, TensorSource
from deeplearn.paths import DataError


class SparseAutoencoder(nn.Module):
    def __init__(self, n: int, m: int):
        super().__init__()
        self.enc = nn.Linear(n, m)
        self.dec = nn.Linear(m, n)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.enc(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)
        return self.dec(h), h  # reconstruction logits (B, n), codes (B, m)


class AutoencoderTask(Task):
    """Reconstruction of 0/1 samples; metrics: loss, BCE and the fraction of bits reconstructed wrong."""

    def __init__(self, model, train, evals, l1: float, config: dict, meta: dict):
        self.model, self.train, self.evals, self.l1, self.config, self.meta = model, train, evals, l1, config, meta

    def batch_size_of(self, batch) -> int:
        return len(batch[0])  # unsupervised: the batch is (x,)

    def loss(self, output, batch):
        logits, h = output
        return F.binary_cross_entropy_with_logits(logits, batch[0]) + self.l1 * h.mean()

    def metric_sums(self, output, batch):
        logits, h = output
        x = batch[0]
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(1)
        return {"loss": (bce + self.l1 * h.mean(1)).sum(), "bce": bce.sum(),
                "bit_errors": ((logits > 0).float() != x).float().sum(), "bits": torch.tensor(float(x.numel())),
                "n": torch.tensor(float(len(x)))}

    def summarize(self, sums):
        n = max(float(sums["n"]), 1.0)
        return {"loss": float(sums["loss"]) / n, "bce": float(sums["bce"]) / n,
                "bit_error": float(sums["bit_errors"]) / max(float(sums["bits"]), 1.0)}


def build_task(opts: dict, rt, c) -> AutoencoderTask:
    if not opts.get("samples"):
        raise DataError("arora train needs SAMPLES (an .npz of 0/1 samples) or --resume RUN_DIR")
    x = load_samples(Path(opts["samples"]))[0]
    if opts.get("max_samples"):
        x = x[: opts["max_samples"]]
    x = torch.from_numpy(x.toarray().astype(np.float32))
    n_val = int(len(x) * opts["val_fraction"])
    if len(x) - n_val < c.batch_size:
        raise DataError(f"{opts['samples']}: {len(x)} samples, too few for --batch-size {c.batch_size}")
    xtr, xva = x[: len(x) - n_val], x[len(x) - n_val:]
    m = opts.get("hidden") or x.shape[1]
    torch.manual_seed(c.seed)
    model = SparseAutoencoder(x.shape[1], m)
    per_rank = c.batch_size // rt.world_size
    train = TensorSource((xtr,), per_rank, shuffle=True, seed=c.seed, rank=rt.rank, world=rt.world_size)
    evals = {"val": TensorSource((xva,), 1024, shuffle=False, rank=rt.rank, world=rt.world_size)} if n_val else {}
    meta = {"inputs": int(x.shape[1]), "hidden": int(m), "train_samples": int(len(xtr))}
    return AutoencoderTask(model, train, evals, opts["l1"], dict(opts), meta)


class SGDNet:
    """The layer-wise autoencoders read as a net: `layers` (pos/neg at one tau) and `decode`, like LearnedNet."""

    def __init__(self, models: list[SparseAutoencoder], tau: float):
        self.models = models
        self.layers = [_edges(m, tau) for m in models]

    def decode(self, y: sp.csr_matrix) -> list[sp.csr_matrix]:
        out, x = [], torch.from_numpy(y.toarray().astype(np.float32))
        with torch.no_grad():
            for m in self.models:
                x = (m.encode(x) > 0.5).float()
                out.append(sp.csr_matrix(x.numpy()))
        return out


def _edges(model: SparseAutoencoder, tau: float) -> LearnedLayer:
    d = model.dec.weight.detach().numpy().T  # (m, n): unit i's weights to the inputs
    scale = np.abs(d).max(1, keepdims=True) + 1e-12
    return LearnedLayer(d > tau * scale, d < -tau * scale, 0.0)


def run(data: Path, out: Path, epochs: float, lr: float, l1: float, max_samples: int | None, threads: int,
        seed: int) -> str:
    """Train one autoencoder per true layer through the engine, then score the stack against the true net."""
    from deeplearn.arora.commands import SPEC
    from deeplearn.engine.command import add_training_arguments, run_training
    from deeplearn.engine.rundir import RunDir
    net = load_net(data)
    samples = data / "train.npz"
    models = []
    for k in range(1, net.depth + 1):
        run_dir = out / f"layer{k}"
        parser = argparse.ArgumentParser()
        add_training_arguments(parser, SPEC)
        argv = [str(samples), "--out", str(run_dir), "--epochs", str(epochs), "--lr", str(lr), "--l1", str(l1),
                "--threads", str(threads), "--seed", str(seed), "--progress", "none"]
        if max_samples:
            argv += ["--max-samples", str(max_samples)]
        run_training(SPEC, parser.parse_args(argv))
        rd = RunDir(run_dir)
        meta = rd.config["meta"]
        model = SparseAutoencoder(meta["inputs"], meta["hidden"])
        model.load_state_dict(rd.model_state("best"))
        model.eval()
        models.append(model)
        codes = SGDNet(models, 0.5).decode(load_samples(data / "train.npz")[0][: max_samples or None])[-1]
        samples = run_dir / "codes.npz"
        save_samples(samples, [codes])
    heldout = load_samples(data / "heldout.npz") if (data / "heldout.npz").is_file() else None
    best = None
    for tau in np.round(np.arange(0.1, 0.95, 0.1), 2):
        sc = measures.score(net, SGDNet(models, float(tau)), heldout)
        f1 = float(np.mean([l["positive"]["f1"] for l in sc["layers"]]))
        if best is None or f1 > best[0]:
            best = (f1, float(tau), sc)
    _, tau, sc = best
    sc["tau"] = tau
    tmp = out / "scores.json.tmp"
    tmp.write_text(json.dumps(sc, indent=2, default=float) + "\n")
    tmp.replace(out / "scores.json")
    return f"SGD autoencoders (best tau {tau}): " + measures.summary_line(sc)
