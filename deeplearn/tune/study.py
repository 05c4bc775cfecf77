"""Where a study lives (an Optuna RDB storage: SQLite by default) and how it samples and prunes.

Every worker that opens the same storage URL and study name joins the same study: the database hands out the
trial numbers, so workers on one machine (SQLite) or many (PostgreSQL, MySQL) never duplicate or lose trials.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import optuna

from deeplearn.paths import DataError


def default_storage(out: str | Path) -> str:
    return f"sqlite:///{Path(out).resolve() / 'study.db'}"


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///") or url.rstrip("/").endswith(":memory:"):
        return None
    return Path(url[len("sqlite:///"):])


@contextlib.contextmanager
def creation_lock(url: str):
    """Serialize the first schema creation of a fresh SQLite file: two workers starting together would both
    create the tables. Other databases handle concurrent creation themselves."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: start workers one after the other
        yield
        return
    with open(str(path) + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def make_sampler(name: str, seed: int | None):
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: a running trial counts as a bad result, so parallel workers do not all sample one point.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(name: str, startup: int, warmup: int):
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(warmup, 1))
    # Steps are evaluation counts from 1: steps 1..warmup are never pruned.
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup + 1)


def open_study(url: str, name: str, metric: str, direction: str, sampler, pruner) -> optuna.Study:
    """Create the study or join it; a study keeps the metric and direction it was created with."""
    is_sqlite = url.startswith("sqlite:")
    # SQLite lets one writer in at a time: wait for the lock (seconds) instead of failing with "locked".
    engine = {"connect_args": {"timeout": 300}} if is_sqlite else {"pool_pre_ping": True}
    with creation_lock(url):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # Heartbeats let a live worker mark a dead worker's RUNNING trials FAIL instead of leaving them.
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30,
                                                     grace_period=120)
        except Exception as e:  # a wrong URL or a missing database driver: say which
            raise DataError(f"--storage {url}: cannot open ({type(e).__name__}: {e})") from None
        study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                                    pruner=pruner, load_if_exists=True)
        attrs = study.user_attrs
        if "metric" not in attrs:
            study.set_user_attr("metric", metric)
    if attrs.get("metric", metric) != metric or study.direction.name.lower() != direction:
        raise DataError(f"study {name!r} in {url} optimizes {attrs.get('metric')} "
                        f"({study.direction.name.lower()}); asked: {metric} ({direction}). "
                        f"Use another --study name.")
    return study
