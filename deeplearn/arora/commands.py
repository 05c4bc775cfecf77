"""`deeplearn arora generate | learn | experiment | sgd`: the provable learner of Arora, Bhaskara, Ge, Ma 2014."""

from __future__ import annotations

import json
from pathlib import Path

from deeplearn.arora.options import AutoencoderOptions
from deeplearn.engine.command import TrainingSpec, add_training_arguments, train_verb
from deeplearn.paths import DataError


def _build_task(opts, rt, c):
    from deeplearn.arora.sgd import build_task
    return build_task(opts, rt, c)


def _describe(summary: dict) -> str:
    final = summary.get("final") or {}
    return (f"autoencoder: validation bce {final.get('val_bce', float('nan')):.4f}, bit error "
            f"{final.get('val_bit_error', float('nan')):.2e} ({summary['status']}, {summary['steps']} steps)")


# One layer of the SGD baseline: Adam, a few epochs (docs/arora.md)
SPEC = TrainingSpec(system="arora", options=AutoencoderOptions, build_task=_build_task,
                    defaults={"epochs": 3, "batch_size": 128, "optimizer": "adam", "lr": 0.01, "log_every": 100},
                    run_name=lambda cfg: "arora-autoencoder", describe=_describe,
                    metrics=("val_loss", "val_bce", "val_bit_error"))


def register(verbs) -> None:
    g = verbs.add_parser("generate", help="draw a random net and samples of it into a directory")
    _net_arguments(g)
    g.add_argument("--samples", type=int, default=40_000, help="training samples of the observed layer")
    g.add_argument("--heldout", type=int, default=5_000, help="held-out samples (every layer) for scoring")
    g.add_argument("--out", required=True, help="directory to write spec.json, net.npz, train.npz, heldout.npz")
    g.set_defaults(func=cmd_generate)

    le = verbs.add_parser("learn", help="learn a net layer by layer from a directory's samples; score it")
    le.add_argument("data", help="a directory written by `deeplearn arora generate`")
    le.add_argument("--out", required=True, help="run directory for learned.npz, learned.json, scores.json")
    le.add_argument("--depth", type=int, default=None, help="layers to learn (default: the true depth)")
    _learn_arguments(le)
    le.set_defaults(func=cmd_learn)

    ex = verbs.add_parser("experiment", help="the theorem's shape: exact recovery and the sweeps, with PNGs")
    ex.add_argument("--out", required=True, help="directory for results.json and the pictures")
    ex.add_argument("--quick", action="store_true", help="smaller sweeps (about a minute)")
    ex.add_argument("--seeds", type=int, default=3, help="random nets per sweep point")
    ex.add_argument("--only", nargs="*", default=None,
                    choices=["main", "samples", "degree", "sparsity", "time", "controls"],
                    help="run only these parts")
    ex.set_defaults(func=cmd_experiment)

    sg = verbs.add_parser("sgd", help="deep learning as usually done: a layer-wise sparse autoencoder by SGD "
                                      "through the engine, scored by the same measures")
    sg.add_argument("data", help="a directory written by `deeplearn arora generate`")
    sg.add_argument("--out", required=True, help="run directory")
    sg.add_argument("--epochs", type=float, default=3.0)
    sg.add_argument("--lr", type=float, default=0.01)
    sg.add_argument("--l1", type=float, default=1e-3, help="sparsity penalty on the hidden activity")
    sg.add_argument("--max-samples", type=int, default=60_000)
    sg.add_argument("--threads", type=int, default=1)
    sg.add_argument("--seed", type=int, default=0)
    sg.set_defaults(func=cmd_sgd)

    tr = verbs.add_parser("train", help="one layer of the SGD baseline: a sparse autoencoder through the engine")
    add_training_arguments(tr, SPEC)
    tr.set_defaults(func=train_verb(SPEC))


def _net_arguments(p) -> None:
    from deeplearn.arora.model import GRAPH_MODELS, WEIGHT_MODELS, NetSpec
    d = NetSpec()
    p.add_argument("--n", type=int, default=d.n, help="units per layer")
    p.add_argument("--depth", type=int, default=d.depth, help="hidden layers above the observed one")
    p.add_argument("--degree", type=int, default=d.degree, help="children per parent (d)")
    p.add_argument("--rho", type=float, default=d.rho, help="top layer density (each top unit on w.p. rho)")
    p.add_argument("--weights", default=d.weights, choices=WEIGHT_MODELS,
                   help="pm1: +-1 (the paper's basic model); uniform: [-1, 1]; balanced: +-1, half positive")
    p.add_argument("--graph", default=d.graph, choices=GRAPH_MODELS)
    p.add_argument("--threshold", type=float, default=d.threshold, help="unit on iff weighted input > this")
    p.add_argument("--seed", type=int, default=d.seed)


