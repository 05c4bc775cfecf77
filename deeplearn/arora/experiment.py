"""`deeplearn arora experiment`: the shape of the paper's theorem (Arora et al. 2014, Theorem 1: polynomial
time, sample complexity about 1/rho^2, exact recovery for sparse enough nets), measured.

Parts (each a function returning JSON-able rows; `run` writes results.json and one PNG per sweep):
- main: a 3-layer sparse net with hundreds of units per layer, learned and scored layer by layer, with the
  co-activation statistics of samples from the learned net against the true net's.
- samples: success probability against the number of samples in units of n^2 (one layer; top density
  rho = 2/n, so the 1/rho^2 = n^2/4 of the theorem is the scale).
- degree, sparsity: success against d and against the top density rho, where the sparsity assumptions fail.
- time: the learner's running time against n (samples growing as 50 n, enough for the positive graph),
  with the fitted exponent of time ~ n^k.
- controls: independent Bernoulli data with the same marginals, and column-shuffled data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from deeplearn.arora import measures
from deeplearn.arora.learn import LearnedNet, LearnOptions, learn_network
from deeplearn.arora.model import DeepNet, NetSpec, generate

BASE = dict(weights="balanced", graph="biregular")
# the main net: four positive children per unit (d = 7: 4 positive, 3 negative edges), so child sets are
# 4-cliques, not triangles; rho = 0.0025 keeps y at 12% density. The top layer's negative edges are seen in
# about 4 rho^2 = 2.5e-5 of the samples per edge (15 at 600,000 samples). Session 11, with step 8: every
# edge of every layer exact, 434 s of learning (docs/arora.md)
MAIN = dict(n=1000, depth=3, degree=7, rho=0.0025, samples=600_000)


def trial(spec: NetSpec, samples: int, heldout: int = 2000, opts: LearnOptions | None = None
          ) -> tuple[dict, DeepNet, LearnedNet]:
    """Generate, sample, learn and score one net. Returns (row, net, learned)."""
    net = generate(spec)
    train = net.sample(samples, seed=spec.seed * 1000 + 1)
    held = net.sample(heldout, seed=spec.seed * 1000 + 2) if heldout else None
    opts = opts or LearnOptions(degree=spec.degree)
    t0 = time.perf_counter()
    learned = learn_network(train[0], spec.depth, opts)
    secs = time.perf_counter() - t0
    sc = measures.score(net, learned, held)
    row = {"n": spec.n, "depth": spec.depth, "degree": spec.degree, "rho": spec.rho, "seed": spec.seed,
           "samples": samples, "seconds": secs, "exact": sc["exact"], "positive_exact": sc["positive_exact"],
           "pos_f1": [l["positive"]["f1"] for l in sc["layers"]],
           "neg_f1": [l["negative"]["f1"] for l in sc["layers"]],
           "exact_children": [l["exact_children_fraction"] for l in sc["layers"]],
           "densities": [float(m.mean()) for m in train]}
    return row, net, learned


def part_main(quick: bool) -> dict:
    # quick: the 2-layer net of docs/arora.md (a 3-layer net needs n >> (d/2)^4 = 256: at n = 400 it fails, measured)
    cfg = dict(n=600, depth=2, degree=8, rho=0.003, samples=40_000) if quick else MAIN
    spec = NetSpec(n=cfg["n"], depth=cfg["depth"], degree=cfg["degree"], rho=cfg["rho"], **BASE)
    net = generate(spec)
    train = net.sample(cfg["samples"], seed=1)
    held = net.sample(5000, seed=2)
    t0 = time.perf_counter()
    learned = learn_network(train[0], spec.depth, LearnOptions(degree=spec.degree))
    secs = time.perf_counter() - t0
    sc = measures.score(net, learned, held)
    gap = _coactivation_gaps(net, learned, held[0])
    return {"config": cfg, "seconds": secs, "scores": sc, "coactivation": gap,
            "layer_stats": [layer.stats for layer in learned.layers], "summary": measures.summary_line(sc)}


def _coactivation_gaps(net: DeepNet, learned: LearnedNet, y_true: sp.csr_matrix) -> dict:
    """E[y y^T] of samples from the learned net (learned +-1 weights, threshold 0, decoded top density)
    against the true net's, beside a fresh true sample and independent units with the true marginals."""
    from deeplearn.arora.model import DeepNet as Net
    num = y_true.shape[0]
    lw = learned.weights()
    if not lw:
        return {}
    model = Net(net.spec, lw)
    top_density = learned.layers[-1].density
    y_model = model.sample(num, seed=7, top_density=max(top_density, 1e-9))[0]
    y_fresh = net.sample(num, seed=8)[0]
    p = np.asarray(y_true.mean(0)).ravel()
    rng = np.random.default_rng(9)
    y_indep = sp.csr_matrix((rng.random((num, len(p))) < p).astype(np.float32))
    return {"learned_net": measures.coactivation_gap(y_true, y_model),
            "true_net_fresh_sample": measures.coactivation_gap(y_true, y_fresh),
            "independent_units": measures.coactivation_gap(y_true, y_indep)}


