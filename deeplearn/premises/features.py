"""What rankers see of a formula: its symbols, MaSh-style features, and a token sequence for neural models.

* `symbols`: the function and predicate names (not variables, not `=`, not `$true`) - what SInE and MePo use.
* `features`: the symbols plus every non-variable subterm and atom with variables replaced by one placeholder,
  e.g. `k2_xboole_0(A, A)` -> `k2_xboole_0(_,_)` (MaSh's "symbols and subterms", Kühlwein et al. 2013).
* `tokenize`: the formula's TPTP print split into tokens, each variable renamed by the position of its first
  binding/occurrence (`V0`, `V1`, ...), so alpha-equivalent formulas give the same sequence.
All three are cached on the `Annotated` object: corpus formulas are shared between problems.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from typing import Iterable

import numpy as np

from deeplearn.premises import printer
from deeplearn.premises.tptp import Annotated, Assoc, Atom, Binary, Clause, Eq, Fn, Not, Quant, Var

_LOGICAL = {"$true", "$false"}  # defined propositions carry no relevance signal


def _subformulas(f):
    """Every atomic formula (Atom or Eq) of a formula."""
    stack = [f]
    while stack:
        g = stack.pop()
        if isinstance(g, (Atom, Eq)):
            yield g
        elif isinstance(g, Not):
            stack.append(g.arg)
        elif isinstance(g, Assoc):
            stack.extend(g.args)
        elif isinstance(g, Binary):
            stack.extend((g.left, g.right))
        elif isinstance(g, Quant):
            stack.append(g.body)
        elif isinstance(g, Clause):
            stack.extend(g.literals)


def _subterm_shapes(t) -> list[tuple[str, str]]:
    """(name, shape) of every non-variable subterm of `t`, shape with each variable replaced by `_`, e.g.
    `k2_xboole_0(_,_)`. Post-order over an explicit stack (each shape built once from its arguments' shapes), so
    deep terms raise no RecursionError."""
    out: list[tuple[str, str]] = []
    shapes: list[str] = []  # the shapes of the finished subterms, in order
    stack = [(t, False)]
    while stack:
        node, done = stack.pop()
        if isinstance(node, Var):
            shapes.append("_")
        elif not node.args:
            shapes.append(node.name)
            out.append((node.name, node.name))
        elif not done:
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args))
        else:
            args = shapes[len(shapes) - len(node.args):]
            del shapes[len(shapes) - len(node.args):]
            shape = f"{node.name}({','.join(args)})"
            shapes.append(shape)
            out.append((node.name, shape))
    return out


def _compute(a: Annotated) -> None:
    syms: set[str] = set()
    feats: set[str] = set()
    for atom in _subformulas(a.formula):
        if isinstance(atom, Atom):
            args = atom.args
            if atom.pred not in _LOGICAL:
                syms.add(atom.pred)
                feats.add(_subterm_shapes(Fn(atom.pred, args))[-1][1])
        else:
            args = (atom.left, atom.right)
        for t in args:
            for name, shape in _subterm_shapes(t):
                syms.add(name)
                feats.add(shape)
    a.cache["symbols"] = frozenset(syms)
    a.cache["features"] = frozenset(feats | syms)


def symbols(a: Annotated) -> frozenset:
    if "symbols" not in a.cache:
        _compute(a)
    return a.cache["symbols"]


def features(a: Annotated) -> frozenset:
    if "features" not in a.cache:
        _compute(a)
    return a.cache["features"]


_CACHE = operator.attrgetter("cache")


class Interned:
    """Formulas' id sets (their `features` or `symbols`) as one table of arrays, for the array versions of k-NN,
    SInE and the neural ranker's side features: every string gets an id (first-seen order), every formula a row
    (cached on it) whose ids sit in one flat array, so the ids of 4,500 candidates are gathered in one step."""

    def __init__(self, extract, name: str):
        self.extract, self._key = extract, f"interned-{name}"
        self.ids: dict[str, int] = {}
        self.names: list[str] = []  # id -> string
        self.formulas: list[Annotated] = []  # row -> formula
        self._parts: list[np.ndarray] = []  # row -> its ids
        self._arrays = None  # (flat ids, start of each row, length of each row), rebuilt when rows were added
        self._memo = (None, None)  # the last candidate list and its rows

    def of(self, a: Annotated) -> np.ndarray:
        """The ids of one formula (int64 array, cached on it)."""
        return self._parts[self.row(a)]

    def row(self, a: Annotated) -> int:
        r = a.cache.get(self._key)
        if r is None:
            r = a.cache[self._key] = len(self.formulas)
            self.formulas.append(a)
            self._parts.append(self.intern(self.extract(a)))
        return r

    def intern(self, strings: Iterable[str]) -> np.ndarray:
        """The ids of these strings (new ones get the next ids)."""
        out = []
        for x in strings:
            i = self.ids.get(x)
            if i is None:
                i = self.ids[x] = len(self.names)
                self.names.append(x)
            out.append(i)
        return np.array(out, dtype=np.int64)

    def rows(self, formulas) -> np.ndarray:
        """The rows of a list of formulas (the last list asked for is remembered: a ranking asks several times)."""
        last, rows = self._memo
        if last is not formulas or len(rows) != len(formulas):
            found = [c.get(self._key, -1) for c in map(_CACHE, formulas)]
            rows = np.array(found, dtype=np.int64)
            for i in np.flatnonzero(rows < 0).tolist():
                rows[i] = self.row(formulas[i])
            self._memo = (formulas, rows)
        return rows

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, owner, lengths) of these rows: their ids concatenated, the position in `rows` of each, counts."""
        if self._arrays is None or len(self._arrays[1]) != len(self._parts):
            lens = np.fromiter((len(x) for x in self._parts), dtype=np.int64, count=len(self._parts))
            starts = np.cumsum(lens) - lens
            flat = np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int64)
            self._arrays = (flat, starts, lens)
        flat, starts, all_lens = self._arrays
        lens = all_lens[rows]
        owner = np.repeat(np.arange(len(rows)), lens)
        pos = np.arange(int(lens.sum())) + np.repeat(starts[rows] - (np.cumsum(lens) - lens), lens)
        return flat[pos], owner, lens


