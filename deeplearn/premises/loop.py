"""`deeplearn premises loop`: the prover-in-the-loop learning cycle (MaLARea, Urban et al. 2008; ATPboost,
Piotrowski and Urban 2018), with the neural ranker as the learner.

Each round: rank every training problem with the current rankers (neural, k-NN, SInE, neural+knn) and cut each
ranking at several sizes; give E every distinct selection (executor.py: local processes or a Dask cluster,
behind the results cache); record each result in the proof database (proofdb.py) as it arrives; then retrain
the neural ranker from its weights through the engine (neural/train.py, with the harvested proofs' used
premises as positives and their given-but-unused premises as negatives) and refit k-NN on every proof so far;
finally rank the test split (ranking metrics only). Test problems are never given to E inside the loop: the
split is checked before every round (`check_no_leak`).

RUN holds: loop.json (options), split.json, proofs.jsonl (the database), e_cache.jsonl, rounds.jsonl (one
summary per finished round), init/ (the first model, unless --init names one), round<N>/model/ (the model
trained after round N), and the latest model itself (RUN/ranker.json, model.pt, knn/), so that
`--method neural --model RUN` (and neural+knn) use it. `--resume` continues a killed run where it stopped.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from deeplearn.paths import DataError
from deeplearn.premises import evaluate as ev
from deeplearn.premises import ranker as ranker_mod
from deeplearn.premises.proofdb import ProofDB, selection_key
from deeplearn.premises.prover import Job, ResultCache

RANKERS = ("neural", "knn", "sine", "neural+knn")
CUTOFFS = (16, 32, 64, 128)


def check_no_leak(train_ids: Sequence[str], test_ids: Sequence[str], used_ids: Sequence[str], what: str) -> None:
    """Raise DataError if the split overlaps, or if `used_ids` (problems to prove, or to learn from) are not all
    training problems."""
    train, test = set(train_ids), set(test_ids)
    if train & test:
        raise DataError(f"the split leaks: {len(train & test)} problems are both train and test "
                        f"(e.g. {sorted(train & test)[0]})")
    bad = sorted(set(used_ids) - train)
    if bad:
        kind = "test" if set(bad) & test else "unknown"
        raise DataError(f"{what}: {len(bad)} {kind} problems would be used inside the loop (e.g. {bad[0]}); only "
                        "training problems may be proved or learned from")


def with_harvest(problems: Sequence, proofs: dict[str, list[frozenset]]) -> list:
    """Problems whose `deps` is the shortest harvested proof where the corpus knows none (k-NN learns from deps)."""
    out = []
    for p in problems:
        found = proofs.get(p.id)
        out.append(replace(p, deps=sorted(min(found, key=len))) if found and not p.deps else p)
    return out


class _Fixed(ranker_mod.Ranker):
    """A ranking computed once, served to reciprocal-rank fusion (so neural+knn does not rank twice)."""

    def __init__(self, ranking):
        super().__init__()
        self.ranking = ranking

    def rank(self, conjecture, premises):
        return self.ranking


def rankings(problem, rankers: dict) -> dict[str, list[str]]:
    """Every ranker's ranking (names, best first) of one problem; neural+knn fuses the two computed ones."""
    from deeplearn.premises.fusion import fused

    out, full = {}, {}
    for name, r in rankers.items():
        if name != "neural+knn":
            full[name] = r.rank(problem.conjecture, problem.premises)
            out[name] = [n for n, _ in full[name]]
    if "neural+knn" in rankers:
        f = rankers["neural+knn"]
        members = [(_Fixed(full["neural"]), f.neural_weight), (_Fixed(full["knn"]), 1.0)]
        out["neural+knn"] = [n for n, _ in fused(problem.conjecture, problem.premises, members, f.k)]
    return out


