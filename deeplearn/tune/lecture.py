"""The tune system's section of the lecture report: choosing hyperparameters (the learning rate) by search
rather than by hand. A real `deeplearn tune` study over `deeplearn train`, against the hand-set default."""

from __future__ import annotations

import json

from deeplearn.report import FAILS, HOLDS, Outcome, Section


def run_tune(ctx) -> Outcome:
    trials, epochs = ctx.pick(8, 20), ctx.pick(3, 2)
    data = [] if ctx.quick else ["--data", "mnist", *ctx.data_args(), "--batch-size", "128"]
    train = ["--epochs", epochs, "--threads", ctx.threads, *data]
    ctx.cli(["tune", "--param", "lr=loguniform:1e-4:1", "--trials", trials, "--sampler-seed", 0,
             "--pruner", "none", "--out", ctx.path("study"), "--", *train])
    study_cmd = ctx.commands[-1]
    result = json.loads((ctx.path("study") / "trials.json").read_text())
    ctx.cli(["train", *train, "--progress", "none", "--out", ctx.path("default")])
    default = ctx.summary("default")["best"]["val_acc"]
    done = [t for t in result["trials"] if t["state"] == "COMPLETE"]
    best = result["best"]
    numbers = {"trials": {f"lr {t['params']['lr']:.3g}": t["value"] for t in done},
               "best_lr": best["params"]["lr"], "best_val_acc": best["value"], "default_lr_val_acc": default,
               "worst_val_acc": min(t["value"] for t in done)}
    holds = best["value"] >= default and numbers["worst_val_acc"] < default - 0.1
    reason = (f"a {trials}-trial TPE search of the learning rate (1e-4 to 1, {epochs} epochs each) found lr "
              f"{best['params']['lr']:.3g} with validation accuracy {best['value']:.4f}, against {default:.4f} "
              f"for the hand-tuned default lr 0.05 and {numbers['worst_val_acc']:.4f} for the worst trial (criterion: the "
              f"search matches the hand-tuned value and a bad choice costs over 0.1).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(ctx.path("study") / "study.png", "The study: each trial's validation "
                                       "accuracy and the learning rate it tried", command=study_cmd,
                                       numbers=numbers)])


def sections() -> list[Section]:
    return [Section("tune", "Choosing hyperparameters by search", "real-life",
                    "Real-life training has to choose hyperparameters like the learning rate: the choice matters, "
                    "and a search finds a value as good as a hand-tuned one.", run_tune)]
