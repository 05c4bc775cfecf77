"""Where data lives: `--data-dir`, else the DEEPLEARN_DATA environment variable."""

from __future__ import annotations

import os
from pathlib import Path


class DataError(Exception):
    """Bad or missing input data; the message names the file and the problem."""


def data_root(data_dir: str | os.PathLike | None = None, required: bool = True) -> Path | None:
    """The data root: the explicit argument, else $DEEPLEARN_DATA."""
    root = data_dir if data_dir is not None else os.environ.get("DEEPLEARN_DATA")
    if root is None:
        if required:
            raise DataError("no data root: pass --data-dir PATH or set DEEPLEARN_DATA")
        return None
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data root {root} is not a directory")
    return root

