"""Options declared once: a dataclass whose fields carry their help, and one generator that makes the
command-line flags from it, so that a flag's help can never disagree with the default that is used.

    @dataclass
    class TextOptions:
        hidden: int = opt(256, "hidden units per layer")
        cell: str = opt("lstm", "recurrent cell", choices=["lstm", "gru", "rnn"])

    add_dataclass_arguments(parser.add_argument_group("model"), TextOptions, defaults={"hidden": 384})

Every flag's argparse default is None, so that the caller can tell which options the user gave (they override a
stored run's options on --resume and a recipe file's); `defaults_of(cls, overrides)` is the value used otherwise.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, field, fields
from typing import Any, Callable


def opt(default: Any, help: str, *, choices: list | None = None, shown: str | None = None,
        positional: bool = False, check: Callable[[Any], str | None] | None = None) -> Any:
    """A dataclass field with its help text. `choices`: a list, or a function returning one (a registry's
    names, looked up only when the option is given, so that --help imports nothing heavy). `shown`: what --help says when the default is None (e.g. "all
    cores"); `positional`: an optional positional argument instead of a flag; `check(value)`: an error message
    for a bad value, or None."""
    meta = {"help": help, "choices": choices, "shown": shown, "positional": positional, "check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def positive(v) -> str | None:
    return None if v is None or v > 0 else "must be positive"


def non_negative(v) -> str | None:
    return None if v is None or v >= 0 else "must be >= 0"


def fraction(v) -> str | None:
    return None if v is None or 0 <= v < 1 else "must be in [0, 1)"


def default_of(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def defaults_of(cls, overrides: dict | None = None) -> dict:
    d = {f.name: default_of(f) for f in fields(cls)}
    d.update({k: v for k, v in (overrides or {}).items() if k in d})
    return d


def shown_default(f: Field, overrides: dict | None = None) -> str:
    value = (overrides or {}).get(f.name, default_of(f))
    if value is None and f.metadata.get("shown"):
        return f.metadata["shown"]
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


_SCALARS = {"int": int, "float": float, "str": str}


def checked(typ, check):
    """An argparse `type` that converts with `typ` and refuses what `check` (e.g. `positive`) objects to."""
    return _checked(typ, check, None)


def _checked(typ, check, flag, lazy_choices=None):
    def parse(text):
        value = typ(text)
        if lazy_choices is not None and value not in lazy_choices():
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(lazy_choices())})")
        problem = check(value) if check else None
        if problem:
            raise argparse.ArgumentTypeError(f"{text}: {problem}")
        return value
    parse.__name__ = typ.__name__  # argparse names the type in "invalid int value"
    return parse


def add_dataclass_arguments(group, cls, defaults: dict | None = None, skip: set[str] = frozenset()) -> None:
    """One flag per field of `cls` (`--name-with-dashes`), its help ending in the default actually used."""
    for f in fields(cls):
        if f.name in skip:
            continue
        meta = f.metadata
        help_ = f"{meta.get('help', '')} (default: {shown_default(f, defaults)})".strip()
        typ = str(f.type).replace(" | None", "").replace("Optional[", "").rstrip("]") \
            if "list" not in str(f.type) else str(f.type).replace(" | None", "")
        if typ == "bool":
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_)
            continue
        choices = meta.get("choices")
        lazy = choices if callable(choices) else None  # e.g. a registry's names: looked up only when given
        kwargs: dict[str, Any] = {"default": None, "help": help_, "choices": None if lazy else choices}
        if typ.startswith("list["):
            kwargs["nargs"] = "+"
            typ = typ[5:-1]
        if typ not in _SCALARS:
            raise TypeError(f"{cls.__name__}.{f.name}: option type {f.type!r} has no flag form")
        kwargs["type"] = _checked(_SCALARS[typ], meta.get("check"), f.name, lazy)
        if meta.get("positional"):
            kwargs.pop("default")
            group.add_argument(f.name, nargs="?", metavar=f.name.upper(), default=None,
                               **{k: v for k, v in kwargs.items() if k != "nargs"})
        else:
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, metavar=None if kwargs["choices"]
                               else f.name.upper(), **kwargs)


def given(args: argparse.Namespace, cls) -> dict:
    """The options of `cls` that were given on the command line (not None)."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