def sweep(name: str, values, make, seeds: int) -> list[dict]:
    rows = []
    for v in tqdm(values, desc=name, leave=False):
        for s in range(seeds):
            spec, samples = make(v, s)
            row, _, _ = trial(spec, samples, heldout=0)
            row["value"] = v
            rows.append(row)
    return rows


def part_samples(quick: bool, seeds: int) -> list[dict]:
    n = 100 if quick else 200
    mult = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4]
    return sweep("samples", mult, lambda m, s: (NetSpec(n=n, depth=1, degree=8, rho=2 / n, seed=s, **BASE),
                                               int(m * n * n)), seeds)


def part_degree(quick: bool, seeds: int) -> list[dict]:
    n = 150 if quick else 300
    ds = [4, 5, 6, 8, 12, 16, 24]  # d = 32 (d^2/n = 3.4, where it broke before) takes minutes per net now
    return sweep("degree", ds, lambda d, s: (NetSpec(n=n, depth=1, degree=d, rho=2 / n, seed=s, **BASE),
                                             int(0.5 * n * n)), seeds)


def part_sparsity(quick: bool, seeds: int) -> list[dict]:
    n = 150 if quick else 300
    rhos = [0.003, 0.007, 0.015, 0.03, 0.06, 0.12]
    return sweep("sparsity", rhos, lambda r, s: (NetSpec(n=n, depth=1, degree=8, rho=r, seed=s, **BASE),
                                                 40_000), seeds)


def part_time(quick: bool) -> dict:
    ns = [125, 250, 500] if quick else [250, 500, 1000, 2000]
    rows = []
    for n in tqdm(ns, desc="time", leave=False):
        row, _, _ = trial(NetSpec(n=n, depth=1, degree=8, rho=2 / n, **BASE), samples=50 * n, heldout=0)
        rows.append(row)
    k, c = np.polyfit(np.log([r["n"] for r in rows]), np.log([r["seconds"] for r in rows]), 1)
    return {"rows": rows, "exponent": float(k), "constant": float(np.exp(c))}


def part_controls(quick: bool) -> dict:
    """The main net's data, then the same data with its structure destroyed two ways."""
    n = 200 if quick else 400
    spec = NetSpec(n=n, depth=1, degree=8, rho=2 / n, **BASE)
    net = generate(spec)
    y = net.sample(40_000, seed=1)[0]
    rng = np.random.default_rng(3)
    dense = y.toarray()
    p = dense.mean(0)
    bern = sp.csr_matrix((rng.random(dense.shape) < p).astype(np.float32))
    shuf = sp.csr_matrix(np.stack([rng.permutation(dense[:, j]) for j in range(n)], 1))
    out = {}
    for name, data in (("true", y), ("bernoulli", bern), ("column_shuffled", shuf)):
        learned = learn_network(data, 1, LearnOptions(degree=spec.degree))
        sc = measures.score(net, learned)
        out[name] = {"units": len(learned.layers[0].pos) if learned.layers else 0,
                     "pos_f1": sc["layers"][0]["positive"]["f1"], "neg_f1": sc["layers"][0]["negative"]["f1"]}
    return out


def run(out: Path, quick: bool = False, seeds: int = 3, only: list[str] | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    parts = only or ["main", "samples", "degree", "sparsity", "time", "controls"]
    res_path = out / "results.json"
    results = json.loads(res_path.read_text()) if res_path.is_file() else {}
    results["quick"] = quick
    for part in parts:
        t0 = time.perf_counter()
        if part == "main":
            results["main"] = part_main(quick)
            print("main:", results["main"]["summary"], f"({results['main']['seconds']:.1f} s)")
        elif part == "time":
            results["time"] = part_time(quick)
            print(f"time: exponent {results['time']['exponent']:.2f}")
        elif part == "controls":
            results["controls"] = part_controls(quick)
            print("controls:", results["controls"])
        else:
            results[part] = {"samples": part_samples, "degree": part_degree,
                             "sparsity": part_sparsity}[part](quick, seeds)
            print(f"{part}: done")
        print(f"  {part} took {time.perf_counter() - t0:.1f} s")
        tmp = res_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=1, default=float) + "\n")
        tmp.replace(res_path)
    from deeplearn.arora.plots import plot_all
    plot_all(results, out)
    return results
