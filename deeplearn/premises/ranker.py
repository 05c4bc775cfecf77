"""The `Ranker` interface every premise selector implements, and the registry `--method` chooses from.

A ranker may learn (`fit` on training problems, which carry their proofs' premises in `Problem.deps`), then
`rank(conjecture, premises)` scores *every* candidate premise and returns `(name, score)` best first.
A learned ranker saves to and loads from a run directory (`fit --out RUN`, `--model RUN`); the default stores
`state()` as JSON, a neural ranker (issue 7) can override `save`/`load` to write its weights beside it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

from deeplearn.paths import DataError
from deeplearn.plugins import import_if_present
from deeplearn.premises.tptp import Annotated

# Modules that register rankers; a module not built yet (the neural ranker of part 2) is skipped.
RANKER_MODULES = ["deeplearn.premises.sine", "deeplearn.premises.mepo", "deeplearn.premises.knn",
                  "deeplearn.premises.nb", "deeplearn.premises.neural", "deeplearn.premises.fusion"]


class Ranker:
    name = "ranker"
    learns = False  # True: needs `fit` (or a saved model) before `rank`

    def __init__(self, **params):
        self.params = params

    def fit(self, problems: Sequence) -> "Ranker":
        return self

    def rank(self, conjecture: Annotated, premises: Sequence[Annotated]) -> list[tuple[str, float]]:
        raise NotImplementedError

    # persistence -------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass

    def save(self, run_dir: str | Path) -> Path:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / "ranker.json"
        path.write_text(json.dumps({"method": self.name, "params": self.params, "state": self.state()}))
        return path


_REGISTRY: dict[str, Callable[..., Ranker]] = {}
_loaded = False


def register(cls):
    """Class decorator: make a ranker available as `--method <cls.name>`."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_modules() -> None:
    global _loaded
    if _loaded:
        return
    for mod in RANKER_MODULES:
        import_if_present(mod)
    _loaded = True


def available() -> list[str]:
    _load_modules()
    return sorted(_REGISTRY)


def get(name: str, **params) -> Ranker:
    _load_modules()
    if name not in _REGISTRY:
        raise DataError(f"unknown ranking method {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name](**params)


def load(run_dir: str | Path, method: str | None = None, params: dict | None = None) -> Ranker:
    """A ranker saved by `Ranker.save` (or by a subclass that overrides it and writes `ranker.json`). `method`:
    the method wanted; another than the saved one works only for a ranker that wraps it (`neural+knn` loads from
    a `neural` run). `params`: constructor options of the wrapping ranker (`neural+knn`: `neural_weight`, `k`)."""
    path = Path(run_dir) / "ranker.json"
    try:
        blob = json.loads(path.read_text())
    except OSError as e:
        raise DataError(f"{path}: cannot read a saved ranker ({e.strerror}); train one with `premises fit`") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not a saved ranker ({e.msg})") from None
    if method and method != blob.get("method"):
        _load_modules()
        cls = _REGISTRY.get(method)
        if cls is None or getattr(cls, "wraps", None) != blob.get("method"):
            raise DataError(f"{run_dir}: holds a {blob.get('method')!r} model, not {method!r}")
        ranker = cls(**(params or {}))
        ranker.load_from(Path(run_dir))
        ranker.fitted = True
        return ranker
    if params:
        raise DataError(f"{run_dir}: options {', '.join(sorted(params))} apply only to a ranker that wraps the saved "
                        f"{blob.get('method')!r} model (e.g. --method neural+knn)")
    ranker = get(blob["method"], **blob.get("params", {}))
    loader = getattr(ranker, "load_from", None)
    if loader is not None:
        loader(Path(run_dir))
    else:
        ranker.set_state(blob.get("state", {}))
    ranker.fitted = True  # evaluate must not refit a saved model
    return ranker


# helpers shared by the baselines ------------------------------------------------------------------------------


def ordered(premises: Sequence[Annotated], scores: Iterable[float]) -> list[tuple[str, float]]:
    """(name, score) best first; ties go to the later premise (in MML order recent facts are likelier to be
    used, and this keeps every ranking deterministic). Scores are compared rounded to 9 digits: float sums over
    sets depend on Python's per-process hash order in their last bits."""
    import numpy as np

    values = np.asarray(scores if isinstance(scores, np.ndarray) else list(scores), dtype=np.float64)
    names = [p.name for p in premises]
    return [(names[i], float(values[i])) for i in order(values).tolist()]


def order(scores) -> "np.ndarray":
    """The indices of `scores` best first, as `order_reference` sorts them (key (-round(s, 9), -i)), on arrays."""
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    return np.lexsort((-np.arange(len(s)), -round9(s)))


def round9(s: "np.ndarray") -> "np.ndarray":
    """Python's round(x, 9) of every element. numpy's round (rint(x * 1e9) / 1e9) gives the same float except
    where x * 1e9 lies within rounding error of a half-integer (Python rounds the exact decimal value of x):
    those few are rounded by Python."""
    import numpy as np

    y = s * 1e9
    out = np.rint(y) / 1e9
    near = np.abs(np.abs(y - np.floor(y)) - 0.5) <= 1e-6 + 1e-15 * np.abs(y)
    near |= ~np.isfinite(y)
    for i in np.flatnonzero(near).tolist():
        out[i] = round(float(s[i]), 9) if np.isfinite(s[i]) else s[i]
    return out


def order_reference(scores: Sequence[float]) -> list[int]:
    """The plain statement of `order` (the tests compare the two)."""
    return sorted(range(len(scores)), key=lambda i: (-round(scores[i], 9), -i))


def idf_table(feature_sets: Iterable[Iterable[str]]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of each feature, and the IDF given to an unseen feature."""
    df: Counter = Counter()
    n = 0
    for fs in feature_sets:
        df.update(set(fs))
        n += 1
    n = max(n, 1)
    return {f: math.log(n / c) + 1.0 for f, c in df.items()}, math.log(n) + 1.0
