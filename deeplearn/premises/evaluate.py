"""Judging rankers: a chronological split, ranking metrics against known proofs, and proof rates with E.

* Split: problems in corpus order (MML order for MPTP2078); the first (1 - test_fraction) train, the rest test,
  so no ranker learns from a proof of a fact that comes after the conjecture it is tested on.
* Ranking metrics, on test problems with a known proof: recall@k of the proof's premises, AUC (the chance that a
  used premise ranks above an unused one) and the rank of the last needed premise (1-based).
* Proof rate: E on the conjecture plus the top-k premises for each k, and the union over k, beside `chainy`
  (all candidates; E applies its own SInE under --auto) and `bushy` (Mizar's dependencies), same problems,
  same CPU limit.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

from deeplearn.premises import printer
from deeplearn.premises.corpus import Corpus, Problem
from deeplearn.premises.prover import Job, ProofResult, ResultCache, prove_many, result_dict
from deeplearn.premises.ranker import Ranker

KS = (16, 32, 64, 128)
REFERENCES = ("chainy", "bushy")


def chrono_split(corpus: Corpus, test_fraction: float = 0.2) -> tuple[list[Problem], list[Problem]]:
    probs = sorted(corpus.problems, key=lambda p: p.index)
    cut = len(probs) - max(1, round(test_fraction * len(probs))) if len(probs) > 1 else len(probs)
    return probs[:cut], probs[cut:]


def write_split(path: Path, train: Sequence[Problem], test: Sequence[Problem], note: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rule": "chronological: corpus (MML) order, earlier problems train", "note": note,
                                "train": [p.id for p in train], "test": [p.id for p in test]}, indent=1) + "\n")


# ranking metrics ----------------------------------------------------------------------------------------------


def ranking_metrics(ranking: Sequence[str], needed: Sequence[str], ks: Sequence[int] = KS) -> dict:
    """Metrics of one ranking (names, best first) against one proof's premises (those among the candidates)."""
    pos = {n: i for i, n in enumerate(ranking)}
    needed = [n for n in dict.fromkeys(needed) if n in pos]
    if not needed:
        return {}
    ranks = sorted(pos[n] for n in needed)
    out = {f"recall@{k}": sum(r < k for r in ranks) / len(ranks) for k in ks}
    n_neg = len(ranking) - len(ranks)
    # AUC: over (used, unused) pairs, the fraction with the used premise ahead; ranks[j] - j unused premises
    # precede the j-th used premise.
    out["auc"] = 1.0 - sum(r - j for j, r in enumerate(ranks)) / (len(ranks) * n_neg) if n_neg else 1.0
    out["last_rank"] = ranks[-1] + 1
    return out


def summarize(per_problem: list[dict]) -> dict:
    rows = [m for m in per_problem if m]
    if not rows:
        return {"problems": 0}
    out = {"problems": len(rows)}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        out[key] = statistics.fmean(vals)
        if key == "last_rank":
            out["last_rank_median"] = statistics.median(vals)
    return out


def rank_problems(ranker: Ranker, problems: Sequence[Problem]) -> tuple[dict[str, list[str]], float]:
    """Every problem's ranking (names only) and the wall seconds it took."""
    t0 = time.perf_counter()
    out = {p.id: [n for n, _ in ranker.rank(p.conjecture, p.premises)] for p in problems}
    return out, time.perf_counter() - t0


# proof rates --------------------------------------------------------------------------------------------------


def selection_text(problem: Problem, names: Sequence[str]) -> str:
    """A TPTP problem with the chosen premises, kept in their original (chainy) order: the same set always gives
    the same file (and the same cache key), whatever method chose it."""
    keep = set(names)
    return printer.problem(problem.conjecture, [a for a in problem.premises if a.name in keep], goals=problem.goals,
                           header=f"{problem.id}: {len(keep)} premises")


