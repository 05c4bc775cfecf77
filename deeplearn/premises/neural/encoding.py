"""What the encoders read: a formula as a sequence of ids, at token level (symbols as tokens, variables `V0`,
`V1`, ... by first occurrence: `features.tokenize`) or at character level (the same normalized text, char by char).

Unseen units are hashed into `buckets` shared ids instead of one UNK: new Mizar articles bring new symbols, and
hashing keeps two different unseen symbols apart with high probability (a single UNK would make them equal).
Units seen fewer than `min_count` times in training are hashed too, so the bucket embeddings get trained.
Id layout: 0 padding, 1..buckets hash buckets, then the vocabulary.
"""

from __future__ import annotations

import uuid
import zlib
from collections import Counter
from typing import Iterable

from deeplearn.paths import DataError
from deeplearn.premises.features import tokenize
from deeplearn.premises.tptp import Annotated

LEVELS = ("token", "char")


def units(a: Annotated, level: str) -> list[str]:
    toks = tokenize(a)
    # joining tokens without spaces is unambiguous for TPTP: adjacent word tokens never occur without punctuation
    return toks if level == "token" else list("".join(toks))


class Encoding:
    def __init__(self, level: str, itos: list[str], buckets: int = 64, max_len: int = 192):
        if level not in LEVELS:
            raise DataError(f"unknown input level {level!r}; choose from {', '.join(LEVELS)}")
        self.level, self.itos, self.buckets, self.max_len = level, list(itos), buckets, max_len
        self.stoi = {u: i + 1 + buckets for i, u in enumerate(self.itos)}
        self._uid = uuid.uuid4().hex  # key of the ids cached on formulas (an id() could be reused)

    @classmethod
    def build(cls, formulas: Iterable[Annotated], level: str = "token", min_count: int = 2, buckets: int = 64,
              max_len: int = 192) -> "Encoding":
        counts: Counter = Counter()
        for a in formulas:
            counts.update(units(a, level))
        return cls(level, sorted(u for u, c in counts.items() if c >= min_count), buckets, max_len)

    @property
    def size(self) -> int:
        return 1 + self.buckets + len(self.itos)

    def bucket(self, unit: str) -> int:
        return 1 + zlib.crc32(unit.encode()) % self.buckets  # crc32: stable across processes (hash() is salted)

    def encode(self, a: Annotated) -> list[int]:
        """Ids of a formula, truncated to `max_len` (never empty: an empty formula cannot occur in TPTP)."""
        key = ("neural-ids", self._uid)
        ids = a.cache.get(key)
        if ids is None:
            ids = [self.stoi.get(u) or self.bucket(u) for u in units(a, self.level)[: self.max_len]]
            a.cache[key] = ids
        return ids

    def state(self) -> dict:
        return {"level": self.level, "itos": self.itos, "buckets": self.buckets, "max_len": self.max_len}

    @classmethod
    def from_state(cls, s: dict) -> "Encoding":
        return cls(s["level"], s["itos"], s["buckets"], s["max_len"])