def shared_entries(cids: np.ndarray, n_ids: int, flat: np.ndarray, owner: np.ndarray):
    """The entries of a gathered id list (`Interned.gather`'s flat ids and owners) whose id is among `cids` (a
    conjecture's): (their owners, their ids), in the list's order."""
    in_c = np.zeros(n_ids, dtype=bool)
    in_c[cids] = True
    hit = in_c[flat]
    return owner[hit], flat[hit]


class Column:
    """A value per row of an `Interned` table (`fn(formula)`, computed once per formula in plain Python)."""

    def __init__(self, table: Interned, fn):
        self.table, self.fn = table, fn
        self.values = np.zeros(0)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        have, n = len(self.values), len(self.table.formulas)
        if have < n:
            new = [self.fn(a) for a in self.table.formulas[have:n]]
            self.values = np.concatenate([self.values, np.array(new, dtype=np.float64)])
        return self.values[rows]


class WeightTable:
    """A weight per id of an `Interned` table and its square, each computed as the plain-Python code does
    (`w ** 2` or `w * w`), so the array versions add the very same terms; grows with the id table."""

    def __init__(self, table: Interned, weight, square):
        self.table, self.weight, self.square = table, weight, square  # string -> weight, weight -> its square
        self.w = np.zeros(0)
        self.w2 = np.zeros(0)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        names = self.table.names
        n, have = len(names), len(self.w)
        if have < n:
            new = [self.weight(f) for f in names[have:n]]
            self.w = np.concatenate([self.w, np.array(new, dtype=np.float64)])
            self.w2 = np.concatenate([self.w2, np.array([self.square(w) for w in new], dtype=np.float64)])
        return self.w, self.w2


FEATURES = Interned(features, "features")  # MaSh features: k-NN, the side features
SYMBOLS = Interned(symbols, "symbols")  # symbols: SInE


_TOKEN = re.compile(r"<=>|<~>|=>|<=|~\||~&|!=|[()\[\],:!?~&|=]|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s()\[\],:!?~&|=<]+")


def tokenize(a: Annotated | object) -> list[str]:
    """Model tokens of a formula (or of a bare AST node): symbols and connectives, variables as V0, V1, ..."""
    f = a.formula if isinstance(a, Annotated) else a
    text = printer.formula(f)
    names: dict[str, str] = {}
    out = []
    for tok in _TOKEN.findall(text):
        if tok[0].isupper():  # TPTP variables start with an upper-case letter
            tok = names.setdefault(tok, f"V{len(names)}")
        out.append(tok)
    if isinstance(a, Annotated):
        a.cache.setdefault("tokens", out)
    return out


class Vocabulary:
    """Token <-> id, built from training formulas; id 0 is padding, 1 is unknown."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, tokens: Iterable[str] = (), min_count: int = 1):
        counts = Counter(tokens)
        self.itos = [self.PAD, self.UNK] + sorted(t for t, c in counts.items() if c >= min_count)
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]
