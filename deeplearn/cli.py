"""The one command line: `deeplearn <system> <verb>`.

`SYSTEMS` is the list of every system, in the order `deeplearn --help` shows them (deeplearn/system.py says
what an entry holds). A command imports only the system it names; `deeplearn --help` imports the light command
modules of all of them. Errors a user can fix print one line (`--debug` or DEEPLEARN_DEBUG=1 shows the
traceback): exit 2 for bad input or options, 1 for a run that failed, 130 for an interrupt.
"""

from __future__ import annotations

import argparse
import os
import sys

from deeplearn.paths import DataError
from deeplearn.system import System

SYSTEMS = [
    System("supervised", "supervised learning: the feed-forward net, CNNs and traditional ML on images",
           "deeplearn.supervised.commands", training="deeplearn.supervised.commands:SPEC",
           report="deeplearn.supervised.lecture:sections",
           top_level=("train", "evaluate", "predict", "baseline", "models")),
    System("launch", "data-parallel replicas of any training command (torchrun)", "deeplearn.engine.launch",
           top_level=("launch",)),
    System("tune", "hyperparameter search (Optuna) over any trainable system", "deeplearn.tune.commands",
           report="deeplearn.tune.lecture:sections", top_level=("tune",)),
    System("vision", "what vision networks learn: filters, feature maps, DeepDream, feature visualization; style "
                     "transfer and neural doodles; object detection",
           "deeplearn.vision.commands", training="deeplearn.vision.detect.commands:SPEC",
           report="deeplearn.vision.lecture:sections"),
    System("text", "character-level recurrent language models: train, sample, evaluate",
           "deeplearn.text.commands", training="deeplearn.text.commands:SPEC",
           report="deeplearn.text.lecture:sections"),
    System("premises", "lemma selection for the E prover on MPTP2078: rank, select, prove, evaluate, train",
           "deeplearn.premises.commands", report="deeplearn.premises.lecture:sections"),
    System("arora", "Arora et al. 2014: random sparse deep nets, their provable layer-wise learner, an SGD baseline",
           "deeplearn.arora.commands", training="deeplearn.arora.commands:SPEC",
           report="deeplearn.arora.lecture:sections"),
    System("spn", "sum-product networks: learn tractable density models, query them exactly",
           "deeplearn.spn.commands", report="deeplearn.spn.lecture:sections"),
    System("lecture", "run every system's claims of the lecture and write an HTML report of them, measured",
           "deeplearn.lecture.commands", top_level=("lecture",)),
]


def system_of(command: str) -> System | None:
    for s in SYSTEMS:
        if command in (s.top_level or (s.name,)):
            return s
    return None


def trainable_systems() -> list[str]:
    return [s.name for s in SYSTEMS if s.training]


def get_system(name: str) -> System:
    for s in SYSTEMS:
        if s.name == name:
            return s
    raise DataError(f"unknown system {name!r}; known: {', '.join(s.name for s in SYSTEMS)}")


def _add_system(sub, system: System) -> None:
    try:
        module = system.load_commands()
    except ModuleNotFoundError as e:
        if e.name and not e.name.startswith("deeplearn"):
            hint = f"pip install -e '.[{system.extra}]'" if system.extra else f"pip install {e.name}"
            raise DataError(f"the {system.name} system needs the package {e.name}: {hint}") from None
        raise
    if system.top_level:
        module.register(sub)
        return
    p = sub.add_parser(system.name, help=system.help, description=system.help)
    verbs = p.add_subparsers(dest=f"{system.name}_command", metavar="<verb>")
    module.register(verbs)
    p.set_defaults(func=lambda args: p.print_help() or 0)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake answered in two lines (the problem, where the help is), not the whole usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only the system that command belongs to is imported."""
    parser = Parser(
        prog="deeplearn",
        description="The systems of the lecture 'Deep Learning Introduction' (Szegedy and Irving), on PyTorch.",
    )
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    wanted = system_of(command) if command else None
    unavailable = []
    for system in SYSTEMS:
        if wanted is not None and system is not wanted:
            continue
        try:
            _add_system(sub, system)
        except DataError as e:
            if wanted is not None:
                raise
            unavailable.append(str(e))
    if unavailable:
        parser.epilog = "unavailable here: " + "; ".join(unavailable)
    return parser


def _first_command(argv: list[str]) -> str | None:
    for a in argv:
        if not a.startswith("-"):
            return a
    return None


def main(argv: list[str] | None = None) -> int:
    from deeplearn.engine.checkpoint import CheckpointError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("DEEPLEARN_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    try:
        parser = build_parser(_first_command(argv))
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except (DataError, CheckpointError) as e:
        if debug:
            raise
        print(f"deeplearn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("deeplearn: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        from deeplearn.engine.trainer import TrainingError

        if debug or not isinstance(e, TrainingError):
            raise  # a bug: the traceback is what a report needs
        print(f"deeplearn: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
