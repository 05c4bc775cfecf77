"""Importing the modules of systems that may not be built yet (the CLI's commands, registries of models/rankers)."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_if_present(name: str) -> ModuleType | None:
    """The module, or None if it (or a package above it) does not exist; any other import error is raised."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and name.startswith(e.name):
            return None
        raise
