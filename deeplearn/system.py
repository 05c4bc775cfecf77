"""The system interface: what a system of the lecture gives the command line, the tuner and the report.

    System(name="text", help="character-level recurrent language models",
           commands="deeplearn.text.commands", training="deeplearn.text.commands:SPEC")

`commands` names a module with `register(verbs)`: it adds the system's verbs to `verbs` (an argparse
sub-parsers action) and each verb sets `func`. The module must import quickly (no torch at import time): the
CLI imports only the system a command names, so `deeplearn --help` and a system's `--help` stay fast.
`training` names the system's `TrainingSpec` ("module:ATTRIBUTE"), if it trains through the engine; then
`deeplearn tune --system NAME` can tune it. `report` names the system's part of the lecture report
(`deeplearn lecture`): "module:FUNCTION", a function of no arguments that returns a list of
`deeplearn.report.Section`s, each one claim of the lecture with its `run(ctx) -> Outcome` (deeplearn/report.py
defines the protocol; the lecture system orders the sections by their slide group, runs, stores and renders them).
The module is imported only by `deeplearn lecture`. `top_level` lists verbs that sit at the top
(`deeplearn train`), for the supervised system and the engine's tools; other systems' verbs sit under their
name (`deeplearn text train`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class System:
    name: str
    help: str
    commands: str
    training: str | None = None
    report: str | None = None
    top_level: tuple[str, ...] = ()
    extra: str | None = None  # the pip extra the system needs beyond the base install, if any

    def load_commands(self) -> ModuleType:
        return importlib.import_module(self.commands)

    def training_spec(self):
        if self.training is None:
            from deeplearn.paths import DataError

            raise DataError(f"the {self.name} system does not train through the engine")
        return _resolve(self.training)

    def report_section(self):
        """The function that returns the system's lecture sections (a list of deeplearn.report.Section), or None."""
        return _resolve(self.report) if self.report else None


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
