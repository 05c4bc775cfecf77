"""Commands of the spn system: `deeplearn spn train | evaluate | sample | query | baselines`."""

from __future__ import annotations

import argparse

STRUCTURES = ["learnspn", "rat", "hclt", "json"]
LEARNERS = ["em", "sgd", "none"]
# Engine defaults for --learner sgd (Adam on the unnormalized log-parameters).
SGD_DEFAULTS = {"epochs": 20, "batch_size": 512, "optimizer": "adam", "lr": 0.05, "monitor": "val_loss",
                "log_every": 20}


def register(verbs) -> None:
    """Add the spn verbs to `verbs` (the `deeplearn spn` sub-parsers)."""
    p = verbs.add_parser("train", help="learn a structure and its parameters on a benchmark data set")
    p.add_argument("--data", required=True, help="benchmark name (nltcs, plants, audio, jester, netflix, ...) or "
                                                 "digits (scikit-learn's 8x8 digits, 17 gray levels; rat or json) or "
                                                 "mnist (binarized at 128)")
    p.add_argument("--data-dir", help="data root holding density/ (default: $DEEPLEARN_DATA)")
    p.add_argument("--structure", choices=STRUCTURES, default="hclt",
                   help="learnspn (Gens and Domingos 2013), rat (RAT-SPN), hclt (hidden Chow-Liu tree), or json "
                        "(--structure-file); default hclt")
    p.add_argument("--structure-file", help="a JSON circuit description, for --structure json")
    p.add_argument("--learner", choices=LEARNERS,
                   help="parameters: em (mini-batch then full-batch EM), sgd (the engine), none (learnspn's own "
                        "counts); default: none for learnspn, em otherwise")
    p.add_argument("--out", help="run directory (default: runs/spn-<data>-<structure>)")
    g = p.add_argument_group("structure")
    g.add_argument("--hidden", type=int, default=16, help="hclt: latent states per variable (default 16)")
    g.add_argument("--hclt-init", choices=["random", "clt"], default="clt",
                   help="hclt: start near the Chow-Liu tree (latent state k ~ value k mod 2; default), or random")
    g.add_argument("--depth", type=int, default=3, help="rat: splits per repetition (default 3)")
    g.add_argument("--repetitions", type=int, default=10, help="rat: random partitions (default 10)")
    g.add_argument("--sums", type=int, default=10, help="rat: sum nodes per region (default 10)")
    g.add_argument("--inputs", type=int, default=10, help="rat: input distributions per leaf region (default 10)")
    g.add_argument("--min-instances", type=int, default=200, help="learnspn: naive Bayes below this (default 200)")
    g.add_argument("--pvalue", type=float, default=0.001, help="learnspn: G-test significance (default 0.001)")
    g.add_argument("--clustering", choices=["kmeans", "em"], default="kmeans", help="learnspn: instance clustering")
    g.add_argument("--learnspn-alpha", type=float,
                   help="learnspn: the leaves' pseudo-count while learning the structure (default: --alpha-leaf, "
                        "which is also EM's leaf pseudo-count)")
    g.add_argument("--independence", choices=["g", "rdc"], default="g",
                   help="learnspn: variable splits by the G-test (binary data; default) or the randomized dependence "
                        "coefficient (any data)")
    g.add_argument("--rdc-threshold", type=float, default=0.3,
                   help="learnspn --independence rdc: a pair is dependent above this RDC (default 0.3)")
    g.add_argument("--leaves", choices=["categorical", "gaussian"], default="categorical",
                   help="leaf distributions: categorical (default) or gaussian (the gray levels of --data digits or "
                        "mnist scaled to [0, 1]; structures rat, learnspn --independence rdc, json)")
    g = p.add_argument_group("EM (--epochs, --batch-size, --max-time, --seed, --threads, --patience also apply)")
    g.add_argument("--em-step", type=float, default=0.2, help="stepwise-EM step lambda (default 0.2)")
    g.add_argument("--minibatch-epochs", type=int, help="stepwise epochs before full-batch ones (default: all "
                                                        "but the last 3)")
    g.add_argument("--alpha-leaf", type=float, default=0.1, help="leaf pseudo-count (default 0.1)")
    g.add_argument("--alpha-sum", type=float, default=0.01, help="sum-weight pseudo-count (default 0.01)")
    from deeplearn.engine import config as engine_config

    engine_config.add_train_arguments(p, SGD_DEFAULTS)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("evaluate", help="mean log-likelihood of a trained circuit on train/valid/test")
    p.add_argument("run_dir")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_evaluate)

    p = verbs.add_parser("sample", help="exact samples of a trained circuit (optionally given evidence)")
    p.add_argument("run_dir")
    p.add_argument("-n", type=int, default=16, help="samples (default 16)")
    p.add_argument("--evidence", default="", help='observed values, e.g. "x3=1,x7=0"')
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = verbs.add_parser("query", help="exact probabilities: p(evidence), marginals given evidence, MPE")
    p.add_argument("run_dir")
    p.add_argument("--evidence", default="", help='observed values, e.g. "x3=1,x7=0"')
    p.add_argument("--marginal", nargs="*", default=[], help="variables whose conditional marginals to print")
    p.add_argument("--mpe", action="store_true", help="also the most probable completion (max-product)")
    p.set_defaults(func=cmd_query)

    p = verbs.add_parser("complete", help="complete the left or bottom half of digits or MNIST test images (MPE and "
                                          "conditional mean) against nearest-neighbour and PCA completion")
    p.add_argument("run_dir", help="a run trained with --data digits or --data mnist")
    p.add_argument("--data", choices=["digits", "mnist"], help="the images (default: those the run was trained on)")
    p.add_argument("--data-dir", help="data root holding images/mnist.npz (default: $DEEPLEARN_DATA)")
    p.add_argument("--half", choices=["left", "bottom"], default="left")
    p.add_argument("-o", "--output", default="completion.png", help="picture of completed images (PNG)")
    p.add_argument("--show", type=int, default=10, help="test images in the picture (default 10)")
    p.add_argument("--limit", type=int, help="complete the first N test images (default: all 360 digits; the first "
                                             "1,000 of MNIST's 10,000)")
    p.set_defaults(func=cmd_complete)

    p = verbs.add_parser("baselines", help="independent Bernoulli and Chow-Liu tree test LL (alpha on valid)")
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_baselines)


