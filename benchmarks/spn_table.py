"""The README's density-estimation table: test log-likelihood of our three structures beside the independent
and Chow-Liu baselines and the HCLT column quoted in issue 17 (Liu and Van den Broeck 2021), with training times.

Each row is real `deeplearn spn train` runs (one data set at a time; run it under the CPU lock); settings are
chosen per data set on the VALID split only:
- LearnSPN: a grid of (--min-instances, --pvalue, --learnspn-alpha) structures is learned in-process and scored on
  valid; the best is rerun with the CLI and its parameters refined by EM (`--learner em`; EM counts the learned
  start as epoch 0, so it never ends worse on valid).
- RAT-SPN: one fixed command.
- HCLT: `--hclt-init random` and `--hclt-init clt`; the one with the better valid LL goes in the table.

    flock /tmp/deeplearn-cpu.lock python benchmarks/spn_table.py --data nltcs     # appends to the results JSON
    python benchmarks/spn_table.py --table                                        # prints the markdown table
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "spn_table.json"
# HCLT (Liu and Van den Broeck 2021), mean of 5 runs, as quoted in issue 17.
HCLT_PAPER = {"nltcs": -5.999, "plants": -14.263, "baudio": -39.774, "jester": -52.463, "bnetflix": -56.278,
              "accidents": -26.744, "pumsb_star": -23.648, "dna": -79.056, "bbc": -251.049}
NAMES = {"nltcs": "NLTCS", "plants": "Plants", "baudio": "Audio", "jester": "Jester", "bnetflix": "Netflix",
         "accidents": "Accidents", "pumsb_star": "Pumsb-star", "dna": "DNA", "bbc": "BBC"}
# LearnSPN's structure grid (chosen on valid), then EM on the chosen structure (EM's own leaf pseudo-count stays
# at its default 0.1: a pseudo-count of 0.5 or 1 in EM flattened Jester's small slices and EM kept the start).
LEARNSPN_GRID = {"min_instances": (50, 100, 200), "pvalue": (0.001, 0.01), "alpha": (0.5, 1.0)}
LEARNSPN_EM = ["--learner", "em", "--epochs", "10", "--max-time", "120"]
HCLT_INITS = ("random", "clt")
# The commands of each structure (short CPU budgets: a few minutes per data set in all).
RUNS = {
    "rat": ["--structure", "rat", "--depth", "3", "--repetitions", "8", "--sums", "8", "--inputs", "8",
            "--epochs", "12", "--max-time", "90"],
    "hclt": ["--structure", "hclt", "--hidden", "16", "--epochs", "30", "--max-time", "90"],
}
KEEP = ("test_ll", "valid_ll", "train_ll", "train_time_s", "parameters", "stats", "structure_options", "learner")


def run_one(data: str, name: str, argv: list[str], out_root: Path) -> dict:
    """One `deeplearn spn train` run in a subprocess (1 thread); reused if its run directory is complete."""
    out = out_root / f"{data}-{name}"
    if not (out / "spn.json").exists():
        cmd = [sys.executable, "-m", "deeplearn", "spn", "train", "--data", data, *argv, "--threads", "1",
               "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        print("$ " + " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, env=env)
    r = json.loads((out / "spn.json").read_text())
    row = {k: r[k] for k in KEEP}
    row["command"] = "deeplearn spn train --data " + data + " " + " ".join(argv)
    return row


def select_learnspn(data: str) -> dict:
    """Learn every structure of LEARNSPN_GRID (no EM) in-process; score each on valid."""
    import torch

    from deeplearn.spn.circuit import Circuit
    from deeplearn.spn.data import load_for_training
    from deeplearn.spn.em import mean_ll
    from deeplearn.spn.learnspn import LearnSPNConfig, learnspn

    torch.set_num_threads(1)
    d = load_for_training(data)
    valid = torch.as_tensor(d["valid"], dtype=torch.long)
    rows, t0 = [], time.perf_counter()
    for m, p, a in itertools.product(*LEARNSPN_GRID.values()):
        t = time.perf_counter()
        c = Circuit(learnspn(d["train"], LearnSPNConfig(min_instances=m, pvalue=p, alpha=a)))
        rows.append({"min_instances": m, "pvalue": p, "alpha": a, "valid_ll": mean_ll(c, valid),
                     "time_s": round(time.perf_counter() - t, 2)})
        print(f"  learnspn {data} min {m} p {p} alpha {a}: valid {rows[-1]['valid_ll']:.4f}", flush=True)
    best = max(rows, key=lambda r: r["valid_ll"])
    return {"grid": rows, "best": best, "time_s": round(time.perf_counter() - t0, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="*", default=[])
    ap.add_argument("--structures", nargs="*", default=["learnspn", "rat", "hclt"],
                    choices=["learnspn", "rat", "hclt"])
    ap.add_argument("--out-root", default=str(ROOT / "runs" / "spn-table"))
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for data in args.data:
        from deeplearn.spn.baselines import run_baselines
        from deeplearn.spn.data import load_for_training

        row = results.setdefault(data, {})
        t0 = time.perf_counter()
        row["baselines"] = run_baselines(load_for_training(data))
        row["baselines"]["time_s"] = round(time.perf_counter() - t0, 2)
        for s in args.structures:
            if s == "learnspn":
                cache = Path(args.out_root) / f"{data}-learnspn-grid.json"
                sel = json.loads(cache.read_text()) if cache.exists() else select_learnspn(data)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(sel, indent=1))
                b = sel["best"]
                argv = ["--structure", "learnspn", "--min-instances", str(b["min_instances"]), "--pvalue",
                        str(b["pvalue"]), "--learnspn-alpha", str(b["alpha"]), *LEARNSPN_EM]
                row["learnspn"] = {**run_one(data, "learnspn", argv, Path(args.out_root)), "selection": sel}
            elif s == "hclt":
                cands = {init: run_one(data, f"hclt-{init}", RUNS["hclt"] + ["--hclt-init", init],
                                       Path(args.out_root)) for init in HCLT_INITS}
                init = max(cands, key=lambda i: cands[i]["valid_ll"])
                row["hclt"] = {**cands[init], "init": init, "candidates": cands}
            else:
                row[s] = run_one(data, s, RUNS[s], Path(args.out_root))
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=1))
    if args.table:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        grid = " x ".join(f"{k} {list(v)}" for k, v in LEARNSPN_GRID.items())
        text = (f"commit {commit}\ncommand: python benchmarks/spn_table.py --data SET (one set at a time, under the "
                f"CPU lock), then --table\nmachine: 2-core x86_64 CPU shared with other jobs, 1 thread, torch "
                f"{__import__('torch').__version__}; one run each, seed 0; test LL in nats/instance (training time: "
                f"structure + parameters of the chosen run)\n\n" + table(results) + "\n\ncommands (settings chosen on "
                f"valid):\n  learnspn: deeplearn spn train --data SET --structure learnspn --min-instances M --pvalue P "
                f"--learnspn-alpha A {' '.join(LEARNSPN_EM)} --threads 1, (M, P, A) from the grid {grid} scored on "
                f"valid (structure only)\n  rat: deeplearn spn train --data SET {' '.join(RUNS['rat'])} --threads 1\n"
                f"  hclt: deeplearn spn train --data SET {' '.join(RUNS['hclt'])} --hclt-init random|clt --threads 1 "
                f"(the better on valid; r = random, c = clt)\n\nchosen per set:\n" + chosen(results))
        (ROOT / "benchmarks" / "results" / "spn_table.txt").write_text(text + "\n")
        print(text)


def table(results: dict) -> str:
    lines = ["| data set | independent | Chow-Liu | LearnSPN (ours) | RAT-SPN (ours) | HCLT (ours) | HCLT (paper) |",
             "|---|---|---|---|---|---|---|"]
    for data in NAMES:
        if data not in results:
            continue
        r = results[data]
        cells = [f"{r['baselines']['independent']['test_ll']:.3f}", f"{r['baselines']['chow_liu']['test_ll']:.3f}"]
        for s in ("learnspn", "rat", "hclt"):
            tag = f", {r[s]['init'][0]}" if s == "hclt" and "init" in r.get(s, {}) else ""
            cells.append(f"{r[s]['test_ll']:.3f} ({r[s]['train_time_s']:.0f} s{tag})" if s in r else "not run")
        lines.append(f"| {NAMES[data]} | " + " | ".join(cells) + f" | {HCLT_PAPER[data]:.3f} |")
    return "\n".join(lines)


def chosen(results: dict) -> str:
    out = []
    for data in NAMES:
        r = results.get(data, {})
        parts = []
        if "selection" in r.get("learnspn", {}):
            sel = r["learnspn"]["selection"]
            b = sel["best"]
            parts.append(f"learnspn min {b['min_instances']} p {b['pvalue']} alpha {b['alpha']} (structure valid "
                         f"{b['valid_ll']:.3f}, after EM {r['learnspn']['valid_ll']:.3f}; grid of {len(sel['grid'])} "
                         f"in {sel['time_s']:.0f} s)")
        if "candidates" in r.get("hclt", {}):
            c = r["hclt"]["candidates"]
            parts.append("hclt valid " + ", ".join(f"{i} {c[i]['valid_ll']:.3f} (test {c[i]['test_ll']:.3f}, "
                                                   f"{c[i]['train_time_s']:.0f} s)" for i in c))
        if parts:
            out.append(f"  {NAMES[data]}: " + "; ".join(parts))
    return "\n".join(out)


if __name__ == "__main__":
    main()