def _learn_arguments(p) -> None:
    from deeplearn.arora.learn import LearnOptions
    p.add_argument("--degree", type=int, default=None, help="d known to the learner (default: the net's)")
    p.add_argument("--method", default="triple", choices=["triple", "pairwise"])
    p.add_argument("--corr-threshold", type=float, default=None)
    p.add_argument("--min-count", type=int, default=LearnOptions.min_count)
    p.add_argument("--decoder", default="consistent", choices=["consistent", "signed", "likelihood", "fraction"],
                   help="consistent (default): signed, then a local search for sgn(W^T h) = x; "
                        "signed: positive and negative edges, explaining away")
    p.add_argument("--refit-rounds", type=int, default=LearnOptions.refit_rounds,
                   help="rounds of step 8, re-voting every layer's edges from the decoded layers (0: off; "
                        "only with --decoder consistent)")


def _options(args, degree: int):
    from deeplearn.arora.learn import LearnOptions
    return LearnOptions(degree=args.degree or degree, method=args.method, corr_threshold=args.corr_threshold,
                        min_count=args.min_count, decoder=args.decoder, refit_rounds=args.refit_rounds)


def cmd_generate(args) -> int:
    from deeplearn.arora.model import NetSpec, generate, save_net, save_samples
    spec = NetSpec(n=args.n, depth=args.depth, degree=args.degree, rho=args.rho, weights=args.weights,
                   graph=args.graph, threshold=args.threshold, seed=args.seed).check()
    if args.samples < 1 or args.heldout < 0:
        raise DataError(f"--samples {args.samples} / --heldout {args.heldout}: need >= 1 and >= 0")
    net = generate(spec)
    out = Path(args.out)
    save_net(net, out)
    train = net.sample(args.samples, seed=spec.seed * 1000 + 1)
    save_samples(out / "train.npz", train[:1])  # the learner sees the observed layer only
    if args.heldout:
        save_samples(out / "heldout.npz", net.sample(args.heldout, seed=spec.seed * 1000 + 2))
    dens = [float(m.mean()) for m in train]
    print(f"wrote {out}: net n={spec.n} depth={spec.depth} d={spec.degree} rho={spec.rho} ({spec.weights}, "
          f"{spec.graph}); {args.samples} samples; layer densities y..top {', '.join(f'{x:.4g}' for x in dens)}")
    return 0


def cmd_learn(args) -> int:
    from deeplearn.arora import measures
    from deeplearn.arora.learn import learn_network
    from deeplearn.arora.model import load_net, load_samples
    from deeplearn.arora.store import save_learned
    data = Path(args.data)
    net = load_net(data)
    y = load_samples(data / "train.npz")[0]
    if y.shape[1] != net.spec.n:
        raise DataError(f"{data / 'train.npz'}: {y.shape[1]} observed units, the net has {net.spec.n}")
    opts = _options(args, net.spec.degree)
    learned = learn_network(y, args.depth or net.depth, opts)
    heldout = load_samples(data / "heldout.npz") if (data / "heldout.npz").is_file() else None
    scores = measures.score(net, learned, heldout)
    scores.update({"seconds": learned.seconds, "samples": int(y.shape[0]), "spec": net.spec.__dict__})
    out = Path(args.out)
    save_learned(learned, out)
    _write_json(out / "scores.json", scores)
    print(f"learned {len(learned.layers)} layers in {learned.seconds:.1f} s from {y.shape[0]} samples")
    print(measures.summary_line(scores))
    print(f"wrote {out}/learned.npz, learned.json, scores.json")
    return 0


def cmd_experiment(args) -> int:
    from deeplearn.arora import experiment
    experiment.run(Path(args.out), quick=args.quick, seeds=args.seeds, only=args.only)
    return 0


def cmd_sgd(args) -> int:
    from deeplearn.arora import sgd
    summary = sgd.run(Path(args.data), Path(args.out), epochs=args.epochs, lr=args.lr, l1=args.l1,
                      max_samples=args.max_samples, threads=args.threads, seed=args.seed)
    print(summary)
    return 0


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    tmp.replace(path)