def plan(problems: Sequence, rankers: dict, cutoffs: Sequence[int]) -> list[dict]:
    """One entry per distinct (problem, premise set): the names given and which rankers at which cutoffs chose it."""
    out: dict[str, dict] = {}
    for p in problems:
        for name, ranking in rankings(p, rankers).items():
            for k in cutoffs:
                names = ranking[:k]
                key = selection_key(p.id, names)
                entry = out.setdefault(key, {"problem": p, "selection": key, "names": names, "methods": []})
                entry["methods"].append(f"{name}@{k}")
    return list(out.values())


def round_rankers(names: Sequence[str], model_dir: Path | None, knn) -> dict:
    out = {}
    for name in names:
        if name == "knn":
            out[name] = knn
        elif name == "neural":
            out[name] = ranker_mod.load(model_dir)
        elif name == "neural+knn":
            f = ranker_mod.get("neural+knn")
            out[name] = f  # its members are the round's neural and knn (fused in `rankings`)
        else:
            out[name] = ranker_mod.get(name)
    return out


def prove_round(rnd: int, entries: list[dict], db: ProofDB, train_ids, test_ids, cfg: dict, executor, cache,
                log) -> dict:
    """Give E every selection not yet recorded for this round; record each result as it arrives."""
    from tqdm import tqdm

    from deeplearn.premises.executor import run_jobs

    todo = [e for e in entries if not db.has(rnd, e["problem"].id, e["selection"])]
    check_no_leak(train_ids, test_ids, [e["problem"].id for e in todo], f"round {rnd}")
    jobs = [Job(ev.selection_text(e["problem"], e["names"]), {"problem": e["problem"].id}) for e in todo]
    bar = tqdm(total=len(jobs), unit="E run", desc=f"round {rnd}", dynamic_ncols=True, disable=None)
    counts = {"fresh": 0, "cached": 0}

    def record(i: int, res) -> None:
        e = todo[i]
        counts["cached" if res.cached else "fresh"] += 1
        db.add({"round": rnd, "problem": e["problem"].id, "selection": e["selection"], "methods": e["methods"],
                "status": res.status, "proved": res.proved, "used": res.used if res.proved else None,
                "given": list(e["names"]) if res.proved else None, "n_given": len(e["names"]),
                "cpu_s": round(res.cpu_s, 3), "cached": res.cached, "detail": res.detail[-300:]})
        bar.update(1)

    log(f"round {rnd}: {len(entries)} selections, {len(entries) - len(todo)} already recorded, {len(todo)} to run")
    run_jobs(jobs, cfg["cpu_limit"], executor, cache, cfg.get("prover"), on_result=record)
    bar.close()
    return counts


def round_summary(rnd: int, db: ProofDB, entries: list[dict], counts: dict) -> dict:
    recs = [r for (k, _, _), r in db.attempts.items() if k == rnd]
    before, now = db.proofs(before_round=rnd), db.proofs(before_round=rnd + 1)
    new = sum(len([u for u in us if u not in before.get(pid, [])]) for pid, us in now.items())
    this_round = {r["problem"] for r in recs if r.get("proved")}
    by_method: dict[str, set] = {}
    for r in recs:
        if r.get("proved"):
            for m in r["methods"]:
                by_method.setdefault(m.split("@")[0], set()).add(r["problem"])
    return {"round": rnd, "problems": len({e["problem"].id for e in entries}), "selections": len(entries),
            "e_runs": counts["fresh"], "from_cache": counts["cached"],
            "errors": sum(r["status"] in ("Error", "WallTimeout") for r in recs),
            "proved": len(this_round), "proved_ever": len(now), "new_problems": len(set(now) - set(before)),
            "new_proofs": new, "distinct_proofs_per_problem": round(statistics.fmean(len(v) for v in now.values()), 3)
            if now else 0.0, "proved_by": {m: len(s) for m, s in sorted(by_method.items())}}


def test_metrics(rankers: dict, test: Sequence, ks: Sequence[int]) -> dict:
    """Ranking metrics of every ranker on the test problems with a known proof (no E: the loop never proves them)."""
    per: dict[str, list] = {name: [] for name in rankers}
    for p in test:
        if p.deps:
            for name, ranking in rankings(p, rankers).items():
                per[name].append(ev.ranking_metrics(ranking, p.deps, ks))
    return {name: {k: round(v, 4) for k, v in ev.summarize(rows).items()} for name, rows in per.items()}


