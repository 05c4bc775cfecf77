"""`deeplearn spn train`: build a structure, learn its parameters (EM or SGD through the engine), save the run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from deeplearn.paths import DataError
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.data import as_tensor, canonical, load_data
from deeplearn.spn.em import EMConfig, fit_em, mean_ll
from deeplearn.spn.graph import Graph
from deeplearn.spn.run import RESULTS_FILE, save_circuit, write_json_atomic


def build_structure(args, train: np.ndarray, num_states: int = 2) -> tuple[Graph, dict]:
    """The structure named by --structure, learned from (or laid over) the training data; and its options."""
    s = args.structure
    seed = args.seed or 0
    leaves = getattr(args, "leaves", "categorical")
    if leaves == "gaussian" and s == "hclt":
        raise DataError("--structure hclt is built for binary data; with --leaves gaussian use rat, learnspn "
                        "(--independence rdc) or json")
    if leaves == "gaussian" and s == "learnspn" and getattr(args, "independence", "g") != "rdc":
        raise DataError("the G-test is for binary data: with --leaves gaussian pass --independence rdc")
    if leaves == "categorical" and num_states != 2 and s in ("hclt", "learnspn"):
        raise DataError(f"--structure {s} is built for binary data; this data set has {num_states} values per "
                        f"variable: use --structure rat or json")
    if s == "hclt":
        from deeplearn.spn.structures import hclt_graph

        return (hclt_graph(train, hidden=args.hidden, init=args.hclt_init, seed=seed),
                {"hidden": args.hidden, "init": args.hclt_init})
    if s == "rat":
        from deeplearn.spn.structures import rat_graph

        from deeplearn.spn.structures import init_gaussian_leaves

        opts = {"depth": args.depth, "repetitions": args.repetitions, "sums": args.sums, "inputs": args.inputs}
        g = rat_graph(train.shape[1], seed=seed, num_states=num_states, leaf_type=leaves, **opts)
        if leaves == "gaussian":
            init_gaussian_leaves(g, train, seed)
        return g, {**opts, "leaves": leaves}
    if s == "learnspn":
        from deeplearn.spn.learnspn import LearnSPNConfig, learnspn

        cfg = LearnSPNConfig(min_instances=args.min_instances, pvalue=args.pvalue, clustering=args.clustering,
                             alpha=args.alpha_leaf if getattr(args, "learnspn_alpha", None) is None
                             else args.learnspn_alpha, seed=seed, independence=getattr(args, "independence", "g"),
                             rdc_threshold=getattr(args, "rdc_threshold", 0.3), leaf_type=leaves)
        return learnspn(train, cfg), cfg.__dict__.copy()
    if s == "json":
        if not args.structure_file:
            raise DataError("--structure json needs --structure-file PATH (a JSON circuit description)")
        g = Graph.load_json(args.structure_file)
        if g.gaussian != (leaves == "gaussian"):
            raise DataError(f"{args.structure_file}: the structure has {g.leaf_type} leaves; pass --leaves "
                            f"{g.leaf_type}")
        if g.num_vars != train.shape[1] or g.num_states != num_states:
            raise DataError(f"{args.structure_file}: the structure has {g.num_vars} variables of {g.num_states} "
                            f"states, the data set {train.shape[1]} of {num_states}")
        return g, {"file": str(args.structure_file)}
    raise DataError(f"unknown structure {s!r}")


def train(args) -> dict:
    torch.set_num_threads(args.threads or 1)
    name = canonical(args.data)
    leaves = getattr(args, "leaves", "categorical")
    data_np, num_states = load_data(name, args.data_dir, leaves)
    data = {k: as_tensor(v, leaves == "gaussian") for k, v in data_np.items()}
    run_dir = Path(args.out or Path("runs") / f"spn-{name}-{args.structure}")
    if (run_dir / RESULTS_FILE).exists():
        raise DataError(f"{run_dir} already holds a trained circuit; pass another --out")
    learner = args.learner or ("none" if args.structure == "learnspn" else "em")
    if learner == "none" and args.structure != "learnspn":
        raise DataError(f"--learner none leaves a {args.structure} structure at its random start; use em or sgd")

    t0 = time.perf_counter()
    graph, structure_opts = build_structure(args, data_np["train"], num_states)
    circuit = Circuit(graph, seed=args.seed or 0)
    structure_s = time.perf_counter() - t0
    stats = graph.stats()
    print(f"{args.structure} on {name}: {stats['nodes']:,} nodes ({stats['sums']:,} sums, {stats['products']:,} "
          f"products, {stats['leaves']:,} leaves), {circuit.num_parameters():,} parameters, {len(circuit.layers)} "
          f"layers; structure {structure_s:.1f} s", flush=True)

    t1 = time.perf_counter()
    history = []
    if learner == "em":
        history = run_em(circuit, data, args)
    elif learner == "sgd":
        run_sgd(circuit, data, args, run_dir, name)
    params_s = time.perf_counter() - t1
    results = {"data": name, "structure": args.structure, "learner": learner, "structure_options": structure_opts,
               "stats": stats, "parameters": circuit.num_parameters(), "structure_time_s": round(structure_s, 2),
               "parameter_time_s": round(params_s, 2), "train_time_s": round(structure_s + params_s, 2),
               "threads": torch.get_num_threads(), "torch": torch.__version__}
    for split in ("train", "valid", "test"):
        results[f"{split}_ll"] = mean_ll(circuit, data[split])
    info = {"data": name, "structure": args.structure, "learner": learner, "options": structure_opts,
            "leaves": leaves}
    save_circuit(run_dir, circuit, info)
    write_json_atomic(run_dir / RESULTS_FILE, results)
    if history:
        write_json_atomic(run_dir / "em_history.json", history)
    print(f"test log-likelihood {results['test_ll']:.4f} (valid {results['valid_ll']:.4f}, train "
          f"{results['train_ll']:.4f}) nats/instance; {results['train_time_s']:.1f} s in all; run: {run_dir}")
    return results


def run_em(circuit: Circuit, data: dict, args) -> list:
    from tqdm import tqdm

    cfg = EMConfig(epochs=int(args.epochs) if args.epochs else 20, minibatch_epochs=args.minibatch_epochs,
                   batch_size=args.batch_size or 512, step=args.em_step, alpha_leaf=args.alpha_leaf,
                   alpha_sum=args.alpha_sum, max_time=args.max_time, seed=args.seed or 0,
                   patience=args.patience if args.patience is not None else 4)
    bar = tqdm(total=cfg.epochs, desc="EM", disable=not sys.stderr.isatty())

    def show(row):
        bar.update(1)
        bar.set_postfix(train=f"{row['train_ll']:.3f}", valid=f"{row['valid_ll']:.3f}")
        if bar.disable:
            print(f"EM epoch {row['epoch']} ({row['kind']}): train {row['train_ll']:.4f} valid "
                  f"{row['valid_ll']:.4f} ({row['time_s']:.1f} s)", flush=True)

    hist = fit_em(circuit, data["train"], data["valid"], cfg, progress=show)
    bar.close()
    return hist.rows


def run_sgd(circuit: Circuit, data: dict, args, run_dir: Path, name: str) -> dict:
    """Maximum likelihood by SGD through the engine (checkpoints, metrics, resume in run_dir)."""
    from deeplearn.engine import config as engine_config
    from deeplearn.engine import fit, setup
    from deeplearn.spn.commands import SGD_DEFAULTS
    from deeplearn.spn.task import SPNTask

    c = engine_config.merge(args, {}, SGD_DEFAULTS)
    c.threads = args.threads or 1
    rt = setup(c)
    task = SPNTask(circuit, data, c.batch_size, c.seed, rt, config={"data": name, "structure": args.structure},
                   meta={"num_vars": circuit.num_vars})
    summary = fit(task, c, rt, run_dir, system="spn")  # after structure learning: one engine stage
    circuit.to("cpu")
    return summary
