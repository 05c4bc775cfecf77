"""The end of a study: a table of all its trials (printed, trials.csv, trials.json) and study.png.

The table covers every trial in the storage, those of other workers too, so any worker (or `--trials 0`)
reports the whole study.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from deeplearn.engine.logger import write_json


def rows(study: optuna.Study) -> list[dict]:
    out = []
    for t in study.get_trials(deepcopy=False):
        out.append({"number": t.number, "state": t.state.name, "value": t.value,
                    "duration_s": round(t.duration.total_seconds(), 2) if t.duration else None,
                    "evals": len(t.intermediate_values), "params": dict(t.params),
                    "run_dir": t.user_attrs.get("run_dir"), "note": t.user_attrs.get("note", "")})
    return out


def importances(study: optuna.Study) -> dict[str, float]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = {k for t in complete for k in t.params}
    if len(names) < 2 or len(complete) < 3:
        return {}  # one parameter has all the importance; too few trials say nothing
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError):  # e.g. every completed trial has the same parameters
        return {}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def table_text(table: list[dict]) -> str:
    names = sorted({k for r in table for k in r["params"]})
    head = ["number", "state", "value", "duration_s", "evals", *names, "note"]
    body = [[_fmt(r[h]) if h in r else _fmt(r["params"].get(h)) for h in head] for r in table]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body])


def write(study: optuna.Study, out: Path, metric: str) -> dict:
    """Print the table, write trials.csv / trials.json / study.png under `out`; returns what trials.json holds."""
    table = rows(study)
    names = sorted({k for r in table for k in r["params"]})
    with open(out / "trials.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "duration_s", "evals", *names, "run_dir", "note"])
        for r in table:
            w.writerow([r["number"], r["state"], r["value"], r["duration_s"], r["evals"],
                        *(json.dumps(r["params"][n]) if n in r["params"] else "" for n in names),
                        r["run_dir"], r["note"]])
    result = {"study": study.study_name, "metric": metric, "direction": study.direction.name.lower(),
              "counts": {s.name: sum(r["state"] == s.name for r in table) for s in TrialState},
              "importances": importances(study), "trials": table}
    if result["counts"]["COMPLETE"]:
        best = study.best_trial
        args = best.user_attrs.get("train_args", [])
        result["best"] = {"number": best.number, "value": best.value, "params": best.params,
                          "run_dir": best.user_attrs.get("run_dir"),
                          "command": "deeplearn train " + " ".join(shlex.quote(a) for a in args)}
    write_json(out / "trials.json", result)
    plot(study, out / "study.png", metric, result["importances"])
    print(table_text(table))
    print("trials: " + ", ".join(f"{n} {k.lower()}" for k, n in result["counts"].items() if n))
    if "best" in result:
        b = result["best"]
        print(f"best: trial {b['number']}, {metric} {b['value']:.4g}, {b['params']} ({b['run_dir']})")
        print(f"  as a train command: {b['command']}")
    if result["importances"]:
        print("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in result["importances"].items()))
    print(f"table: {out / 'trials.csv'}, {out / 'trials.json'}; plot: {out / 'study.png'}")
    return result


def plot(study: optuna.Study, path: Path, metric: str, imp: dict[str, float]) -> None:
    """Three panels: optimization history (pruned trials at their last value), the metric at each evaluation
    of every trial (where pruning cut them), and the parameter importances (fANOVA)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    maximize = study.direction.name == "MAXIMIZE"
    trials = study.get_trials(deepcopy=False)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.5))
    done = [(t.number, t.value) for t in trials if t.state == TrialState.COMPLETE]
    pruned = [(t.number, t.intermediate_values[t.last_step]) for t in trials
              if t.state == TrialState.PRUNED and t.last_step is not None]
    if done:
        ax1.scatter(*zip(*done), label="complete", color="C0")
        xs, ys, best = [], [], None
        for n, v in sorted(done):
            best = v if best is None else (max(best, v) if maximize else min(best, v))
            xs.append(n)
            ys.append(best)
        last = max(t.number for t in trials)
        ax1.step(xs + [last], ys + [best], where="post", color="C1", label="best so far")
    if pruned:
        ax1.scatter(*zip(*pruned), marker="x", color="C3", label="pruned (last value)")
    ax1.set(title="optimization history", xlabel="trial", ylabel=metric)
    ax1.legend(fontsize=8)
    for t in trials:
        pts = sorted(t.intermediate_values.items())
        if pts and all(math.isfinite(v) for _, v in pts):
            ax2.plot(*zip(*pts), marker=".", alpha=0.7, color="C3" if t.state == TrialState.PRUNED else "C0")
    ax2.set(title="at each evaluation (red: pruned)", xlabel="evaluation", ylabel=metric)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if imp:
        names = list(imp)[::-1]
        ax3.barh(names, [imp[n] for n in names])
    else:
        ax3.text(0.5, 0.5, "importances need 2+ parameters\nand 3+ complete trials", ha="center", va="center")
    ax3.set(title="parameter importance (fANOVA)", xlabel="share of variance")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
