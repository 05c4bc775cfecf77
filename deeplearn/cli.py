"""The one command line: `deeplearn <system> <verb>`.

Each system lives in its own subpackage and contributes its commands through a `register(subparsers)`
function; this file only lists those modules, in the order `deeplearn --help` shows them.
"""

from __future__ import annotations

import argparse
import sys

from deeplearn.paths import DataError
from deeplearn.plugins import import_if_present

# Modules that add commands; a module that is not there yet is skipped (planned systems).
COMMAND_MODULES = [
    "deeplearn.supervised.commands",  # train / evaluate / predict / baseline / models
    "deeplearn.engine.launch",        # launch (torchrun replicas)
    "deeplearn.tune.commands",        # tune (Optuna)
    "deeplearn.vision.commands",      # vision filters / features
    "deeplearn.text.commands",        # text train / sample / evaluate
    "deeplearn.premises.commands",    # premises rank / select / prove / evaluate / fit / train
    "deeplearn.spn.commands",         # spn train / evaluate / sample / query / baselines
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplearn",
        description="The systems of the lecture 'Deep Learning Introduction' (Szegedy and Irving), on PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    unavailable = []
    for name in COMMAND_MODULES:
        try:
            module = import_if_present(name)
        except ModuleNotFoundError as e:
            if e.name is not None and not e.name.startswith("deeplearn"):
                unavailable.append(f"{name.split('.')[1]} (needs the package {e.name})")
                continue  # a missing third-party package disables that system only
            raise
        if module is not None:  # None: that system is not built yet
            module.register(sub)
    if unavailable:
        parser.epilog = "unavailable here: " + ", ".join(unavailable)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except DataError as e:
        print(f"deeplearn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
