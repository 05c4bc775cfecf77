"""The experiment's pictures (matplotlib, PNG): success vs samples / degree / sparsity, time vs n."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _by_value(rows: list[dict], key) -> tuple[np.ndarray, np.ndarray]:
    vals = sorted({r["value"] for r in rows})
    return np.array(vals), np.array([np.mean([key(r) for r in rows if r["value"] == v]) for v in vals])


def _success_plot(rows, xlabel, title, path: Path, logx=True) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for key, label, style in ((lambda r: float(r["positive_exact"]), "P(positive graph exact)", "o-"),
                              (lambda r: float(r["exact"]), "P(all edges exact, +/-)", "s-"),
                              (lambda r: float(np.mean(r["pos_f1"])), "positive-edge F1", "^--"),
                              (lambda r: float(np.mean(r["neg_f1"])), "negative-edge F1", "v--")):
        x, y = _by_value(rows, key)
        ax.plot(x, y, style, label=label, alpha=0.85)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_all(results: dict, out: Path) -> None:
    seeds = lambda rows: len({r["seed"] for r in rows})  # noqa: E731
    if "samples" in results:
        r = results["samples"]
        _success_plot(r, "samples / n^2", f"n={r[0]['n']}, d={r[0]['degree']}, rho=2/n, one layer, "
                      f"{seeds(r)} nets per point", out / "success_vs_samples.png")
    if "degree" in results:
        r = results["degree"]
        _success_plot(r, "degree d", f"n={r[0]['n']}, rho=2/n, samples=0.5 n^2, {seeds(r)} nets per point",
                      out / "success_vs_degree.png", logx=False)
    if "sparsity" in results:
        r = results["sparsity"]
        _success_plot(r, "top density rho", f"n={r[0]['n']}, d={r[0]['degree']}, {r[0]['samples']} samples, "
                      f"{seeds(r)} nets per point", out / "success_vs_sparsity.png")
    if "time" in results:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        t = results["time"]
        ns = np.array([r["n"] for r in t["rows"]])
        secs = np.array([r["seconds"] for r in t["rows"]])
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        ax.loglog(ns, secs, "o", label="measured (1 thread)")
        ax.loglog(ns, t["constant"] * ns ** t["exponent"], "-", label=f"fit: time ~ n^{t['exponent']:.2f}")
        ax.set_xlabel("n (units per layer); samples = 50 n")
        ax.set_ylabel("learning time (s)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(out / "time_vs_n.png", dpi=120)
        plt.close(fig)