def cmd_train(args) -> int:
    from deeplearn.spn.train import train

    train(args)
    return 0


def cmd_evaluate(args) -> int:
    from deeplearn.spn.data import as_tensor, load_data
    from deeplearn.spn.em import mean_ll
    from deeplearn.spn.run import load_circuit

    circuit, info = load_circuit(args.run_dir)
    data, _ = load_data(info["data"], args.data_dir, info.get("leaves", "categorical"))
    print(f"{args.run_dir}: {info['structure']} on {info['data']}, {circuit.num_parameters():,} parameters")
    for split in ("train", "valid", "test"):
        ll = mean_ll(circuit, as_tensor(data[split], circuit.gaussian))
        print(f"{split:5s} log-likelihood {ll:.4f} nats/instance ({len(data[split])} instances)")
    return 0


def parse_evidence(text: str, num_vars: int, num_states: int = 2) -> dict[int, float]:
    """{variable: value} from "x3=1,x7=0" (the x is optional; num_states 0: real values, e.g. "x3=0.25").
    Raises DataError on a malformed item."""
    import math

    from deeplearn.paths import DataError

    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            var, val = parse_var(name, num_vars), (float(value) if num_states == 0 else int(value))
        except ValueError:
            var, val = None, None
        ok = val is not None and (math.isfinite(val) if num_states == 0 else 0 <= val < num_states)
        if not sep or var is None or not ok:
            what = "a real number" if num_states == 0 else f"in 0..{num_states - 1}"
            raise DataError(f"evidence item {item!r}: expected xI=V with I in 0..{num_vars - 1} and V {what}")
        out[var] = val
    return out


