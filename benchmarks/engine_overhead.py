"""Engine overhead: the same model trained for the same steps through deeplearn's engine and through a plain,
hand-written PyTorch loop, alternating in one process. Prints samples/s of each and the ratio engine / plain.

    python benchmarks/engine_overhead.py [--steps 300] [--repeats 3] [--threads 2]

Both loops sample shuffled minibatches of uint8 images held in memory, scale and normalize them, and run
forward, cross-entropy, backward and an SGD (momentum) update. Training time excludes set-up for both; the
engine's also excludes its evaluations and checkpoints (none fall inside the timed steps here except the last).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402

from deeplearn.engine import Runtime, TensorSource, TrainConfig, fit  # noqa: E402
from deeplearn import models  # noqa: E402
from deeplearn.supervised.encoding import Encoder  # noqa: E402
from deeplearn.supervised.task import ClassificationTask  # noqa: E402

MEAN, STD = [0.1307], [0.3081]


def data(n=12000):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g)


def build(name):
    torch.manual_seed(0)
    spec = models.get(name)
    shape = (1, *(spec.input_size or (28, 28)))
    return spec.build(10, shape), spec.input_size


def plain(name, x, y, steps, batch):
    """The loop anyone would write by hand."""
    model, size = build(name)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    enc = Encoder(255, MEAN, STD, size=size)
    model.train()
    done, epoch = 0, 0
    t0 = time.perf_counter()
    while done < steps:
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(x) - batch + 1, batch):
            idx = perm[i:i + batch]
            xb, yb = enc((x[idx], y[idx]))
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
        epoch += 1
    return steps * batch / (time.perf_counter() - t0)


def engine(name, x, y, steps, batch):
    model, size = build(name)
    src = TensorSource((x, y), batch, shuffle=True, transform=Encoder(255, MEAN, STD, size=size))
    task = ClassificationTask(model, src, {}, 10, {"aux_weight": 0.3}, {"class_names": list("0123456789")})
    c = TrainConfig(steps=steps, batch_size=batch, lr=0.01, momentum=0.9, progress="none", log_every=100)
    with tempfile.TemporaryDirectory() as d:
        s = fit(task, c, Runtime(torch.device("cpu")), Path(d) / "run")
    return s["samples_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x, y = data()
    print(machine())
    print(f"{'model':<16}{'plain samples/s':>18}{'engine samples/s':>18}{'ratio':>8}   ({a.steps} steps, batch "
          f"{a.batch}, median of {a.repeats} alternating runs)")
    for name in ["mlp", "lenet5-modern"]:
        try:
            models.get(name)
        except KeyError:
            continue
        engine(name, x, y, 20, a.batch)  # warm-up (allocator, kernels)
        p, e = [], []
        for _ in range(a.repeats):
            p.append(plain(name, x, y, a.steps, a.batch))
            e.append(engine(name, x, y, a.steps, a.batch))
        mp, me = statistics.median(p), statistics.median(e)
        print(f"{name:<16}{mp:>18,.0f}{me:>18,.0f}{me / mp:>8.3f}")


if __name__ == "__main__":
    main()
