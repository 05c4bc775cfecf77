"""The search space: which `deeplearn train` options a study samples, and from what.

A parameter is a train option name (`lr`, `weight-decay` or `weight_decay`, `hidden`, ...) and a distribution,
written as `KIND:ARGS`, on the command line (`--param lr=loguniform:1e-4:1`) or as a TOML string:

    uniform:LOW:HIGH            float                    loguniform:LOW:HIGH   float, log scale
    int:LOW:HIGH[:STEP]         integer                  logint:LOW:HIGH       integer, log scale
    categorical:V1,V2,...       one of the values; each is read as JSON ([256,256], 0.5, true), else as text

In a TOML file a parameter may also be a table, {type = "float" | "int", low, high, log, step} or
{choices = [...]}, or a plain list (categorical). The file's [params] table holds the parameters; its optional
[fixed] table holds train options every trial gets (`epochs = 5`, `hidden = [64, 64]`, `nesterov = true`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from deeplearn.paths import DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_PRIMITIVE = (str, int, float, bool, type(None))


@dataclass
class Param:
    name: str  # the train option's dest, e.g. weight_decay
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list = field(default_factory=list)

    def labels(self) -> list:
        # Optuna stores only primitive choices; a list (e.g. hidden widths) is stored as its JSON text.
        return [c if isinstance(c, _PRIMITIVE) else json.dumps(c) for c in self.choices]

    def suggest(self, trial):
        if self.kind == "categorical":
            labels = self.labels()
            return self.choices[labels.index(trial.suggest_categorical(self.name, labels))]
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def candidates(self) -> list:
        """Values that stand for the whole range when checking that `deeplearn train` accepts them."""
        if self.kind == "categorical":
            return list(self.choices)
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(self.high)]

    def describe(self) -> str:
        if self.kind == "categorical":
            return "categorical:" + ",".join(json.dumps(c) if not isinstance(c, str) else c for c in self.choices)
        kind = ("log" if self.log else "") + ("int" if self.kind == "int" else "uniform")
        return f"{kind}:{self.low:g}:{self.high:g}" + (f":{self.step:g}" if self.step else "")


def dest(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_")


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # plain words (sgd, relu) need no quotes


def _split_top(text: str) -> list[str]:
    """Split on the commas outside brackets: `[64],[256,256]` -> `[64]`, `[256,256]`."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch in "[{") - (ch in "]}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


def parse_spec(name: str, spec: str) -> Param:
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind in ("categorical", "choice"):
        choices = [_value(v.strip()) for v in _split_top(rest) if v.strip()]
        return _checked(Param(dest(name), "categorical", choices=choices), spec)
    fields_ = rest.split(":")
    shapes = {"uniform": ("float", False), "loguniform": ("float", True), "int": ("int", False),
              "logint": ("int", True)}
    if kind not in shapes or len(fields_) not in (2, 3):
        raise DataError(f"search space: {name}={spec}: expected uniform|loguniform|int|logint:LOW:HIGH[:STEP] "
                        f"or categorical:V1,V2,...")
    try:
        low, high, *step = (float(f) for f in fields_)
    except ValueError:
        raise DataError(f"search space: {name}={spec}: LOW, HIGH and STEP must be numbers") from None
    typ, log = shapes[kind]
    return _checked(Param(dest(name), typ, low, high, log, step[0] if step else None), spec)


def _from_toml(name: str, value) -> Param:
    if isinstance(value, str):
        return parse_spec(name, value)
    if isinstance(value, list):
        return _checked(Param(dest(name), "categorical", choices=value), value)
    if isinstance(value, dict):
        if "choices" in value:
            return _checked(Param(dest(name), "categorical", choices=list(value["choices"])), value)
        typ = value.get("type", "float")
        if typ not in ("float", "int") or "low" not in value or "high" not in value:
            raise DataError(f"search space: {name} = {value}: needs type = float|int, low and high (or choices)")
        return _checked(Param(dest(name), typ, float(value["low"]), float(value["high"]), bool(value.get("log")),
                              value.get("step")), value)
    raise DataError(f"search space: {name} = {value!r}: expected a string, a list or a table")


def _checked(p: Param, source) -> Param:
    if p.kind == "categorical":
        if not p.choices:
            raise DataError(f"search space: {p.name}: no choices in {source}")
    elif not p.low < p.high or (p.log and p.low <= 0):
        raise DataError(f"search space: {p.name}: needs LOW < HIGH (and LOW > 0 on a log scale), got {source}")
    return p


def parse_params(specs: list[str]) -> dict[str, Param]:
    out = {}
    for s in specs:
        name, eq, spec = s.partition("=")
        if not eq or not name.strip():
            raise DataError(f"--param {s}: expected NAME=KIND:ARGS, e.g. lr=loguniform:1e-4:1")
        p = parse_spec(name, spec)
        out[p.name] = p
    return out


def load_file(path: str | Path) -> tuple[dict[str, Param], dict]:
    """(params, fixed train options) of a TOML space file."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no such search-space file") from None
    except tomllib.TOMLDecodeError as e:
        raise DataError(f"{path}: not valid TOML ({e})") from None
    unknown = set(doc) - {"params", "fixed"}
    if unknown:
        raise DataError(f"{path}: unknown tables {sorted(unknown)}; a space file has [params] and [fixed]")
    params = {dest(k): _from_toml(k, v) for k, v in doc.get("params", {}).items()}
    return params, {dest(k): v for k, v in doc.get("fixed", {}).items()}


def option_tokens(name: str, value) -> list[str]:
    """`deeplearn train` arguments that set option `name` to `value`."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + name.replace("_", "-")]
    if value is None:
        return []  # keep the train default
    if isinstance(value, list):
        return [flag, *(str(v) for v in value)]
    return [flag, str(value)]