def empty_evidence(circuit, rows: int):
    """[rows, V] of missing values: -1 (categorical) or NaN (Gaussian leaves)."""
    import torch

    if circuit.gaussian:
        return torch.full((rows, circuit.num_vars), float("nan"))
    return torch.full((rows, circuit.num_vars), -1, dtype=torch.long)


def show_row(row) -> str:
    return " ".join(f"{v:.4f}" for v in row) if any(isinstance(v, float) for v in row) else "".join(map(str, row))


def parse_var(name: str, num_vars: int) -> int:
    from deeplearn.paths import DataError

    try:
        v = int(name.strip().lstrip("xX"))
    except ValueError:
        raise DataError(f"variable {name!r}: expected xI with I in 0..{num_vars - 1}") from None
    if not 0 <= v < num_vars:
        raise DataError(f"variable {name!r} is outside x0..x{num_vars - 1}")
    return v


def cmd_sample(args) -> int:
    from deeplearn.spn.run import load_circuit

    circuit, _ = load_circuit(args.run_dir)
    ev = empty_evidence(circuit, args.n)
    for v, val in parse_evidence(args.evidence, circuit.num_vars, circuit.num_states).items():
        ev[:, v] = val
    for row in circuit.sample(evidence=ev, seed=args.seed).tolist():
        print(show_row(row))
    return 0


def cmd_query(args) -> int:
    import math

    import torch

    from deeplearn.spn.run import load_circuit

    circuit, _ = load_circuit(args.run_dir)
    v, k = circuit.num_vars, circuit.num_states
    ev = empty_evidence(circuit, 1)
    for var, val in parse_evidence(args.evidence, v, k).items():
        ev[0, var] = val
    with torch.no_grad():
        log_e = float(circuit(ev)[0])
    what = "density" if circuit.gaussian else "p"
    print(f"log {what}(evidence) = {log_e:.6f}   {what}(evidence) = {math.exp(log_e):.6g}")
    for name in args.marginal:
        var = parse_var(name, v)
        if circuit.gaussian:
            mean = circuit.conditional_means(ev)[0, var]
            print(f"E[x{var} | evidence] = {float(mean):.6f} (Gaussian leaves: the conditional mean)")
            continue
        q = ev.repeat(k, 1)
        q[:, var] = torch.arange(k)
        with torch.no_grad():
            cond = (circuit(q) - log_e).exp()
        print(f"p(x{var} | evidence): " + "  ".join(f"{s}: {float(p):.6f}" for s, p in enumerate(cond)))
    if args.mpe:
        x, value = circuit.mpe(ev)
        with torch.no_grad():
            log_x = float(circuit(x)[0])
        print(f"MPE completion (max-product): {show_row(x[0].tolist())}   max-product log-value "
              f"{float(value[0]):.4f}   log p(completion) {log_x:.4f}")
    return 0


def cmd_baselines(args) -> int:
    from deeplearn.spn.baselines import run_baselines
    from deeplearn.spn.data import canonical, load_for_training

    print("| data set | independent test LL | alpha | Chow-Liu test LL | alpha |\n|---|---|---|---|---|")
    for name in args.data:
        r = run_baselines(load_for_training(name, args.data_dir))
        i, c = r["independent"], r["chow_liu"]
        print(f"| {canonical(name)} | {i['test_ll']:.3f} | {i['alpha']:g} | {c['test_ll']:.3f} | {c['alpha']:g} |")
    return 0


def cmd_complete(args) -> int:
    from deeplearn.spn.complete import run_completion

    if args.limit is not None and args.limit < 1:
        from deeplearn.paths import DataError

        raise DataError(f"--limit {args.limit}: complete at least one test image")
    run_completion(args.run_dir, args.half, args.output, args.show, args.limit, args.data_dir, args.data)
    return 0
