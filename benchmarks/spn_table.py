"""The README's density-estimation table: test log-likelihood of our three structures beside the independent
and Chow-Liu baselines and the HCLT column quoted in issue 17 (Liu and Van den Broeck 2021), with training times.

Each row is a real `deeplearn spn train` run (one data set at a time; run it under the CPU lock):

    flock /tmp/deeplearn-cpu.lock python benchmarks/spn_table.py --data nltcs     # appends to the results JSON
    python benchmarks/spn_table.py --table                                        # prints the markdown table
"""

from __future__ import annotations

import argparse
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
# The commands of each structure (short CPU budgets: a few minutes per data set in all).
RUNS = {
    "learnspn": ["--structure", "learnspn", "--min-instances", "200"],
    "rat": ["--structure", "rat", "--depth", "3", "--repetitions", "8", "--sums", "8", "--inputs", "8",
            "--epochs", "12", "--max-time", "90"],
    "hclt": ["--structure", "hclt", "--hidden", "16", "--hclt-init", "random", "--epochs", "30", "--max-time", "90"],
}


def run_one(data: str, structure: str, out_root: Path) -> dict:
    out = out_root / f"{data}-{structure}"
    if (out / "spn.json").exists():
        return json.loads((out / "spn.json").read_text())
    cmd = [sys.executable, "-m", "deeplearn", "spn", "train", "--data", data, *RUNS[structure], "--threads", "1",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    print("$ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, env=env)
    return json.loads((out / "spn.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="*", default=[])
    ap.add_argument("--structures", nargs="*", default=list(RUNS))
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
            r = run_one(data, s, Path(args.out_root))
            row[s] = {k: r[k] for k in ("test_ll", "valid_ll", "train_ll", "train_time_s", "parameters", "stats",
                                        "structure_options", "learner")}
            row[s]["command"] = "deeplearn spn train --data " + data + " " + " ".join(RUNS[s])
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=1))
    if args.table:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        text = (f"commit {commit}\ncommand: python benchmarks/spn_table.py --data SET (one set at a time, under the "
                f"CPU lock), then --table\nmachine: 2-core x86_64 CPU shared with other jobs, 1 thread, torch "
                f"{__import__('torch').__version__}; one run each, seed 0; test LL in nats/instance (training time: "
                f"structure + parameters)\n\n" + table(results) + "\n\ncommands:\n" +
                "\n".join(f"  {s}: deeplearn spn train --data SET {' '.join(a)} --threads 1" for s, a in RUNS.items()))
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
            cells.append(f"{r[s]['test_ll']:.3f} ({r[s]['train_time_s']:.0f} s)" if s in r else "not run")
        lines.append(f"| {NAMES[data]} | " + " | ".join(cells) + f" | {HCLT_PAPER[data]:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
