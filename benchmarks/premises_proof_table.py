"""One proof table from several `deeplearn premises evaluate` runs on the same test problems: per row the problems
proved at each k, the union over k, and the problems no other row proves; rows are named on the command line, so
two runs of the same method (two neural models) stay apart.

    python benchmarks/premises_proof_table.py knn=runs/eval-full64-base:knn neural=runs/eval-full64-knnfeat:neural \
        bushy-2s=corpus:bushy [--problems runs/eval-full64-base/split.json] [--cpu-limit 2]

`LABEL=DIR:METHOD` reads DIR/runs.jsonl's records of METHOD; `LABEL=corpus:bushy` reads the corpus's own recorded
bushy runs (mptp2078/e351_bushy_2s.jsonl: E 3.5.1, 2 s), for the test problems of the split file;
`LABEL=cache:FILE:METHOD:LIMIT` reads an E results cache (evaluate --cache FILE) for the records METHOD wrote at
that CPU limit, so a killed evaluation (no runs.jsonl yet) still gives a table of what it finished;
`LABEL=ranked:DIR:METHOD:LIMIT` rebuilds METHOD's E jobs from DIR/rankings.json (written before any E run) and looks
each one up in `--cache` (a selection E ran for another method first counts for this one too, as in runs.jsonl).
A row with records missing for some test problem is marked (a run not finished); `--complete-only` restricts the
table to the problems every row has all its records for (a fair comparison of runs cut at different points).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path


def rows_of(spec: str, test: list[str], data_dir: Path) -> tuple[str, dict, set]:
    label, _, where = spec.partition("=")
    if where.startswith("cache:"):
        _, path, method, limit = where.split(":")
        return label, *_from_cache(Path(path), method, f"--cpu-limit={limit}", test)
    if where.startswith("ranked:"):
        _, src, method, limit = where.split(":")
        return label, *_from_rankings(Path(src), method, float(limit), test, data_dir)
    src, _, method = where.rpartition(":")
    by_k: dict = defaultdict(set)  # k (None for references) -> proved problems
    seen = set()
    if src == "corpus":
        for line in open(data_dir / "mptp2078" / "e351_bushy_2s.jsonl"):
            r = json.loads(line)
            if r["id"] in test:
                seen.add(r["id"])
                if r["status"] == "Theorem":
                    by_k[None].add(r["id"])
    else:
        for line in open(Path(src) / "runs.jsonl"):
            r = json.loads(line)
            meta = r.get("meta", r)
            if meta["method"] != method or meta["problem"] not in test:
                continue
            seen.add(meta["problem"])
            if r.get("proved") or r.get("status") == "Theorem":
                by_k[meta.get("k")].add(meta["problem"])
    return label, by_k, seen


def _from_cache(path: Path, method: str, flag: str, test: set) -> tuple[dict, set]:
    by_k: dict = defaultdict(set)
    seen = set()
    for line in open(path):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if r.get("method") != method or r.get("problem") not in test or flag not in r.get("flags", []):
            continue
        seen.add(r["problem"])
        by_k[r.get("k")]  # the column exists even with no proof
        if r.get("status") == "Theorem":
            by_k[r.get("k")].add(r["problem"])
    return by_k, seen


_CACHE: dict = {}


def _from_rankings(src: Path, method: str, cpu_limit: float, test: set, data_dir: Path) -> tuple[dict, set]:
    """METHOD's jobs rebuilt from its rankings, looked up in the E cache; `seen`: problems with every k's record."""
    from deeplearn.premises.corpus import load_mptp
    from deeplearn.premises.evaluate import proof_jobs
    from deeplearn.premises.prover import FLAGS, ResultCache, default_prover_path, prover_version

    if "corpus" not in _CACHE:
        _CACHE["corpus"] = load_mptp(data_dir)
        _CACHE["cache"] = ResultCache(_CACHE["path"])
    rankings = json.loads((src / "rankings.json").read_text())[method]
    probs = [p for p in _CACHE["corpus"].problems if p.id in test and p.id in rankings]
    flags = (*FLAGS, f"--cpu-limit={max(1, int(round(cpu_limit)))}")
    version = prover_version(default_prover_path())
    by_k: dict = defaultdict(set)
    missing = set()
    for job in proof_jobs(probs, method, rankings, _CACHE["ks"]):
        rec = _CACHE["cache"].get(ResultCache.key(job.text, version, flags))
        by_k[job.meta["k"]]  # the column exists even with no proof
        if rec is None:
            missing.add(job.meta["problem"])
        elif rec.get("status") == "Theorem":
            by_k[job.meta["k"]].add(job.meta["problem"])
    seen = {p.id for p in probs} - missing
    return {k: v - missing for k, v in by_k.items()}, seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", nargs="+", help="LABEL=DIR:METHOD or LABEL=corpus:bushy")
    ap.add_argument("--problems", required=True, help="split.json of an evaluate run: its test problems")
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--data-dir", default=os.environ.get("DEEPLEARN_DATA", "../shared/data"))
    ap.add_argument("--cache", default="runs/e_cache.jsonl", help="the E results cache (for ranked: rows)")
    ap.add_argument("--complete-only", action="store_true",
                    help="only the problems every row has all records for")
    ap.add_argument("--png", help="also draw the table: bars per row, one per cutoff and the union")
    ap.add_argument("--title", default="", help="the picture's title")
    a = ap.parse_args()
    _CACHE.update(path=Path(a.cache), ks=a.ks)
    test = json.loads(Path(a.problems).read_text())["test"]
    table = [rows_of(s, set(test), Path(a.data_dir)) for s in a.rows]
    if a.complete_only:
        test = sorted(set(test).intersection(*(seen for _, _, seen in table)))
        table = [(label, {k: v & set(test) for k, v in by_k.items()}, seen & set(test)) for label, by_k, seen in table]
        print(f"{len(test)} problems with every record in every row")
    union = {label: set().union(*by_k.values()) for label, by_k, _ in table}
    ks = [k for k in a.ks if any(k in by_k for _, by_k, _ in table)]
    print("| method | " + " | ".join(f"top-{k}" for k in ks) + " | union / all | proved by no other row |")
    print("|" + "---|" * (len(ks) + 3))
    for label, by_k, seen in table:
        cells = [str(len(by_k[k])) if k in by_k or None not in by_k else "" for k in ks]
        others = set().union(*(u for m, u in union.items() if m != label))
        only = sorted(union[label] - others)
        note = "" if len(seen) == len(test) else f" (records for {len(seen)} of {len(test)})"
        print(f"| {label} | " + " | ".join(cells) + f" | {len(union[label])}/{len(test)}{note} | "
              f"{len(only)}" + (f" ({', '.join(only)})" if only else "") + " |")
    if a.png:
        draw(a.png, table, ks, union, len(test), a.title)


def draw(path: str, table: list, ks: list, union: dict, n: int, title: str) -> None:
    """Grouped bars: for each row, the problems proved at each cutoff (where it has cutoffs) and in the union."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [f"top-{k}" for k in ks] + ["union"]
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(table), 3.6))
    width = 0.8 / len(cols)
    for j, col in enumerate(cols):
        vals = [len(union[label]) if col == "union" else len(by_k.get(ks[j], ())) for label, by_k, _ in table]
        xs = [i + (j - (len(cols) - 1) / 2) * width for i in range(len(table))]
        ax.bar(xs, vals, width, label=col)
    ax.set_xticks(range(len(table)), [label for label, _, _ in table], rotation=20, ha="right")
    ax.set_ylabel(f"problems proved (of {n})")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=len(cols))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
