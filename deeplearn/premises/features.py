"""What rankers see of a formula: its symbols, MaSh-style features, and a token sequence for neural models.

* `symbols`: the function and predicate names (not variables, not `=`, not `$true`) - what SInE and MePo use.
* `features`: the symbols plus every non-variable subterm and atom with variables replaced by one placeholder,
  e.g. `k2_xboole_0(A, A)` -> `k2_xboole_0(_,_)` (MaSh's "symbols and subterms", Kühlwein et al. 2013).
* `tokenize`: the formula's TPTP print split into tokens, each variable renamed by the position of its first
  binding/occurrence (`V0`, `V1`, ...), so alpha-equivalent formulas give the same sequence.
All three are cached on the `Annotated` object: corpus formulas are shared between problems.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

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
