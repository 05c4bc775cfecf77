"""The data-set registry: every named data set a system reads (`--data NAME`), in the library layer.

Each entry is a loader `load(data_dir) -> data` registered with a `kind` ("images" for the supervised system;
other systems register their own kinds, e.g. "density" or "detection") and a one-line description; a
system's `--data` choices are the names of its kind.

    @DATASETS.register("mnist", kind="images", description="MNIST digits (IDX or npz)")
    def load_mnist(data_dir): ...
"""

from __future__ import annotations

from deeplearn.registry import Registry

DATASETS = Registry("data set", modules=["deeplearn.supervised.data"])


def names_of_kind(kind: str) -> list[str]:
    return [n for n in DATASETS.names() if DATASETS.info(n).get("kind") == kind]
