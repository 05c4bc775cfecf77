"""The premises system's section of the lecture report: lemma selection for E on MPTP2078, k-NN against the
human (bushy) choice in a small real E evaluation (--quick), and the neural two-LSTM ranker in --full (it takes
about 22 minutes to train on this CPU, so --quick does not test it). Needs ../shared/data/mptp2078."""

from __future__ import annotations

import json

from deeplearn.report import FAILS, HOLDS, UNTESTABLE, Outcome, Section


def _evaluate(ctx, methods: list[str], sample: int, cpu_limit: float, *extra) -> dict:
    out = ctx.path("eval")
    ctx.cli(["premises", "evaluate", *_data_args(ctx), "--method", *methods, *extra, "--sample", sample,
             "--seed", 0, "--cpu-limit", cpu_limit, "--ks", 16, 64, "--workers", ctx.threads, "--out", out])
    return {row["method"]: row for row in json.loads((out / "proof_rates.json").read_text())["rows"]}


def _data_args(ctx) -> list:
    root = ctx.find_data("mptp2078")  # found beside the repository when neither --data-dir nor $DEEPLEARN_DATA
    return ["--data-dir", root] if root is not None and not ctx.data_dir else ctx.data_args()


def _proved(row: dict) -> int:
    return row["proved"] if "proved" in row else row["union"]


def run_premises(ctx) -> Outcome:
    if ctx.quick and ctx.find_data("mptp2078") is None:  # --full without the data fails, naming the path
        where = ctx.data_dir or "$DEEPLEARN_DATA or ../shared/data"
        return Outcome(UNTESTABLE, f"the MPTP2078 data (mptp2078 under {where}) is absent here, so E cannot be "
                                   "run on its problems; with the data --quick runs E on 6 test problems.",
                       numbers={"data": None})
    if ctx.quick:
        rows = _evaluate(ctx, ["knn"], 6, 2)
    else:
        ctx.cli(["premises", "train", *_data_args(ctx), "--threads", ctx.threads, "--out", ctx.path("neural")])
        rows = _evaluate(ctx, ["knn", "neural", "neural+knn"], 40, 5, "--model", ctx.path("neural"))
    proved = {m: _proved(r) for m, r in rows.items()}
    n = next(iter(rows.values()))["problems"]
    ranking = json.loads((ctx.path("eval") / "ranking_metrics.json").read_text())["metrics"]
    numbers = {"test_problems_sampled": n, "proved": proved, "ranking_metrics": ranking}
    fig = ctx.figure(ctx.path("eval") / "proof_rates.png", f"Problems proved by E 3.5.1 on a seeded sample of {n} "
                     "test problems: all premises (chainy), the human choice (bushy), and each ranker's top 16/64",
                     numbers={"proved": proved})
    summary = ", ".join(f"{m} {p}/{n}" for m, p in proved.items())
    if ctx.quick:
        return Outcome(UNTESTABLE, f"proved: {summary}. The neural two-LSTM ranker takes about 22 minutes of CPU "
                                   "training, so --quick compares only k-NN with the human (bushy) choice; --full "
                                   "trains it and adds it.", figures=[fig], numbers=numbers)
    holds = proved["neural"] > proved["knn"]
    return Outcome(HOLDS if holds else FAILS, f"proved: {summary} (criterion: the neural ranker alone proves "
                   "more than k-NN).", figures=[fig], numbers=numbers)


def sections() -> list[Section]:
    return [Section("premises", "Deep learning for lemma selection", "premises",
                    "Rank lemmas by usefulness for a conjecture with two LSTMs (one embeds the lemma, one the "
                    "conjecture) and give E the best few: better than the classical selection.", run_premises)]
