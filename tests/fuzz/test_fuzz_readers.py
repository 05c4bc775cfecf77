"""Fuzzing the data readers (issue 13, problem 4/7): IDX, .npz, ImageFolder images, text files. Whatever the
bytes, a reader returns well-formed data or raises DataError naming the file; never another exception."""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st
from PIL import Image

from deeplearn.paths import DataError
from deeplearn.supervised.data import load_npz, read_idx
from deeplearn.supervised.imagefolder import ImageFolder
from deeplearn.text.data import EvalStreams, StreamSource, Vocab, read_text

from fuzzing import fuzz

SCRATCH = Path(tempfile.mkdtemp(prefix="deeplearn-fuzz-"))


def _write(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def _data_error(e: DataError, path: Path) -> None:
    """A reader's error names the file and never advises turning a safety check off."""
    assert str(path) in str(e)
    assert "allow_pickle" not in str(e) and "weights_only" not in str(e)


# IDX ----------------------------------------------------------------------------------------------------------

idx_headers = st.builds(
    lambda kind, dims, extra: b"\0\0" + bytes([kind, len(dims)]) + struct.pack(f">{len(dims)}i", *dims),
    st.sampled_from([0x08, 0x08, 0x08, 0x09, 0x0D]),
    st.lists(st.one_of(st.integers(0, 6), st.integers(-2**31, 2**31 - 1)), max_size=4),
    st.none(),
)


@fuzz(150)
@given(st.one_of(st.binary(max_size=64), st.builds(lambda h, p: h + p, idx_headers, st.binary(max_size=64))),
       st.booleans())
@example(b"\0\0\x08\x02\0\0\0\0\x80\0\0\0", False)  # found by the long run: a 0 and a negative dimension
@example(b"\0\0\x08\x01", False)  # found by the long run: the header ends before its dimensions
@example(b"\0\0\x08\x04\0\0\0\0\0\0\x02\0\x02\0\0\0 \0\0\0", False)  # second long run: 0 x 512 x 2^25 x 2^29
def test_idx_reader(data, gz):
    path = _write("x-idx3-ubyte.gz" if gz else "x-idx3-ubyte", gzip.compress(data) if gz else data)
    try:
        arr = read_idx(path)
    except DataError as e:
        _data_error(e, path)
        return
    ndim = data[3]
    dims = struct.unpack(f">{ndim}i", data[4:4 + 4 * ndim])
    assert arr.dtype == np.uint8 and arr.shape == dims and arr.tobytes() == data[4 + 4 * ndim:]


@fuzz(50)
@given(st.binary(max_size=64))
def test_idx_reader_on_broken_gzip(data):
    path = _write("y-idx1-ubyte.gz", gzip.compress(b"\0\0\x08\x01\0\0\0\x02ab")[:10] + data)
    try:
        read_idx(path)
    except DataError as e:
        _data_error(e, path)


# .npz ---------------------------------------------------------------------------------------------------------

DTYPES = [np.uint8, np.uint8, np.int64, np.int32, np.float32, np.bool_, object, "U3"]
arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).integers(0, 12, shape).astype(dtype),
    st.sampled_from(DTYPES),
    st.lists(st.integers(0, 5), max_size=4).map(tuple),
    st.integers(0, 2**16),
)
KEYS = ["x_train", "y_train", "x_test", "y_test", "other"]


@fuzz(150)
@given(st.dictionaries(st.sampled_from(KEYS), arrays, max_size=5), st.booleans(), st.binary(max_size=40))
def test_npz_reader(content, corrupt, junk):
    buf = io.BytesIO()
    np.savez(buf, **content)  # object arrays are pickled inside the .npz: the reader must refuse them
    data = buf.getvalue()
    if corrupt:
        cut = len(junk) % max(len(data), 1)
        data = data[:cut] + junk
    path = _write("d.npz", data)
    try:
        d = load_npz(path, "fuzz", [str(i) for i in range(10)])
    except DataError as e:
        _data_error(e, path)
        return
    for split in ("train", "test"):
        x, y = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
        assert x.dtype == torch.uint8 and x.ndim == 4 and y.dtype == torch.int64 and len(x) == len(y)
        assert bool(((y >= 0) & (y < 10)).all())
        src = content[f"x_{split}"]
        assert np.array_equal(x.numpy(), src[:, None] if src.ndim == 3 else src.transpose(0, 3, 1, 2))
        assert np.array_equal(y.numpy(), content[f"y_{split}"])


# ImageFolder --------------------------------------------------------------------------------------------------


def _folder(name: str, payload: bytes, ext: str) -> Path:
    root = SCRATCH / name
    (root / "c").mkdir(parents=True, exist_ok=True)
    for p in (root / "c").iterdir():
        p.unlink()
    (root / "c" / f"img{ext}").write_bytes(payload)
    return root


@fuzz(100)
@given(st.binary(max_size=200), st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp"]))
def test_imagefolder_random_bytes(data, ext):
    root = _folder("bytes", data, ext)
    try:
        x, label = ImageFolder(root, size=16, train=True)[0]
    except DataError as e:
        _data_error(e, root / "c" / f"img{ext}")
        return
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 16) and label == 0


