"""Train one neural-ranker configuration for a short budget and print its ranking metrics on training, validation
and test problems: the probe behind the "what moved the needle" table of docs/premises_neural.md.

    python benchmarks/premises_neural_probe.py NAME '{"encoder": "cnn", "self_ratio": 1}' '{"max_time": 150}'

The second argument overrides `premises train`'s model/data options (deeplearn/premises/neural/train.py
TASK_DEFAULTS), the third its engine options (TRAIN_DEFAULTS). Metrics: part 1's (recall@k, AUC against each
problem's `deps`) on every 12th of training problems 200-1,400, the validation problems (the last 5 % of the
training split) and the whole test split. One line of JSON per run; the run directory is runs/probe/NAME.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402


def main() -> None:
    from deeplearn.engine.config import TrainConfig
    from deeplearn.premises import corpus as cm
    from deeplearn.premises import evaluate as ev
    from deeplearn.premises.neural.train import TRAIN_DEFAULTS, train

    name, opts, train_opts = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    corpus = cm.load_mptp(None)
    train_probs, test = ev.chrono_split(corpus, 0.2)
    out = Path("runs/probe") / name
    shutil.rmtree(out, ignore_errors=True)
    tc = TrainConfig.from_dict({**TrainConfig().to_dict(), **TRAIN_DEFAULTS, "progress": "none", **train_opts})
    t0 = time.perf_counter()
    ranker, report = train(corpus, opts, tc, out, log=lambda s: None)
    seconds = time.perf_counter() - t0
    n_val = int(round(opts.get("val_fraction", 0.05) * len(train_probs)))
    res = {}
    for split, probs in [("train", train_probs[200:1400:12]), ("val", train_probs[len(train_probs) - n_val:]),
                         ("test", test)]:
        rankings, _ = ev.rank_problems(ranker, probs)
        m = ev.summarize([ev.ranking_metrics(rankings[p.id], p.deps or []) for p in probs])
        res[split] = {k: round(m.get(k, 0.0), 3) for k in ("problems", "recall@16", "recall@64", "recall@128", "auc")}
    print(json.dumps({"name": name, "wall_s": round(seconds), "steps": [r["steps"] for r in report["rounds"]],
                      "opts": opts, "train": train_opts, "machine": machine(), **res}), flush=True)


if __name__ == "__main__":
    main()
