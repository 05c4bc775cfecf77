"""Studies end to end on the embedded digits: search finds a better lr, pruning stops runs, workers share one
SQLite study. Budgets are tiny: the MLP, 1 to 4 epochs of 40 steps, one thread."""

import json
import os
import subprocess
import sys

import optuna

from deeplearn.cli import main
from deeplearn.engine.logger import read_jsonl

FAST = ["--threads", "1", "--batch-size", "32"]


def _study(out, name="tune"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def test_search_beats_a_bad_default_lr(tmp_path):
    # The bad default: lr 1e-5 barely moves the weights in 3 epochs.
    assert main(["train", "--lr", "1e-5", "--epochs", "3", "--progress", "none", "--out", str(tmp_path / "base"),
                 *FAST]) == 0
    base = json.loads((tmp_path / "base/summary.json").read_text())["best"]["val_acc"]
    out = tmp_path / "study"
    assert main(["tune", "--param", "lr=loguniform:1e-5:1", "--trials", "6", "--sampler-seed", "0",
                 "--out", str(out), "--", "--lr", "1e-5", "--epochs", "3", *FAST]) == 0
    result = json.loads((out / "trials.json").read_text())
    best = result["best"]
    assert base < 0.5 and best["value"] > 0.85 and best["value"] > base + 0.4, (base, best)
    # The sampled lr reached the engine (it overrides the fixed --lr 1e-5) and the value is the run's own.
    run = out / "trials" / str(best["number"])
    assert json.loads((run / "config.json").read_text())["train"]["lr"] == best["params"]["lr"] != 1e-5
    val = [r["val_acc"] for r in read_jsonl(run / "metrics.jsonl") if "val_acc" in r]
    assert best["value"] == max(val)
    assert len(result["trials"]) == 6 and (out / "study.png").stat().st_size > 10_000
    assert len((out / "trials.csv").read_text().splitlines()) == 7
    assert _study(out).best_trial.number == best["number"]  # the SQLite file holds the study


def test_a_lagging_trial_is_pruned_and_its_run_stops(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    study = optuna.create_study(study_name="tune", storage=f"sqlite:///{out / 'study.db'}", direction="maximize")
    study.enqueue_trial({"lr": 0.05})  # a good first trial sets the median ...
    study.enqueue_trial({"lr": 1e-5})  # ... a hopeless second one falls below it at its 2nd evaluation
    assert main(["tune", "--param", "lr=loguniform:1e-5:1", "--trials", "2", "--prune-startup", "1",
                 "--prune-warmup", "1", "--out", str(out), "--", "--epochs", "4", *FAST]) == 0
    good, bad = _study(out).get_trials()
    assert (good.state.name, bad.state.name) == ("COMPLETE", "PRUNED")
    assert len(good.intermediate_values) == 4 and sorted(bad.intermediate_values) == [1, 2]
    run = out / "trials" / "1"
    rows = read_jsonl(run / "metrics.jsonl")
    summary = json.loads((run / "summary.json").read_text())
    per_epoch = json.loads((out / "trials/0/summary.json").read_text())["steps"] // 4
    # Training stopped at the 2nd evaluation (once an epoch), and the run directory says so consistently.
    assert rows[-1]["step"] == summary["steps"] == 2 * per_epoch and summary["status"] == "pruned"
    assert summary["final"]["val_acc"] == rows[-1]["val_acc"]
    assert (run / "checkpoints/last.pt").exists() and (run / "curves.png").exists()
    assert json.loads((run / "trial.json").read_text())["state"] == "PRUNED"
    assert "trial 1 pruned" in capsys.readouterr().out


def test_two_workers_share_one_sqlite_study(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def worker(i):
        return subprocess.Popen(
            [sys.executable, "-m", "deeplearn", "tune", "--param", "lr=loguniform:1e-3:0.3", "--trials", "3",
             "--study", "shared", "--storage", db, "--out", str(tmp_path / f"w{i}"), "--pruner", "none",
             "--sampler-seed", str(i), "--", "--epochs", "1", *FAST],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    procs = [worker(0), worker(1)]  # both start on a fresh database
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    trials = optuna.load_study(study_name="shared", storage=db).get_trials()
    assert sorted(t.number for t in trials) == list(range(6))  # 3 + 3: none lost, none duplicated
    assert all(t.state.name == "COMPLETE" for t in trials)
    mine = [{int(d.name) for d in (tmp_path / f"w{i}" / "trials").iterdir()} for i in range(2)]
    assert len(mine[0]) == len(mine[1]) == 3 and mine[0] | mine[1] == set(range(6))  # each trial ran once
    for t in trials:
        run = tmp_path / f"w{0 if t.number in mine[0] else 1}" / "trials" / str(t.number)
        assert t.user_attrs["run_dir"] == str(run)
        rec = json.loads((run / "trial.json").read_text())
        assert rec["number"] == t.number and rec["value"] == t.value
        assert json.loads((run / "config.json").read_text())["train"]["lr"] == t.params["lr"]
    # Either worker's final table covers the whole study, once the other has finished too.
    assert main(["tune", "--trials", "0", "--study", "shared", "--storage", db, "--out", str(tmp_path / "r")]) == 0
    assert len(json.loads((tmp_path / "r/trials.json").read_text())["trials"]) == 6