@fuzz(100)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["1", "L", "P", "RGB", "RGBA", "I;16", "CMYK", "LA"]),
       st.sampled_from(["PNG", "GIF", "BMP", "TIFF", "JPEG"]), st.integers(0, 2**16), st.integers(0, 60))
def test_imagefolder_any_image_gives_a_crop(w, h, mode, fmt, seed, cut):
    px = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    img = Image.fromarray(px, "RGBA").convert(mode) if mode != "I;16" else Image.fromarray(px[..., 0].astype(np.uint16) * 257)
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # Pillow cannot write this mode in this format
    data = buf.getvalue()
    data = data[: len(data) - cut] if cut else data  # a truncated file must be an error, not a crash
    root = _folder("images", data, "." + fmt.lower())
    for train in (True, False):
        try:
            x, _ = ImageFolder(root, size=24, train=train)[0]
        except DataError as e:
            _data_error(e, root / "c" / f"img.{fmt.lower()}")
            assert cut or fmt == "JPEG" and mode in ("1", "P", "RGBA", "LA", "I;16"), e
            continue
        assert x.dtype == torch.uint8 and x.shape == (3, 24, 24)


# text ---------------------------------------------------------------------------------------------------------


@fuzz(150)
@given(st.one_of(st.binary(max_size=80), st.builds(lambda b: b"\x1f\x8b" + b, st.binary(max_size=40)),
                 st.text(max_size=40).map(lambda s: s.encode("utf-8")),
                 st.text(max_size=40).map(lambda s: gzip.compress(s.encode("utf-8"))),
                 st.builds(lambda s, i, junk: (lambda g: g[:i % len(g)] + junk + g[i % len(g) + len(junk):])(
                     gzip.compress(s.encode("utf-8"))), st.text(max_size=40), st.integers(0, 99),
                     st.binary(min_size=1, max_size=3))))
def test_text_reader(data):
    path = _write("t.txt", data)
    try:
        text = read_text(path)
    except DataError as e:
        _data_error(e, path)
        return
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert text == raw.decode("utf-8") and text and "\0" not in text


@fuzz(150)
@given(st.text(min_size=1, max_size=60))
def test_vocabulary_round_trip(text):
    v = Vocab.of(text)
    ids = v.encode(text)
    assert v.decode(ids) == text and int(ids.max()) < len(v)


@fuzz(150)
@given(st.integers(0, 300), st.integers(1, 9), st.integers(1, 40))
def test_eval_streams_predict_every_character_once(n, streams, seq_len):
    ids = torch.arange(n) % 7
    try:
        ev = EvalStreams(ids, streams, seq_len)
    except DataError:
        assert n < 2
        return
    pairs = []
    for x, y, _ in ev.iter_epoch():
        assert x.shape == y.shape and x.shape[1] <= seq_len
        pairs.append((x, y))
    xs = torch.cat([p[0] for p in pairs], 1)
    ys = torch.cat([p[1] for p in pairs], 1)
    keep = ys.reshape(-1) >= 0
    assert torch.equal(ys.reshape(-1)[keep], ids[1:]) and torch.equal(xs.reshape(-1)[keep], ids[:-1])


@fuzz(150)
@given(st.integers(0, 400), st.integers(-1, 8), st.integers(-1, 30), st.integers(0, 3))
def test_stream_source_batches_or_data_error(n, streams, seq_len, epoch):
    ids = torch.arange(n)
    try:
        src = StreamSource(ids, streams, seq_len, seed=1)
    except DataError:
        return
    batches = list(src.iter_epoch(epoch))
    assert len(batches) == src.batches_per_epoch() >= 1
    for x, y, _ in batches:
        assert x.shape == (streams, seq_len) and torch.equal(y, x + 1) and int(y.max()) < n


def test_decompression_bomb_header_is_refused(tmp_path):
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "big.png").write_bytes(png)
    with pytest.raises(DataError, match="big.png: refused, the image is too large"):
        ImageFolder(tmp_path, size=16)[0]


# CIFAR-10 python batches (restricted unpickler) ----------------------------------------------------------------

_BATCH = __import__("pickle").dumps({b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251,
                                     b"labels": [3, 7], b"batch_label": b"x"}, protocol=2)


@fuzz(100)
@given(st.one_of(st.binary(max_size=100),
                 st.builds(lambda i, junk: _BATCH[:i] + junk + _BATCH[i + len(junk):],
                           st.integers(0, len(_BATCH)), st.binary(min_size=1, max_size=4))))
def test_cifar_batch_reader(data):
    from deeplearn.safe_pickle import load_restricted
    from deeplearn.supervised.data import _cifar_batch

    path = _write("data_batch_1", data)
    try:
        x, y = _cifar_batch(path)
    except DataError as e:
        _data_error(e, path)
        return
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and len(y) == len(x)
    assert load_restricted(path) is not None
