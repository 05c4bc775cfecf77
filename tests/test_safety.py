"""Safety (issue 13, problem 7): data files are read without running code from them, and no error message
advises turning a safety check off."""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplearn.paths import DataError
from deeplearn.safe_pickle import load_error_reason, load_restricted
from deeplearn.supervised.data import load, load_npz

REPO = Path(__file__).resolve().parents[1]


def _py2_str(b: bytes) -> bytes:
    """A Python 2 `str` as cPickle protocol 2 writes it (SHORT_BINSTRING / BINSTRING)."""
    return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b


def _int(v: int) -> bytes:
    return b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v)


def py2_cifar_batch(data: np.ndarray, labels: list[int], label: bytes = b"training batch 1 of 5") -> bytes:
    """A CIFAR-10 python batch byte for byte in the layout of the official files (Python 2 cPickle, protocol 2,
    NumPy 1.x): a dict of py2 strs, the image array rebuilt by numpy.core.multiarray._reconstruct."""
    n = len(data)
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _int(0) + b"\x85" + _py2_str(b"b")
             + b"\x87R" + b"(" + _int(1) + _int(n) + _int(3072) + b"\x86"
             + b"cnumpy\ndtype\n" + _py2_str(b"u1") + _int(0) + _int(1) + b"\x87R"
             + b"(" + _int(3) + _py2_str(b"|") + b"NNN" + _int(-1) + _int(-1) + _int(0) + b"tb"
             + b"\x89" + _py2_str(data.tobytes()) + b"tb")
    items = (_py2_str(b"data") + array
             + _py2_str(b"labels") + b"](" + b"".join(_int(v) for v in labels) + b"e"
             + _py2_str(b"batch_label") + _py2_str(label)
             + _py2_str(b"filenames") + b"](" + b"".join(_py2_str(b"img_%d.png" % i) for i in range(n)) + b"e")
    return b"\x80\x02}(" + items + b"u."


def cifar_dir(root: Path, n: int = 4) -> tuple[Path, dict]:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, n)]
        (d / name).write_bytes(py2_cifar_batch(x, y))
        batches[name] = (x, y)
    return d, batches


def test_official_layout_is_read_and_equals_plain_pickle(tmp_path):
    d, batches = cifar_dir(tmp_path)
    with open(d / "test_batch", "rb") as f:  # the trusted oracle on our own benign file
        ref = pickle.load(f, encoding="bytes")
    assert load_restricted(d / "test_batch", encoding="bytes").keys() == ref.keys()
    data = load("cifar10", str(tmp_path))
    x, y = batches["test_batch"]
    assert torch.equal(data.x_test, torch.from_numpy(ref[b"data"].reshape(-1, 3, 32, 32)))
    assert data.y_test.tolist() == y == ref[b"labels"]
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_train.dtype == torch.uint8


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_batches_pickled_by_python3_numpy2_are_read(tmp_path, protocol):
    x = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": x, b"labels": [1, 2]}, protocol=protocol))
    b = load_restricted(path)
    assert np.array_equal(b[b"data"], x) and b[b"labels"] == [1, 2]


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_planted_pickle_runs_no_code_and_names_the_file(tmp_path):
    d, _ = cifar_dir(tmp_path)
    marker = tmp_path / "PWNED"
    (d / "data_batch_3").write_bytes(pickle.dumps({b"data": _System(f"touch {marker}"), b"labels": []}, protocol=2))
    with pytest.raises(DataError) as e:
        load("cifar10", str(tmp_path))
    assert not marker.exists()
    assert str(e.value).startswith(f"{d / 'data_batch_3'}: not a CIFAR-10 python batch: it asks for posix.system")


class _Eval:
    def __reduce__(self):
        return (eval, ("1",))


class _Codec:
    def __reduce__(self):
        return (__import__("codecs").encode, ("x", "rot13"))


@pytest.mark.parametrize("payload,message", [
    (pickle.dumps(_Eval(), protocol=2), "it asks for __builtin__.eval"),
    (pickle.dumps(_Eval(), protocol=4), "it asks for builtins.eval"),
    (pickle.dumps(_Codec(), protocol=2), "only latin-1"),
    (pickle.dumps(np.array([1, "a"], dtype=object), protocol=2), "array of Python objects"),
    (b"\x80\x02(K\x01K\x02u.", "damaged pickle"),
    (b"", "empty (0 bytes)"),
    (b"\x80\x02P0\n.", "persistent ids"),
])
def test_everything_but_plain_data_is_refused(tmp_path, payload, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=re.escape(message)) as e:
        load_restricted(path, "CIFAR-10 python batch")
    assert str(e.value).startswith(str(path))


def test_a_batch_of_the_wrong_shape_is_named(tmp_path):
    d, _ = cifar_dir(tmp_path)
    (d / "test_batch").write_bytes(py2_cifar_batch(np.zeros((2, 3072), np.uint8), [3, 12]))
    with pytest.raises(DataError, match="test_batch: y_batch has labels 3..12, outside 0..9"):
        load("cifar10", str(tmp_path))


def test_npz_with_object_arrays_is_refused_without_unsafe_advice(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.array([None], dtype=object),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.int64))
    with pytest.raises(DataError) as e:
        load_npz(path, "mnist", list("0123456789"))
    assert "y_train" in str(e.value) and "dtype object" in str(e.value)
    path.write_bytes(pickle.dumps({"x": 1}))  # a pickle named .npz: NumPy would suggest unpickling it
    with pytest.raises(DataError) as e:
        load_npz(path, "mnist", list("0123456789"))
    assert "allow_pickle" not in str(e.value) and "pickle.load" not in str(e.value)


def _torch_load_error(path: Path) -> BaseException:
    try:
        torch.load(path, weights_only=True)
    except Exception as e:
        return e
    raise AssertionError("loaded")


def test_checkpoint_load_reasons_are_never_empty_and_never_unsafe(tmp_path):
    empty = tmp_path / "best.pt"
    empty.write_bytes(b"")
    e = _torch_load_error(empty)
    assert str(e) == ""  # torch says nothing for a 0-byte file
    assert "empty (0 bytes)" in load_error_reason(empty, e)

    evil = tmp_path / "evil.pt"
    torch.save({"x": _System("true")}, evil)
    e = _torch_load_error(evil)
    assert "weights_only" in str(e)  # torch's own message advises turning the check off
    reason = load_error_reason(evil, e)
    assert "posix.system" in reason and "weights_only" not in reason and "trusted" not in reason

    good = tmp_path / "last.pt"
    torch.save({"x": torch.ones(3)}, good)
    torn = tmp_path / "torn.pt"
    torn.write_bytes(good.read_bytes()[:200])
    assert "truncated or corrupted" in load_error_reason(torn, _torch_load_error(torn))


def test_no_message_in_the_code_advises_turning_safety_off():
    for path in (REPO / "deeplearn").rglob("*.py"):
        text = path.read_text()
        for unsafe in ("weights_only=False", "allow_pickle=True", "pickle.load("):
            assert unsafe not in text, f"{path.relative_to(REPO)} mentions {unsafe}"