def _append_json(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def finished_rounds(run: Path) -> list[dict]:
    path = run / "rounds.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]


def run_loop(corpus, cfg: dict, opts: dict, tc, run: Path, *, executor, resume: bool = False, log=print) -> list:
    """Run (or continue) the loop in `run`; returns every round's summary. `cfg`: the loop options (loop.json)."""
    from deeplearn.premises.knn import KNN

    train, test = ev.chrono_split(corpus, cfg["test_fraction"])
    train_ids, test_ids = [p.id for p in train], [p.id for p in test]
    prove = select_problems(train, test_ids, cfg)
    check_no_leak(train_ids, test_ids, [p.id for p in prove], "--problems")
    start_run(run, cfg, train_ids, test_ids, resume)
    db = ProofDB(run / "proofs.jsonl")
    check_no_leak(train_ids, test_ids, [r["problem"] for r in db.records()], f"{run / 'proofs.jsonl'}")
    cache = ResultCache(cfg.get("cache") or run / "e_cache.jsonl")
    tsample = test
    if cfg.get("test_sample") and cfg["test_sample"] < len(test):
        tsample = random.Random(cfg["sample_seed"]).sample(list(test), cfg["test_sample"])
    done = finished_rounds(run)
    neural = "neural" in cfg["rankers"]
    model_dir = initial_model(corpus, cfg, opts, tc, run, log) if neural else None
    for rnd in range(len(done)):
        model_dir = run / f"round{rnd}" / "model" if neural else None
    for rnd in range(len(done), cfg["rounds"]):
        t0 = time.perf_counter()
        knn = KNN().fit(with_harvest(train, db.proofs(before_round=rnd)))
        rankers = round_rankers(cfg["rankers"], model_dir, knn)
        entries = plan(prove, rankers, cfg["cutoffs"])
        counts = prove_round(rnd, entries, db, train_ids, test_ids, cfg, executor, cache, log)
        row = round_summary(rnd, db, entries, counts)
        row["prove_wall_s"] = round(time.perf_counter() - t0, 1)
        harvested = db.labels(before_round=rnd + 1)
        check_no_leak(train_ids, test_ids, list(harvested), f"round {rnd} training labels")
        knn = KNN().fit(with_harvest(train, db.proofs(before_round=rnd + 1)))
        knn.save(run / "knn")
        if neural:
            model_dir, row["train"] = retrain(corpus, cfg, opts, tc, run, rnd, model_dir, harvested,
                                              db.proofs(before_round=rnd + 1), log)
        row["test"] = test_metrics(round_rankers(cfg["rankers"], model_dir, knn), tsample, ev.KS)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        _append_json(run / "rounds.jsonl", row)
        done.append(row)
        log(f"round {rnd}: " + json.dumps({k: v for k, v in row.items() if k != "test"}))
        log(f"round {rnd} test ranking: " + json.dumps(row["test"]))
        plot(done, run / "loop.png")
    return done


def select_problems(train: Sequence, test_ids: Sequence[str], cfg: dict) -> list:
    """The training problems the loop proves: all, those named (--problems), or a seeded sample (--sample)."""
    by_id = {p.id: p for p in train}
    if cfg.get("problems"):
        check_no_leak(list(by_id), test_ids, cfg["problems"], "--problems")
        return [by_id[i] for i in cfg["problems"]]
    if cfg.get("sample") and cfg["sample"] < len(train):
        return sorted(random.Random(cfg["sample_seed"]).sample(list(train), cfg["sample"]), key=lambda p: p.index)
    return list(train)


def start_run(run: Path, cfg: dict, train_ids, test_ids, resume: bool) -> None:
    split = run / "split.json"
    if split.exists():
        if not resume:
            raise DataError(f"{run} already holds a loop; pass --resume to continue it, or another --out")
        stored = json.loads(split.read_text())
        check_no_leak(stored["train"], stored["test"], [], f"{split}")
        if stored["test"] != list(test_ids) or stored["train"] != list(train_ids):
            raise DataError(f"{split}: the corpus or --test-fraction gives another split than the one this loop "
                            "started with")
        return
    run.mkdir(parents=True, exist_ok=True)
    (run / "loop.json").write_text(json.dumps(cfg, indent=1) + "\n")
    split.write_text(json.dumps({"rule": "chronological (corpus order)", "train": list(train_ids),
                                 "test": list(test_ids)}) + "\n")


def initial_model(corpus, cfg, opts, tc, run: Path, log) -> Path:
    """--init RUN (a `premises train` run), else a model trained here into RUN/init (resumed if cut short)."""
    from deeplearn.premises.neural.train import train

    if cfg.get("init"):
        ranker_mod.load(cfg["init"])  # a clear error now if it is not a neural run
        return Path(cfg["init"])
    out = run / "init"
    if not (out / "ranker.json").exists():
        log("round 0 needs a neural model: training one (pass --init RUN to start from a `premises train` run)")
        train(corpus, opts, tc, out, resume=(out / "round0").exists(), test_fraction=cfg["test_fraction"],
              log=lambda s: log(f"  first model: {s}"))
    return out


def retrain(corpus, cfg, opts, tc, run: Path, rnd: int, model_dir: Path, harvested: dict, proofs: dict,
            log) -> tuple[Path, dict]:
    """Continue the neural ranker from `model_dir`'s weights on the corpus's proofs plus the harvested ones, for
    --retrain-steps steps (default: the same budget as the first model)."""
    from deeplearn.engine.config import TrainConfig
    from deeplearn.premises.neural.train import train

    out = run / f"round{rnd}" / "model"
    if cfg.get("retrain_steps"):
        tc = TrainConfig.from_dict({**tc.to_dict(), "steps": cfg["retrain_steps"], "epochs": None, "max_time": None})
    ranker, report = train(_with_harvest_corpus(corpus, proofs), opts, tc, out, resume=(out / "round0").exists(),
                           test_fraction=cfg["test_fraction"], log=lambda s: log(f"  retraining: {s}"),
                           init=model_dir, harvested=harvested)
    ranker.save(run)  # the latest model: --method neural --model RUN (knn/ beside it for neural+knn)
    return out, {"harvested_problems": len(harvested), "rounds": report["rounds"], "wall_s": report["wall_s"]}


def _with_harvest_corpus(corpus, proofs):
    from deeplearn.premises.corpus import Corpus

    return Corpus(corpus.formulas, with_harvest(corpus.problems, proofs), corpus.root)


def plot(rows: list[dict], path: Path) -> None:
    """Per round: training problems proved by each ranker's selections and by any (bars), test recall@64 (lines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["round"] for r in rows]
    names = sorted({m for r in rows for m in r["proved_by"]}) + ["any"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.4))
    width = 0.8 / len(names)
    for j, m in enumerate(names):
        ys = [r["proved"] if m == "any" else r["proved_by"].get(m, 0) for r in rows]
        a.bar([x + (j - len(names) / 2 + 0.5) * width for x in xs], ys, width, label=m)
    a.plot(xs, [r["proved_ever"] for r in rows], "k.--", label="proved in any round so far")
    a.set_xticks(xs), a.set_xlabel("round"), a.set_ylabel("training problems proved")
    a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    a.set_title(f"E proofs of {rows[-1]['problems']} training problems")
    for name in rows[-1].get("test", {}):
        b.plot(xs, [r.get("test", {}).get(name, {}).get("recall@64", float("nan")) for r in rows], "o-", label=name)
    b.set_xticks(xs), b.set_xlabel("round (after its retraining)"), b.set_ylabel("test recall@64"), b.set_ylim(0, 1)
    b.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    b.set_title("test split ranking (never given to E)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
