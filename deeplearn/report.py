"""The lecture report's unit: a Section (one claim of one slide group) and the Context it runs in.

A system contributes sections through the system interface: `System(..., report="deeplearn.x.lecture:sections")`
names a function that takes no arguments and returns a list of `Section`s. Each section's `run(ctx)` runs the
system's own public functions or command line (`ctx.cli([...])`, which records the reproducing command), writes its
pictures under `ctx.dir`, and returns an `Outcome`:

    def run(ctx):
        ctx.cli(["train", "--epochs", ctx.pick(5, 30), "--out", ctx.path("mlp")])  # quick / full budget
        s = ctx.summary("mlp")
        fig = ctx.figure(ctx.path("mlp") / "curves.png", "training curves", numbers={"acc": s["test"]["test_acc"]})
        return Outcome(HOLDS if ... else FAILS, "why, in one sentence", figures=[fig], numbers={...})

    def sections():
        return [Section("my-claim", "Title", slide="convnets", claim="what the slide says", run=run)]

`slide` places the section in the lecture's order (deeplearn/lecture/outline.py lists the slide groups;
`deeplearn lecture --list` shows the sections). A section that raises is marked failed in the report with the
error's message (a DataError or SectionError message as it is); the other sections still run.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

# Verdicts: what our measurement says about the slide's claim.
HOLDS = "holds"
FAILS = "does not hold on our data"
UNTESTABLE = "not testable here"
NOT_LANDED = "not landed yet"
VERDICTS = (HOLDS, FAILS, UNTESTABLE, NOT_LANDED)


class SectionError(RuntimeError):
    """A step of a section failed (a command's exit status, missing data); the message is the report's reason."""


@dataclass
class Figure:
    """A picture the section made: `path` relative to the report directory, its caption, the command that made it,
    and the numbers it shows (they go to report.json)."""

    path: str
    caption: str
    command: str = ""
    numbers: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What a section's `run` returns.

    Args:
        verdict: one of VERDICTS.
        reason: one or two sentences: the measurement behind the verdict, or why it cannot be tested here.
        figures: pictures (ctx.figure(...)), each with caption and command.
        numbers: the section's headline numbers (JSON-serializable).
        text: optional preformatted text shown in the report (a generated sample).
    """

    verdict: str
    reason: str
    figures: list[Figure] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    text: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: expected one of {VERDICTS}")


@dataclass(frozen=True)
class Section:
    """One claim of the lecture, measured.

    Args:
        id: short unique name, used by `--only` and as the section's folder (letters, digits, '-').
        title: heading in the report.
        slide: the slide group (an id of deeplearn/lecture/outline.py SLIDES) that fixes its place.
        claim: what the slide claims, in a sentence or two.
        run: run(ctx) -> Outcome.
    """

    id: str
    title: str
    slide: str
    claim: str
    run: Callable[["Context"], Outcome]


@dataclass
class Context:
    """Where and how a section runs: its own folder, the mode (quick or full), threads, data root."""

    dir: Path  # the section's folder (under the report directory)
    report_dir: Path
    mode: str = "quick"  # "quick" | "full"
    threads: int = 1
    data_dir: str | None = None
    commands: list[str] = field(default_factory=list)
    log: io.TextIOBase | None = None

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def pick(self, quick: Any, full: Any) -> Any:
        """The quick-mode or the full-mode value (budgets, data set names)."""
        return quick if self.quick else full

    def path(self, name: str) -> Path:
        return self.dir / name

    def rel(self, path: str | Path) -> str:
        """A path as the report refers to it (relative to the report directory)."""
        return Path(path).resolve().relative_to(self.report_dir.resolve()).as_posix()

    def data_args(self) -> list[str]:
        return ["--data-dir", self.data_dir] if self.data_dir else []

    def find_data(self, rel: str) -> Path | None:
        """The data root that holds `rel` (a file or folder under it), or None: --data-dir if given, else
        $DEEPLEARN_DATA, else ../shared/data beside the repository. A section that needs real data in --quick
        says "not testable here" when this is None, instead of failing."""
        import os

        if self.data_dir:
            roots = [Path(self.data_dir)]
        else:
            roots = [Path(os.environ["DEEPLEARN_DATA"])] if os.environ.get("DEEPLEARN_DATA") else []
            roots.append(Path(__file__).resolve().parents[2] / "shared" / "data")
        return next((r for r in roots if (r / rel).exists()), None)

    def cli(self, argv: list[Any], *, record: bool = True) -> str:
        """Run `deeplearn ARGV` in this process; its stdout as text. Raises SectionError on a non-zero exit."""
        from deeplearn import cli

        argv = [str(a) for a in argv]
        command = "deeplearn " + shlex.join(argv)
        if record:
            self.commands.append(command)
        out, err = io.StringIO(), io.StringIO()
        t = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = cli.main(argv)
            except SystemExit as e:  # argparse refused the options
                rc = e.code if isinstance(e.code, int) else 2
        self._log(f"$ {command}  [{time.perf_counter() - t:.1f} s, exit {rc}]\n{out.getvalue()}{err.getvalue()}")
        if rc != 0:
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            raise SectionError(f"`{command}` exited {rc}: {lines[-1] if lines else 'no message'}")
        return out.getvalue()

    def note_command(self, command: str) -> str:
        """Record a command run through the system's functions rather than `cli` (its CLI equivalent)."""
        self.commands.append(command)
        self._log(f"$ {command}\n")
        return command

    def summary(self, run: str | Path) -> dict:
        from deeplearn.engine.rundir import RunDir

        s = RunDir(self.path(str(run)) if not Path(run).is_absolute() else run).summary
        if s is None:
            raise SectionError(f"{run}: the run wrote no summary.json")
        return s

    def metrics(self, run: str | Path) -> list[dict]:
        """The rows of a run's metrics.jsonl."""
        from deeplearn.engine.rundir import RunDir

        path = RunDir(self.path(str(run)) if not Path(run).is_absolute() else run).metrics_path
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def figure(self, path: str | Path, caption: str, command: str | None = None, numbers: dict | None = None
               ) -> Figure:
        """A figure for the report; `command` defaults to the last command run."""
        if not Path(path).is_file():
            raise SectionError(f"the figure {path} was not written")
        return Figure(self.rel(path), caption, command if command is not None else
                      (self.commands[-1] if self.commands else ""), numbers or {})

    def _log(self, text: str) -> None:
        if self.log is not None:
            self.log.write(text)
            self.log.flush()


def outcome_to_dict(o: Outcome) -> dict:
    return asdict(o)


def outcome_from_dict(d: dict) -> Outcome:
    return Outcome(d["verdict"], d["reason"], [Figure(**f) for f in d.get("figures", [])], d.get("numbers", {}),
                   d.get("text", ""))
