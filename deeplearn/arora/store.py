"""A learned net on disk: learned.npz (per layer: positive and negative edges, encoder weights) and
learned.json (the learner's options, per-layer statistics, densities), both written atomically."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from deeplearn.arora.learn import LearnedLayer, LearnedNet, LearnOptions
from deeplearn.arora.model import _atomic_json, _atomic_npz
from deeplearn.paths import DataError


def save_learned(net: LearnedNet, directory: str | Path) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for k, lay in enumerate(net.layers):
        arrays.update({f"{k}_pos": lay.pos, f"{k}_neg": lay.neg, f"{k}_w": lay.dec_w, f"{k}_b": lay.dec_b})
    _atomic_npz(d / "learned.npz", **arrays)
    _atomic_json(d / "learned.json", {"options": asdict(net.options), "seconds": net.seconds,
                                      "layers": [{"units": l.m, "density": l.density, "stats": l.stats}
                                                 for l in net.layers]})


def load_learned(directory: str | Path) -> LearnedNet:
    d = Path(directory)
    if not (d / "learned.npz").is_file() or not (d / "learned.json").is_file():
        raise DataError(f"{d}: no learned.npz / learned.json; run `deeplearn arora learn DATA --out {d}`")
    meta = json.loads((d / "learned.json").read_text())
    layers = []
    with np.load(d / "learned.npz") as z:
        for k, info in enumerate(meta["layers"]):
            layers.append(LearnedLayer(z[f"{k}_pos"], z[f"{k}_neg"], info["density"], info["stats"],
                                       z[f"{k}_w"], z[f"{k}_b"]))
    return LearnedNet(layers, LearnOptions(**meta["options"]), meta["seconds"])
