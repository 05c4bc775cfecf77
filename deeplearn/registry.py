"""One registry for every named thing a user picks on the command line: models, data sets, rankers, encoders,
heads, structures (torchvision `models/_api.py`'s idea, generic).

    MODELS = Registry("model", modules=["deeplearn.supervised.mlp", "deeplearn.vision.models"])

    @MODELS.register("lenet5", description="LeNet-5 (LeCun et al. 1998)", input_size=(32, 32))
    def lenet5(num_classes, input_shape, **opts): ...

    MODELS.get("lenet5")       # the object; an unknown name is a DataError that lists the known ones
    MODELS.info("lenet5")      # the keyword facts given at registration (description, input_size, ...)
    MODELS.choices()           # sorted names, for argparse `choices=`

`modules` are imported on the first lookup (their import registers their entries), so a registry can be
declared in the library layer and filled by the systems without an import cycle. An import error in one of them
is raised, never hidden: a misspelt module name must not make entries vanish without a word.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Iterable, TypeVar

from deeplearn.paths import DataError

T = TypeVar("T")


class UnknownName(DataError, KeyError):
    """A name that is not in a registry (a DataError: the CLI prints it as one line)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: Iterable[str] = ()):
        self.kind = kind
        self._modules = list(modules)
        self._entries: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._loaded = not self._modules

    def add(self, name: str, obj: T, **info: Any) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = obj
        self._info[name] = info
        return obj

    def register(self, name: str, **info: Any) -> Callable[[T], T]:
        """Decorator form of `add`."""
        def deco(obj: T) -> T:
            return self.add(name, obj, **info)
        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def info(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self._info[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def choices(self) -> list[str]:
        return self.names()

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._entries[n]) for n in self.names()]

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries
