"""A cache of decoded arrays (e.g. 60k JPEGs decoded once), keyed by the source file's size and mtime.

It lives in $DEEPLEARN_CACHE or ~/.cache/deeplearn, because the data root may be read-only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np


def cache_dir() -> Path:
    return Path(os.environ.get("DEEPLEARN_CACHE", Path.home() / ".cache" / "deeplearn"))


def cached_array(source: Path, part: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    st = Path(source).stat()
    key = hashlib.sha1(f"{Path(source).resolve()}|{st.st_size}|{st.st_mtime_ns}|{part}".encode()).hexdigest()[:16]
    path = cache_dir() / f"{Path(source).stem}-{part}-{key}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt
    arr = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # no writable cache: decode again next time
    return arr