def proof_jobs(problems: Sequence[Problem], method: str, rankings: dict[str, list[str]] | None,
               ks: Sequence[int]) -> list[Job]:
    jobs = []
    for p in problems:
        if method == "chainy":
            jobs.append(Job(selection_text(p, [a.name for a in p.premises]), {"problem": p.id, "method": method, "k": None}))
        elif method == "bushy":
            if p.bushy is not None:
                jobs.append(Job(selection_text(p, p.bushy), {"problem": p.id, "method": method, "k": None}))
        else:
            for k in ks:
                jobs.append(Job(selection_text(p, rankings[p.id][:k]), {"problem": p.id, "method": method, "k": k}))
    return jobs


def proof_table(results: list[ProofResult], problems: Sequence[Problem], ks: Sequence[int]) -> list[dict]:
    """One row per method: problems proved at each k, by the union over k, or (references) at all."""
    ids = [p.id for p in problems]
    by_method: dict[str, list[ProofResult]] = {}
    for r in results:
        by_method.setdefault(r.meta["method"], []).append(r)
    rows = []
    for method, rs in by_method.items():
        # times are sums over the runs (cached runs keep their recorded times), so a rerun reports the same
        row = {"method": method, "problems": len(ids), "cpu_s": round(sum(r.cpu_s for r in rs), 1),
               "run_wall_s": round(sum(r.wall_s for r in rs), 1), "statuses": {}}
        for r in rs:
            row["statuses"][r.status] = row["statuses"].get(r.status, 0) + 1
        if method in REFERENCES:
            row["proved"] = sum(r.proved for r in rs)
        else:
            for k in ks:
                row[f"top{k}"] = sum(r.proved for r in rs if r.meta["k"] == k)
            row["union"] = len({r.meta["problem"] for r in rs if r.proved})
        rows.append(row)
    return rows


def exclusive_proofs(results: list[ProofResult]) -> dict[str, list[str]]:
    """method -> the problems it proves (with any k) that no other method of the table proves."""
    proved: dict[str, set] = {}
    for r in results:
        proved.setdefault(r.meta["method"], set())
        if r.proved:
            proved[r.meta["method"]].add(r.meta["problem"])
    return {m: sorted(ps - set().union(*(o for n, o in proved.items() if n != m))) for m, ps in proved.items()}


def markdown_table(rows: list[dict], ks: Sequence[int], timings: dict[str, dict]) -> str:
    n = rows[0]["problems"] if rows else 0
    head = ("| method | " + " | ".join(f"top-{k}" for k in ks) +
            " | union / all | E CPU s (sum) | E wall s (sum) | ranking s |")
    lines = [head, "|" + "---|" * (len(ks) + 5)]
    for r in rows:
        cells = [str(r.get(f"top{k}", "")) for k in ks]
        total = r.get("union", r.get("proved"))
        t = timings.get(r["method"], {})
        lines.append(f"| {r['method']} | " + " | ".join(cells) + f" | {total}/{n} | {r['cpu_s']} | "
                     f"{r['run_wall_s']} | {t.get('fit_s', 0) + t.get('rank_s', 0):.1f} |")
    return "\n".join(lines) + "\n"


