"""Small matplotlib helpers for the report's figures (Agg backend, one PNG each)."""

from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def lines(series: dict[str, tuple[list, list]], path: Path, *, xlabel: str, ylabel: str, title: str,
          logy: bool = False, hline: tuple[float, str] | None = None, styles: dict[str, str] | None = None) -> Path:
    """One line per series name: {name: (xs, ys)}; an optional horizontal reference line (value, label)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, (styles or {}).get(name, "-"), label=name, lw=1.4, ms=3)
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls="--", lw=1, label=hline[1])
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def bars(values: dict[str, float], path: Path, *, ylabel: str, title: str, errors: dict[str, float] | None = None,
         colors: dict[str, str] | None = None, fmt: str = "{:.3f}", ylim: tuple[float, float] | None = None,
         logy: bool = False) -> Path:
    """A bar per name, the value written above it."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    names = list(values)
    ys = [values[n] for n in names]
    err = [errors.get(n, 0) for n in names] if errors else None
    ax.bar(range(len(names)), ys, yerr=err, capsize=3,
           color=[(colors or {}).get(n, "#4c78a8") for n in names])
    for i, y in enumerate(ys):
        ax.text(i, y, fmt.format(y), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 3 else 0, ha="right" if len(names) > 3
                  else "center", fontsize=8)
    if logy:
        ax.set_yscale("log")
    if ylim:
        ax.set_ylim(*ylim)
    ax.set(ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, axis="y")
    return _save(plt, fig, path)


def scatter(xs, ys, path: Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    """Points against the diagonal y = x."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(xs, ys, s=6, alpha=0.6)
    lo, hi = min(min(xs), min(ys)), max(max(xs), max(ys))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--", label="y = x")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(plt, fig, path)
