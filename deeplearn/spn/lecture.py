"""The SPN system's section of the lecture report: a sum-product network learns a generative model with
tractable (exact) inference. --quick: a RAT-SPN on the embedded digits, exact conditional completion of a hidden
half against nearest-neighbour and PCA completion; --full: LearnSPN on NLTCS against the Chow-Liu tree."""

from __future__ import annotations

import json

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, Outcome, Section


def _train(ctx, *options) -> dict:
    from deeplearn.spn.run import RESULTS_FILE

    ctx.cli(["spn", "train", *options, *ctx.data_args(), "--threads", ctx.threads, "--out", ctx.path("spn")])
    return json.loads((ctx.path("spn") / RESULTS_FILE).read_text())


def run_spn(ctx) -> Outcome:
    return _quick(ctx) if ctx.quick else _full(ctx)


def _quick(ctx) -> Outcome:
    r = _train(ctx, "--data", "digits", "--structure", "rat", "--depth", 3, "--repetitions", 6, "--sums", 6,
               "--inputs", 6, "--epochs", 8)
    train_cmd = ctx.commands[-1]
    out = ctx.path("completion.png")
    ctx.cli(["spn", "complete", ctx.path("spn"), "--half", "left", "-o", out])
    done = json.loads((ctx.path("spn") / "completion_left.json").read_text())
    mse = done["mse"]
    numbers = {"test_ll_nats": r["test_ll"], "parameters": r["parameters"], "train_time_s": r["train_time_s"],
               "completion_mse": mse}
    holds = mse["SPN conditional mean"] < mse["PCA"]
    reason = (f"RAT-SPN on the 8x8 digits ({r['parameters']:,} parameters, {r['train_time_s']:.0f} s): test "
              f"log-likelihood {r['test_ll']:.1f} nats; its exact conditional mean of the hidden left half has "
              f"MSE {mse['SPN conditional mean']:.4f} against PCA's {mse['PCA']:.4f} ({done['pca_components']} "
              f"components, chosen on valid) and "
              f"nearest neighbour's {mse['nearest neighbour']:.4f} (criterion: better than PCA).")
    figs = [ctx.figure(out, "Test digits with the left half hidden, completed exactly by the SPN (MPE, "
                            f"conditional mean) and by the baselines; the SPN trained by: {train_cmd}",
                       numbers={"completion_mse": mse})]
    bars = plots.bars(mse, ctx.path("completion_mse.png"), ylabel="MSE per hidden pixel",
                      title="completing the left half of 360 test digits", fmt="{:.4f}")
    figs.append(ctx.figure(bars, "Mean squared error of each completion", numbers={"completion_mse": mse}))
    return Outcome(HOLDS if holds else FAILS, reason, figures=figs, numbers=numbers)


def _full(ctx) -> Outcome:
    from deeplearn.spn.baselines import run_baselines
    from deeplearn.spn.data import load_for_training

    r = _train(ctx, "--data", "nltcs", "--structure", "learnspn", "--min-instances", 200)
    ctx.note_command("deeplearn spn baselines --data nltcs")
    base = run_baselines(load_for_training("nltcs", ctx.data_dir))
    ll = {"independent": base["independent"]["test_ll"], "Chow-Liu tree": base["chow_liu"]["test_ll"],
          "LearnSPN": r["test_ll"]}
    fig = plots.bars(ll, ctx.path("nltcs.png"), ylabel="test log-likelihood (nats)", fmt="{:.3f}",
                     ylim=(min(ll.values()) - 1, max(ll.values()) + 0.5), title="NLTCS, higher is better")
    holds = ll["LearnSPN"] > ll["Chow-Liu tree"]
    return Outcome(HOLDS if holds else FAILS, f"test log-likelihood on NLTCS: LearnSPN {ll['LearnSPN']:.3f}, "
                   f"Chow-Liu {ll['Chow-Liu tree']:.3f}, independent {ll['independent']:.3f} nats.",
                   figures=[ctx.figure(fig, "Test log-likelihood of the SPN and the baselines", numbers=ll)],
                   numbers={"test_ll": ll})


def sections() -> list[Section]:
    return [Section("spn", "Sum-product networks", "tractable",
                    "Sum-product networks (Poon and Domingos) learn generative models with a hierarchical "
                    "structure and tractable (exact) inference.", run_spn)]
