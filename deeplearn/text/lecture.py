"""The text system's section of the lecture report: a character LSTM's sample and bits per character against
the character-frequency (unigram) baseline. --quick trains on text every install has (this package's own Python
source); --full on the lecture's corpus, the Stacks Project LaTeX (2015 snapshot)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, Outcome, Section, SectionError

STACKS = "text/stacks_tex_2015-05-20_aca856f.txt.gz"


def package_source() -> str:
    """Every Python file of the deeplearn package, in path order, joined: the embedded corpus of --quick."""
    root = Path(__file__).resolve().parents[1]
    return "".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py")))


def unigram_bits(text: str, val_fraction: float = 0.1) -> float:
    """Bits per character of the held-out last part under the training part's character frequencies
    (add-one smoothing): what a model that learns no context achieves."""
    cut = int(len(text) * (1 - val_fraction))
    counts = Counter(text[:cut])
    vocab = set(text)
    total = cut + len(vocab)
    held = Counter(text[cut:])
    return -sum(n * math.log2((counts[c] + 1) / total) for c, n in held.items()) / max(1, len(text) - cut)


def _corpus(ctx) -> tuple[Path, str, str]:
    """(file, its text, what it is)."""
    if ctx.quick:
        path = ctx.path("corpus.txt")
        path.write_text(package_source(), encoding="utf-8")
        return path, path.read_text(encoding="utf-8"), "the deeplearn package's own Python source"
    from deeplearn.paths import data_root
    from deeplearn.text.data import read_text

    path = data_root(ctx.data_dir) / STACKS
    if not path.is_file():
        raise SectionError(f"{path}: the Stacks Project LaTeX corpus is missing (see ../shared/data/text/README.md)")
    return path, read_text(path), "the Stacks Project LaTeX (2015 snapshot, the lecture's corpus)"


def run_text(ctx) -> Outcome:
    path, text, what = _corpus(ctx)
    run = ctx.path("lstm")
    budget = ctx.pick(["--hidden", 192, "--layers", 1, "--embed", 32, "--max-time", 60, "--eval-every", 40],
                      ["--layers", 2, "--hidden", 384, "--embed", 64, "--lr", 8e-3, "--min-lr", 3e-4,
                       "--max-time", 300, "--eval-every", 200])
    ctx.cli(["text", "train", path, *budget, "--threads", ctx.threads, "--progress", "none", "--out", run])
    train_cmd = ctx.commands[-1]
    prime = ctx.pick("def ", "\\begin{lemma}")
    sample = ctx.cli(["text", "sample", run, "--length", ctx.pick(500, 1200), "--temperature", 0.8,
                      "--seed", 0, "--prime", prime])
    summary = ctx.summary("lstm")
    rows = [r for r in ctx.metrics("lstm") if "val_bpc" in r]
    base = unigram_bits(text)
    fig = plots.lines({"char LSTM (validation)": ([r["step"] for r in rows], [r["val_bpc"] for r in rows])},
                      ctx.path("bpc.png"), xlabel="step", ylabel="bits per character",
                      hline=(base, f"character frequencies alone ({base:.2f})"),
                      title=f"char LSTM, {len(text):,} characters of {ctx.pick('Python', 'Stacks LaTeX')}")
    bpc = summary["final"]["val_bpc"]
    numbers = {"val_bits_per_char": bpc, "unigram_bits_per_char": base, "characters": len(text),
               "train_time_s": summary["train_time_s"], "steps": summary["steps"]}
    holds = bpc < base - 1.0
    reason = (f"on {what}: {bpc:.3f} bits/char on the held-out last 10 % against {base:.3f} for character "
              f"frequencies alone (criterion: at least 1 bit lower), after {summary['train_time_s']:.0f} s of training; "
              f"the sample below is "
              f"the model's own writing" + (" (--full trains on the Stacks LaTeX, the lecture's corpus)."
                                            if ctx.quick else "."))
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers, text=sample.strip(),
                   figures=[ctx.figure(fig, "Validation bits per character during training, against the "
                                            "character-frequency baseline", command=train_cmd, numbers=numbers)])


def sections() -> list[Section]:
    return [Section("text", "The LSTM writes text: a sample and bits per character", "recurrent",
                    "An LSTM (parameter sharing over time) trained on characters writes plausible LaTeX of "
                    "algebraic geometry (Karpathy 2016).", run_text)]
