"""The run directory: the one place that knows its layout.

    RUN/config.json          {"system", "train", "task", "meta"}: everything needed to rebuild the run
    RUN/metrics.jsonl        one JSON row per log (step, epoch, train loss, lr, throughput, validation metrics)
    RUN/summary.json         final, best and test metrics, times, device, versions
    RUN/curves.png           loss and metric curves
    RUN/checkpoints/last.pt  the full state after the latest evaluation / periodic save (resume from here)
    RUN/checkpoints/best.pt  the same at the best value of --monitor

Systems read runs through `RunDir` (config, which system made it, the weights) and never spell these paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deeplearn.engine import checkpoint as ckpt
from deeplearn.paths import DataError

WEIGHTS = ("best", "last")


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.summary_path = self.path / "summary.json"
        self.curves_path = self.path / "curves.png"
        self.checkpoints = self.path / "checkpoints"
        self.last_path = self.checkpoints / "last.pt"
        self.best_path = self.checkpoints / "best.pt"
        self._config: dict | None = None

    def __str__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:  # other files of a system: RUN / "evaluate.json"
        return self.path / name

    # --- what the run is ---
    @property
    def config(self) -> dict:
        if self._config is None:
            if not self.config_path.exists():
                raise DataError(f"{self.path} is not a run directory (no config.json)")
            try:
                self._config = json.loads(self.config_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise DataError(f"{self.config_path} is not readable JSON ({e})") from None
        return self._config

    @property
    def system(self) -> str:
        """The system that made the run (runs from before the key existed: told apart by their meta)."""
        cfg = self.config
        if cfg.get("system"):
            return cfg["system"]
        return "text" if "vocab" in cfg.get("meta", {}) else "supervised"

    def require_system(self, *names: str) -> "RunDir":
        if self.system not in names:
            raise DataError(f"{self.path} is a {self.system} run; this command needs a {' or '.join(names)} run")
        return self

    @property
    def summary(self) -> dict | None:
        """summary.json of a finished run, or None."""
        if not self.summary_path.exists():
            return None
        return json.loads(self.summary_path.read_text())

    def write_summary(self, summary: dict) -> None:
        from deeplearn.engine.logger import write_json

        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.summary_path, summary)

    def exists(self) -> bool:
        return self.config_path.exists()

    def has_checkpoint(self) -> bool:
        return self.last_path.exists()

    # --- its weights ---
    def checkpoint_path(self, which: str = "best") -> Path:
        """`best` falls back to `last` (a run that never evaluated has no best)."""
        if which not in WEIGHTS:
            raise DataError(f"weights {which!r}: choose best or last")
        for name in ([which] if which == "last" else [which, "last"]):
            p = self.checkpoints / f"{name}.pt"
            if p.exists():
                return p
        raise DataError(f"{self.path}: no checkpoint in {self.checkpoints} (the run stopped before its first save)")

    def load_checkpoint(self, which: str = "best", map_location="cpu") -> dict:
        try:
            return ckpt.load(self.checkpoint_path(which), map_location=map_location)
        except ckpt.CheckpointError as e:
            raise DataError(str(e)) from None

    def model_state(self, which: str = "best") -> dict:
        return self.load_checkpoint(which)["model"]

    # --- writing (replica 0) ---
    def write_config(self, system: str | None, train: dict, task: dict, meta: dict,
                     resumes: list | None = None) -> None:
        """config.json: what the run is now; `resumes` records each resume's step and changed options."""
        from deeplearn.engine.logger import write_json

        self.path.mkdir(parents=True, exist_ok=True)
        self._config = {"system": system, "train": train, "task": task, "meta": meta}
        if resumes:
            self._config["resumes"] = resumes
        write_json(self.config_path, self._config)