def bar_chart(rows: list[dict], ks: Sequence[int], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    series = [f"top{k}" for k in ks] + ["union"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(series)
    for j, key in enumerate(series):
        xs, ys = [], []
        for i, r in enumerate(rows):
            v = r.get(key, r.get("proved") if key == "union" else None)
            if v is not None:
                xs.append(i + (j - len(series) / 2 + 0.5) * width)
                ys.append(100.0 * v / max(1, r["problems"]))
        ax.bar(xs, ys, width, label=key.replace("top", "top-").replace("union", "union / all"))
    ax.set_xticks(range(len(rows)), [r["method"] for r in rows])
    ax.set_ylabel("problems proved (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evaluate(corpus: Corpus, rankers: dict[str, Ranker], out_dir: Path, *, test_fraction: float = 0.2,
             sample: int | None = None, seed: int = 0, ks: Sequence[int] = KS, cpu_limit: float = 5.0,
             workers: int = 1, prove: bool = True, references: Sequence[str] = REFERENCES,
             cache_path: Path | None = None, log: Callable[[str], None] = print, executor=None) -> dict:
    """Fit the learned rankers on the train split, rank the test split, run E (on `executor`, executor.py, else
    `workers` local processes); write everything to out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = chrono_split(corpus, test_fraction)
    note = ""
    if sample is not None and sample < len(test):
        test = sorted(random.Random(seed).sample(test, sample), key=lambda p: p.index)
        note = f"test restricted to a random sample of {sample} (seed {seed})"
    write_split(out_dir / "split.json", train, test, note)
    log(f"split: {len(train)} train, {len(test)} test problems {note}")

    rankings: dict[str, dict[str, list[str]]] = {}
    timings: dict[str, dict] = {}
    metrics: dict[str, dict] = {}
    for name, ranker in rankers.items():
        t0 = time.perf_counter()
        if ranker.learns and not getattr(ranker, "fitted", False):
            ranker.fit(train)
        fit_s = time.perf_counter() - t0
        rankings[name], rank_s = rank_problems(ranker, test)
        timings[name] = {"fit_s": round(fit_s, 2), "rank_s": round(rank_s, 2)}
        metrics[name] = summarize([ranking_metrics(rankings[name][p.id], p.deps or [], ks) for p in test])
        log(f"{name}: fit {fit_s:.1f} s, rank {rank_s:.1f} s, " +
            ", ".join(f"{k} {v:.3f}" for k, v in metrics[name].items() if k != "problems") +
            f" over {metrics[name].get('problems', 0)} problems with proofs")
    (out_dir / "ranking_metrics.json").write_text(json.dumps({"metrics": metrics, "timings": timings}, indent=1))
    (out_dir / "rankings.json").write_text(json.dumps({m: {pid: r[:max(ks)] for pid, r in rk.items()}
                                                       for m, rk in rankings.items()}))
    report = {"split": {"train": len(train), "test": len(test), "note": note}, "ranking": metrics,
              "timings": timings}
    if not prove:
        return report

    cache = ResultCache(cache_path or out_dir / "e_cache.jsonl")
    results: list[ProofResult] = []
    methods = [m for m in references if m in REFERENCES] + list(rankers)
    for method in methods:
        jobs = proof_jobs(test, method, rankings.get(method), ks)
        t0 = time.perf_counter()
        rs = prove_many(jobs, cpu_limit, workers, cache, executor=executor)
        wall = time.perf_counter() - t0
        t = timings.setdefault(method, {})
        t["e_wall_s"], t["wall_s"] = round(wall, 1), round(wall + t.get("rank_s", 0), 1)
        results.extend(rs)
        log(f"{method}: {sum(r.proved for r in rs)}/{len(rs)} E runs proved, {wall:.0f} s wall "
            f"({sum(r.cached for r in rs)} from cache)")
    with open(out_dir / "runs.jsonl", "w") as fh:
        for r in results:
            fh.write(json.dumps(result_dict(r)) + "\n")
    rows = proof_table(results, test, ks)
    only = exclusive_proofs(results)
    for row in rows:
        row["only_this"] = only.get(row["method"], [])
    table = markdown_table(rows, ks, timings) + "\nproved by this method alone: " + "; ".join(
        f"{m} {len(ps)}" + (f" ({', '.join(ps)})" if ps else "") for m, ps in only.items()) + "\n"
    (out_dir / "proof_rates.md").write_text(table)
    (out_dir / "proof_rates.json").write_text(json.dumps({"rows": rows, "timings": timings,
                                                          "cpu_limit": cpu_limit, "workers": workers}, indent=1))
    bar_chart(rows, ks, out_dir / "proof_rates.png",
              f"E 3.5.1, {cpu_limit:g} s CPU, {len(test)} test problems")
    log(table)
    report.update({"proof_rates": rows, "timings": timings})
    return report
