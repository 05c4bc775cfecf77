"""The ILSVRC slides' two claims, measured with the fast recipe's set-up: the table and the picture from the runs.

    python benchmarks/ilsvrc_claims.py runs/ilsvrc --png docs/img/cifar/ilsvrc-acc-vs-steps.png

Reads every run directory under the root named <variant>-s<seed> (made by recipes/ilsvrc-<variant>-cifar.toml with
`--seed N --out runs/ilsvrc/<variant>-sN`): config.json (model, lr), summary.json (the final test after Lookahead's
last copy of the slow weights) and metrics.jsonl (the `--eval-test` rows: test accuracy of the fast weights at
every evaluation, the curve).

Claim 1 (Szegedy et al. 2014, Sec. 1): GoogLeNet is more accurate than AlexNet with about 12x fewer parameters.
Here: final test accuracy at the same number of steps and the same batch, mean over seeds, and the parameter counts.

Claim 2 (Ioffe and Szegedy 2015, Sec. 4.2.2, Fig. 3): BN-Inception reaches GoogLeNet-style Inception's accuracy
in about 14x fewer steps (BN-x5: 2.1M steps against 31.0M to 72.2 %; BN-Baseline, the same learning rate, 13.3M).
Here: the threshold is GoogLeNet-CIFAR's mean curve at its last evaluation; "steps to it" is the first evaluation
at which a run's curve is at or above it (so the resolution is the evaluation interval).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deeplearn.engine.logger import read_jsonl  # noqa: E402

LABELS = {"googlenet": "GoogLeNet-CIFAR", "alexnet": "AlexNet-CIFAR",
          "bn-inception": "BN-Inception-CIFAR (BN-Baseline: GoogLeNet's lr)",
          "bn-inception-x5": "BN-Inception-CIFAR (BN-x5: 5x the lr)"}
COLORS = {"googlenet": "b", "alexnet": "r", "bn-inception": "g", "bn-inception-x5": "m"}
RUN_NAME = re.compile(r"^(?P<variant>.+)-s(?P<seed>\d+)$")


def load_runs(root: Path) -> list[dict]:
    """One dict per finished run: variant, seed, model, lr, batch, steps, train_time_s, samples_per_s,
    final (test accuracy of the final weights), curve [(step, test_acc)], test images."""
    runs = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        m = RUN_NAME.match(d.name)
        if not m or not (d / "summary.json").exists():
            continue
        s = json.loads((d / "summary.json").read_text())
        cfg = json.loads((d / "config.json").read_text())
        curve = [(r["step"], r["test_acc"]) for r in read_jsonl(d / "metrics.jsonl") if "test_acc" in r]
        runs.append({"variant": m["variant"], "seed": int(m["seed"]), "model": cfg["task"]["model"],
                     "lr": cfg["train"]["lr"], "batch": cfg["train"]["batch_size"], "steps": s["steps"],
                     "train_time_s": s["train_time_s"], "samples_per_s": s["samples_per_s"],
                     "final": s["test"]["test_acc"], "test_count": cfg["task"].get("test_limit") or "all",
                     "curve": curve,
                     "status": s["status"]})
    return runs


def mean_curve(runs: list[dict]) -> list[tuple[int, float]]:
    """The mean test accuracy over the runs at the evaluation steps they all have."""
    steps = sorted(set.intersection(*(set(st for st, _ in r["curve"]) for r in runs)))
    return [(st, sum(dict(r["curve"])[st] for r in runs) / len(runs)) for st in steps]


def steps_to(curve: list[tuple[int, float]], threshold: float) -> int | None:
    """The first evaluation step at which the curve is at or above the threshold (None: never)."""
    return next((st for st, acc in curve if acc >= threshold - 1e-12), None)


def parameters(model: str) -> tuple[int, int]:
    """(all parameters, parameters used at inference: without GoogLeNet's auxiliary heads)."""
    from deeplearn import models

    net = models.build_model({"model": model}, 10, (3, 32, 32))
    total = models.count_parameters(net)
    aux = sum(p.numel() for n, p in net.named_parameters() if n.startswith("aux"))
    return total, total - aux


def by_variant(runs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (list(LABELS).index(r["variant"]) if r["variant"] in LABELS else 99,
                                         r["seed"])):
        out.setdefault(r["variant"], []).append(r)
    return out


def table(runs: list[dict]) -> str:
    lines = ["| net | parameters (inference) | lr | seeds | steps x batch | test accuracy per seed | mean | "
             "training time per run | images/s |", "|---|---|---|---|---|---|---|---|---|"]
    for v, rs in by_variant(runs).items():
        total, infer = parameters(rs[0]["model"])
        accs = ", ".join(f"{100 * r['final']:.1f} %" for r in rs)
        mean = sum(r["final"] for r in rs) / len(rs)
        t = sum(r["train_time_s"] for r in rs) / len(rs)
        rate = sum(r["samples_per_s"] for r in rs) / len(rs)
        par = f"{total:,}" + (f" ({infer:,})" if infer != total else "")
        lines.append(f"| {LABELS.get(v, v)} | {par} | {rs[0]['lr']:g} | {len(rs)} | {rs[0]['steps']} x "
                     f"{rs[0]['batch']} | {accs} | **{100 * mean:.1f} %** | {t:.0f} s | {rate:.1f} |")
    return "\n".join(lines)


def bn_claim(runs: list[dict]) -> tuple[float, str]:
    groups = by_variant(runs)
    base = mean_curve(groups["googlenet"])
    threshold = base[-1][1]
    g_steps = steps_to(base, threshold)
    lines = [f"threshold: GoogLeNet-CIFAR's mean test accuracy at step {base[-1][0]} (fast weights): "
             f"{100 * threshold:.1f} %; GoogLeNet-CIFAR first reaches it at step {g_steps}",
             "| run | evaluation every | steps to the threshold | GoogLeNet's steps / these |", "|---|---|---|---|"]
    for v in ("bn-inception", "bn-inception-x5"):
        for r in groups.get(v, []):
            st = steps_to(r["curve"], threshold)
            every = r["curve"][1][0] - r["curve"][0][0] if len(r["curve"]) > 1 else r["curve"][0][0]
            ratio = f"{g_steps / st:.1f}x" if st else f"- (not reached in {r['steps']} steps)"
            lines.append(f"| {LABELS[v]} seed {r['seed']} | {every} | {st if st else '-'} | {ratio} |")
    return threshold, "\n".join(lines)


def draw(runs: list[dict], threshold: float | None, path: Path) -> None:
    from deeplearn import report_plots

    series, styles = {}, {}
    for v, rs in by_variant(runs).items():
        for r in rs:
            name = f"{LABELS.get(v, v).split(' (')[0]}{' x5' if v.endswith('x5') else ''}" \
                   f"{' BN-Baseline' if v == 'bn-inception' else ''} s{r['seed']}"
            series[name] = ([st for st, _ in r["curve"]], [100 * a for _, a in r["curve"]])
            styles[name] = COLORS.get(v, "k") + ("o-" if r["seed"] == 0 else "s--")
    hline = (100 * threshold, "GoogLeNet at the budget's end") if threshold is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    report_plots.lines(series, path, xlabel="training steps (batch 32)", ylabel="test accuracy (%), 1,000 images",
                       title="CIFAR-10 (JPEG q75), the fast recipe's set-up, equal steps", hline=hline,
                       styles=styles)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path, help="folder of the runs (<variant>-s<seed>)")
    p.add_argument("--png", type=Path, help="write the accuracy-vs-steps picture here")
    args = p.parse_args()
    if not args.root.is_dir():
        sys.exit(f"error: {args.root} is not a folder of runs")
    runs = load_runs(args.root)
    if not runs:
        sys.exit(f"error: no finished runs named <variant>-s<seed> under {args.root}")
    from benchmarks.common import commit, machine

    print(f"commit {commit()}; python benchmarks/ilsvrc_claims.py {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}; runs: {len(runs)}; test images per evaluation: {runs[0]['test_count']}")
    print(table(runs))
    threshold = None
    if "googlenet" in by_variant(runs):
        threshold, text = bn_claim(runs)
        print(text)
    print("curves (step: test accuracy of the fast weights):")
    for r in runs:
        print(f"  {r['variant']}-s{r['seed']} ({r['status']}): "
              + ", ".join(f"{st}: {100 * a:.1f}" for st, a in r["curve"]))
    if args.png:
        draw(runs, threshold, args.png)
        print(f"picture: {args.png}")


if __name__ == "__main__":
    main()
