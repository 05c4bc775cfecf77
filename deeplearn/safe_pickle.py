"""Reading pickled data files without running code, and saying why a file could not be read.

The official CIFAR-10 "python version" batches are pickles (Python 2's cPickle, protocol 2) of one dict:
`{b"batch_label": bytes, b"labels": [int], b"data": uint8 ndarray N x 3072, b"filenames": [bytes]}`. A plain
`pickle.load` of a file in the data root would run whatever callable the file names (a planted `os.system`).
`load_restricted` admits only what that format holds: the containers and scalars pickle builds without any
global, plus the three NumPy globals an ndarray is rebuilt from (`_reconstruct`, `ndarray`, `dtype`), and
`_codecs.encode(s, "latin1")`, which Python 3 writes for bytes at protocol 2. Any other global is refused before
it is looked up, so nothing from the file runs.

`load_error_reason` turns the exceptions of torch/NumPy loaders into a reason for the user: never empty (a
0-byte file says so), and never passing on a library's advice to turn a safety check off (torch's hint to load
without weights-only mode, NumPy's hint to allow pickles).
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import re
from pathlib import Path

from deeplearn.paths import DataError


def _numpy_globals() -> dict[tuple[str, str], object]:
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
        from numpy._core.numeric import _frombuffer
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
        from numpy.core.numeric import _frombuffer
    return {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # as NumPy 1.x writes it (the CIFAR files)
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # as NumPy 2.x writes it
            # pickle protocol 5 (out-of-band buffers): np.frombuffer(bytes, dtype).reshape(shape, order)
            ("numpy.core.numeric", "_frombuffer"): _frombuffer, ("numpy._core.numeric", "_frombuffer"): _frombuffer}


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    """`_codecs.encode` as Python 3 uses it to pickle bytes at protocol 2; other codecs are refused."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise Refused(f"it asks for _codecs.encode with encoding {encoding!r} (only latin-1 bytes are allowed)")
    return codecs.encode(text, "latin-1", errors)


class Refused(pickle.UnpicklingError):
    """The pickle asks for something outside the allowed list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of plain data and NumPy arrays; everything else is refused."""

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self._allowed = _numpy_globals()
        self._allowed[("_codecs", "encode")] = _latin1_encode

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise Refused(f"it asks for {module}.{name}, which a data file of plain arrays never "
                                         "holds") from None

    def persistent_load(self, pid):
        raise Refused("it uses persistent ids, which a data file of plain arrays never holds")


def load_restricted(path: str | os.PathLike, what: str = "data file", encoding: str = "bytes"):
    """Unpickle `path` with `RestrictedUnpickler`.

    Args:
        path: the pickle file.
        what: what the file should be, for the message ("CIFAR-10 python batch").
        encoding: how Python 2 `str` objects are read (`bytes` keeps them as bytes, as the CIFAR-10 format wants).
    Returns:
        The unpickled object (plain containers, scalars, bytes/str, NumPy arrays and dtypes only).
    Raises:
        DataError: naming the file, when it cannot be read, is not a pickle, or asks for anything else; an
        object (dtype=object) array is refused too.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if not data:
        raise DataError(f"{path}: not a {what}: the file is empty (0 bytes)")
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except Refused as e:
        raise DataError(f"{path}: not a {what}: {e}; refused without running anything") from None
    except Exception as e:  # a damaged pickle raises EOFError, ValueError, TypeError, IndexError, ...
        raise DataError(f"{path}: not a {what} (damaged pickle: {type(e).__name__}: {e})") from None
    _refuse_object_arrays(obj, path, what)
    return obj


def _refuse_object_arrays(obj, path: Path, what: str) -> None:
    import numpy as np

    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, np.ndarray) and x.dtype.hasobject:
            raise DataError(f"{path}: not a {what}: it holds an array of Python objects (dtype {x.dtype})")
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)


# -------------------------------------------------------------------------------------------------------------
# Reasons for load errors

# Sentences of torch's and NumPy's messages that advise disabling a safety check, and the doc pointers around them.
_UNSAFE_ADVICE = re.compile(r"[^.\n]*(weights_only|allow_pickle|pickle\.load\(\)|trusted source)[^.\n]*\.?", re.I)


def load_error_reason(path: str | os.PathLike, error: BaseException) -> str:
    """Why `torch.load`/`np.load` of `path` failed, for the user: never empty, never advice to turn safety off.

    Args:
        path: the file that was being loaded.
        error: the exception the loader raised.
    Returns:
        One line: e.g. "the file is empty (0 bytes): it was never written completely",
        "it holds Python objects other than tensors (posix.getcwd), which are never unpickled".
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size == 0:
        return "the file is empty (0 bytes): it was never written completely (a kill or a full disk while saving)"
    text = str(error)
    blocked = re.search(r"unsupported GLOBAL ([\w.]+)", text) or re.search(r"global '?([\w.]+)'? (?:is|was) not",
                                                                           text)
    if "Weights only load failed" in text or blocked:
        name = f" ({blocked.group(1)})" if blocked else ""
        return (f"it holds Python objects other than tensors and plain containers{name}, which deeplearn never "
                "unpickles (they could run code); it was not written by deeplearn")
    if "central directory" in text or "zip archive" in text or isinstance(error, EOFError):
        return f"the file is truncated or corrupted ({size} bytes; not a complete torch archive)"
    if "pickle" in text.lower() and ("allow_pickle" in text or "Object arrays" in text):
        return "it holds pickled Python objects, which deeplearn never loads"
    cleaned = " ".join(_UNSAFE_ADVICE.sub("", text).split())
    return cleaned or f"{type(error).__name__} while reading a {size}-byte file"
