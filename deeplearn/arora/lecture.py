"""The arora system's section of the lecture report: the provable learner recovers a random sparse deep net's
edges exactly, given enough samples. Each point is a real `deeplearn arora generate` + `deeplearn arora learn`."""

from __future__ import annotations

import json

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, Outcome, Section


def _point(ctx, samples: int, n: int, depth: int, rho: float) -> dict:
    data, run = ctx.path(f"net-{samples}"), ctx.path(f"learned-{samples}")
    ctx.cli(["arora", "generate", "--n", n, "--depth", depth, "--rho", rho, "--samples", samples,
             "--heldout", 2000, "--out", data])
    ctx.cli(["arora", "learn", data, "--out", run])
    return json.loads((run / "scores.json").read_text())


def run_arora(ctx) -> Outcome:
    n, depth, rho = ctx.pick((200, 1, 0.01), (600, 2, 0.003))
    sizes = ctx.pick([2_000, 5_000, 10_000, 20_000, 40_000], [10_000, 40_000, 100_000, 200_000, 400_000])
    pos, neg, exact = [], [], []
    for m in sizes:
        s = _point(ctx, m, n, depth, rho)
        pos.append(min(layer["positive"]["f1"] for layer in s["layers"]))
        neg.append(min(layer["negative"]["f1"] for layer in s["layers"]))
        exact.append(bool(s["positive_exact"]))
    fig = plots.lines({"positive edges (worst layer)": (sizes, pos), "negative edges (worst layer)": (sizes, neg)},
                      ctx.path("f1_vs_samples.png"), xlabel="samples of the observed layer", ylabel="edge F1",
                      styles={"positive edges (worst layer)": "o-", "negative edges (worst layer)": "s--"},
                      title=f"Arora et al.'s learner on a random net, n = {n}, {depth} hidden layer(s), d = 8")
    numbers = {"n": n, "depth": depth, "rho": rho, "samples": sizes, "positive_f1": pos, "negative_f1": neg,
               "positive_graph_exact": exact}
    first = next((m for m, e in zip(sizes, exact) if e), None)
    holds = first is not None and pos[-1] == 1.0
    reason = (f"the positive graph of the true net (n = {n}, {depth} layer(s)) is recovered exactly from "
              f"{first:,} samples on" if first else "the positive graph was not recovered exactly at any size "
              "tried") + (f"; negative-edge F1 {neg[-1]:.3f} at {sizes[-1]:,} (the theorem needs about n^2 samples "
                          f"for them: {n * n:,}).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Edge F1 of the learned net against the true one, by number of samples",
                                       command="; ".join(ctx.commands[:2]) + " (for each sample size)",
                                       numbers=numbers)])


def sections() -> list[Section]:
    return [Section("arora", "Arora et al.'s provable learner", "tractable",
                    "Provable bounds for learning some deep representations (Arora, Bhaskara, Ge, Ma): a sparse "
                    "deep generative net is learned exactly in polynomial time, layer by layer.", run_arora)]
