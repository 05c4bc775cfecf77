"""A trained circuit in a run directory: `circuit.pt` (structure, parameters, what it was trained on) and
`spn.json` (the results), both written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from deeplearn.engine.checkpoint import save_atomic
from deeplearn.paths import DataError
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.graph import Graph

CIRCUIT_FILE, RESULTS_FILE = "circuit.pt", "spn.json"


def save_circuit(run_dir: Path, circuit: Circuit, info: dict) -> None:
    """Structure (graph dict), parameters (state dict) and `info` (data set, structure options...)."""
    save_atomic({"graph": circuit.graph_dict, "state": circuit.state_dict(), "info": info},
                Path(run_dir) / CIRCUIT_FILE)


def load_circuit(run_dir) -> tuple[Circuit, dict]:
    """The circuit of a run and its info. Raises DataError if RUN holds no trained circuit."""
    path = Path(run_dir) / CIRCUIT_FILE
    if not path.exists():
        raise DataError(f"{run_dir} holds no trained circuit ({CIRCUIT_FILE} is missing): train one with "
                        f"`deeplearn spn train --data NAME --out {run_dir}`")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or foreign file
        raise DataError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
    circuit = Circuit(Graph.from_dict(saved["graph"], str(path)))
    circuit.load_state_dict(saved["state"])
    return circuit, saved["info"]


def write_json_atomic(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_results(run_dir) -> dict:
    p = Path(run_dir) / RESULTS_FILE
    return json.loads(p.read_text()) if p.exists() else {}
