"""TPTP (FOF and CNF, as MPTP and users write them) into a small AST.

The grammar follows the TPTP syntax BNF (v7) for the first-order parts: `fof(name, role, formula[, annotations]).`,
`cnf(...)`, and `include('file'[, [names]]).`. It is parsed with lark's LALR parser and an inline transformer, so no
parse tree is built (all 4,564 MPTP2078 formulas parse in under two seconds here). Errors become `TPTPSyntaxError`
naming the file, line and column; so does a role outside the TPTP role list and a file that is not UTF-8.

The LALR parser is a loop over an explicit stack, so nesting depth is bounded by memory, not by Python's
recursion limit (terms 10,000 deep parse; the printer and the feature extraction are iterative too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from lark import Lark, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from deeplearn.paths import DataError

# ----------------------------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Fn:
    """A function application; constants, numerals, "distinct objects" and $-words have no arguments."""

    name: str
    args: tuple = ()


Term = Union[Var, Fn]


@dataclass(frozen=True)
class Atom:
    """A predicate application; `$true` and `$false` are atoms with no arguments."""

    pred: str
    args: tuple = ()


@dataclass(frozen=True)
class Eq:
    left: Term
    right: Term
    negated: bool = False  # `!=`


@dataclass(frozen=True)
class Not:
    arg: "Formula"


@dataclass(frozen=True)
class Assoc:
    """`&` or `|` over two or more operands (TPTP's associative connectives, kept flat as written)."""

    op: str
    args: tuple


@dataclass(frozen=True)
class Binary:
    """A non-associative connective: `=>`, `<=`, `<=>`, `<~>`, `~|`, `~&`."""

    op: str
    left: "Formula"
    right: "Formula"


@dataclass(frozen=True)
class Quant:
    q: str  # '!' or '?'
    vars: tuple  # variable names
    body: "Formula"


@dataclass(frozen=True)
class Clause:
    """A CNF clause: a disjunction of literals (Atom, Eq or Not(Atom)), its variables implicitly universal."""

    literals: tuple


Formula = Union[Atom, Eq, Not, Assoc, Binary, Quant, Clause]


@dataclass
class Annotated:
    """One `fof(...)`/`cnf(...)` line (its optional source/useful-info annotations are not kept)."""

    language: str  # 'fof' or 'cnf'
    name: str
    role: str
    formula: Formula
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # features computed once per formula

    def with_role(self, role: str) -> "Annotated":
        return Annotated(self.language, self.name, role, self.formula)


@dataclass(frozen=True)
class Include:
    path: str
    names: tuple | None = None


# The TPTP role list (the `<formula_role>` semantic rule of the TPTP v9 BNF). A role may carry a subrole after a
# hyphen in the full syntax (`axiom-local`); this parser's roles are plain lower words, checked against the list.
ROLES = frozenset({
    "axiom", "hypothesis", "definition", "assumption", "lemma", "theorem", "corollary", "conjecture",
    "negated_conjecture", "plain", "type", "interpretation", "fi_domain", "fi_functors", "fi_predicates",
    "unknown", "logic",
})

# ----------------------------------------------------------------------------------------------------------------
# Grammar

GRAMMAR = r"""
start: _input*
_input: fof_annotated | cnf_annotated | include

fof_annotated: "fof" "(" name "," LOWER_WORD "," fof_formula annotations ")" "."
cnf_annotated: "cnf" "(" name "," LOWER_WORD "," cnf_formula annotations ")" "."
include: "include" "(" SINGLE_QUOTED name_list? ")" "."
name_list: "," "[" [name ("," name)*] "]"
annotations: ("," general_term)*

?fof_formula: fof_unitary | fof_binary
?fof_binary: fof_unitary BINARY_CONN fof_unitary        -> binary
           | fof_unitary ("|" fof_unitary)+             -> or_
           | fof_unitary ("&" fof_unitary)+             -> and_
?fof_unitary: QUANTIFIER "[" var_list "]" ":" fof_unitary -> quantified
            | "~" fof_unitary                           -> not_
            | atomic
            | "(" fof_formula ")"
var_list: VARIABLE ("," VARIABLE)*

?atomic: plain_term                                     -> atom
       | term "=" term                                  -> eq
       | term "!=" term                                 -> neq

cnf_formula: disjunction | "(" disjunction ")"
disjunction: literal ("|" literal)*
?literal: atomic | "~" atomic -> not_

?term: VARIABLE                                         -> var
     | plain_term
?plain_term: functor ("(" term ("," term)* ")")?        -> fn
functor: LOWER_WORD | SINGLE_QUOTED | DOLLAR_WORD | NUMBER | DISTINCT_OBJECT

general_term: general_data (":" general_term)? | "[" [general_term ("," general_term)*] "]"
general_data: functor ("(" general_term ("," general_term)* ")")? | VARIABLE

name: LOWER_WORD | SINGLE_QUOTED | INTEGER_NAME

BINARY_CONN: "<=>" | "=>" | "<=" | "<~>" | "~|" | "~&"
QUANTIFIER: "!" | "?"
VARIABLE: /[A-Z][A-Za-z0-9_]*/
LOWER_WORD: /[a-z][A-Za-z0-9_]*/
DOLLAR_WORD: /\$\$?[a-z][A-Za-z0-9_]*/
SINGLE_QUOTED: /'(?:[^'\\]|\\.)+'/
DISTINCT_OBJECT: /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:\/[0-9]+)?/
INTEGER_NAME: /[0-9]+/

COMMENT: /%[^\n]*/
BLOCK_COMMENT: /\/\*(.|\n)*?\*\//
%import common.WS
%ignore WS
%ignore COMMENT
%ignore BLOCK_COMMENT
"""


class _Build(Transformer):
    """Builds the AST during parsing: lark's LALR parser calls these methods on each reduction (no tree)."""

    def start(self, items):
        return list(items)

    def name(self, items):
        return str(items[0])

    def functor(self, items):
        return str(items[0])

    def var(self, items):
        return Var(str(items[0]))

    def fn(self, items):
        return Fn(items[0], tuple(items[1:]))

    def atom(self, items):
        return Atom(items[0].name, items[0].args)

    def eq(self, items):
        return Eq(items[0], items[1])

    def neq(self, items):
        return Eq(items[0], items[1], negated=True)

    def not_(self, items):
        return Not(items[0])

    def binary(self, items):
        return Binary(str(items[1]), items[0], items[2])

    def or_(self, items):
        return Assoc("|", tuple(items))

    def and_(self, items):
        return Assoc("&", tuple(items))

    def var_list(self, items):
        return tuple(str(v) for v in items)

    def quantified(self, items):
        return Quant(str(items[0]), items[1], items[2])

    def disjunction(self, items):
        return Clause(tuple(items))

    def cnf_formula(self, items):
        return items[0]

    def general_term(self, items):
        return None  # annotations (source, useful info) are checked for syntax and dropped

    def general_data(self, items):
        return None

    def annotations(self, items):
        return None

    def name_list(self, items):
        return tuple(i for i in items if i is not None)

    def include(self, items):
        path = str(items[0])[1:-1]
        return Include(path, items[1] if len(items) > 1 else None)

    def fof_annotated(self, items):
        return Annotated("fof", items[0], _role(items[1]), items[2])

    def cnf_annotated(self, items):
        return Annotated("cnf", items[0], _role(items[1]), items[2])


class _BadRole(Exception):
    """Raised inside the parser on a role outside ROLES; `parse` turns it into a TPTPSyntaxError."""

    def __init__(self, token):
        self.token = token


def _role(token) -> str:
    if str(token) not in ROLES:
        raise _BadRole(token)
    return str(token)


_PARSER: Lark | None = None


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        # transformer= with LALR builds the AST while parsing, skipping the parse tree (about 2x faster).
        _PARSER = Lark(GRAMMAR, parser="lalr", transformer=_Build(), maybe_placeholders=False)
    return _PARSER


class TPTPSyntaxError(DataError):
    """A parse error; `line` and `column` are 1-based."""

    def __init__(self, source: str, line: int, column: int, message: str):
        self.source, self.line, self.column = source, line, column
        super().__init__(f"{source}:{line}:{column}: {message}")


def _expected(e: UnexpectedInput) -> str:
    exp = sorted(getattr(e, "expected", None) or getattr(e, "allowed", None) or [])
    return (", expected one of " + " ".join(exp[:8])) if exp else ""


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def parse(text: str, source: str = "<string>") -> list:
    """Parse TPTP text into a list of `Annotated` and `Include` items (includes are not expanded here)."""
    try:
        return _parser().parse(text)
    except _BadRole as e:
        raise TPTPSyntaxError(source, e.token.line, e.token.column,
                              f"unknown formula role {str(e.token)!r} (TPTP roles: {', '.join(sorted(ROLES))})") from None
    except UnexpectedCharacters as e:
        raise TPTPSyntaxError(source, e.line, e.column, f"unexpected character {text[e.pos_in_stream]!r}") from None
    except UnexpectedToken as e:
        if e.token.type == "$END":
            line, col = _end_position(text)
            raise TPTPSyntaxError(source, line, col, "unexpected end of input" + _expected(e)) from None
        raise TPTPSyntaxError(source, e.line, e.column, f"unexpected {str(e.token)[:30]!r}{_expected(e)}") from None
    except UnexpectedEOF as e:
        line, col = _end_position(text)
        raise TPTPSyntaxError(source, line, col, "unexpected end of input" + _expected(e)) from None


def parse_formula(text: str, source: str = "<string>") -> Annotated:
    """Parse exactly one `fof(...)`/`cnf(...)` line."""
    items = parse(text, source)
    if len(items) != 1 or not isinstance(items[0], Annotated):
        raise TPTPSyntaxError(source, 1, 1, f"expected one annotated formula, found {len(items)} items")
    return items[0]


def include_dirs(path: Path) -> list[Path]:
    """Where `include('X')` is looked up: the including file's directory, its parents, then $TPTP."""
    dirs = [path.parent, *path.parent.parents]
    if os.environ.get("TPTP"):
        dirs.append(Path(os.environ["TPTP"]))
    return dirs


def decode(data: bytes, source: str = "<bytes>") -> str:
    """TPTP bytes as text: TPTP is ASCII, and UTF-8 is accepted (comments and quoted names may use it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise TPTPSyntaxError(source, line, column, f"byte 0x{data[e.start]:02x} is not UTF-8 text "
                              "(TPTP files are ASCII; re-save the file as ASCII or UTF-8)") from None


def read_text(path: Path) -> str:
    """A TPTP file's text (see `decode`); DataError naming the file when it cannot be read or decoded."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read TPTP file ({e.strerror or e})") from None
    return decode(data, str(path))


def parse_file(path: str | os.PathLike, _seen: tuple = ()) -> list[Annotated]:
    """Parse a TPTP file and expand its includes (recursively; a name list keeps only those formulas)."""
    path = Path(path)
    text = read_text(path)
    out: list[Annotated] = []
    for item in parse(text, str(path)):
        if isinstance(item, Annotated):
            out.append(item)
            continue
        target = next((d / item.path for d in include_dirs(path) if (d / item.path).is_file()), None)
        if target is None:
            raise DataError(f"{path}: included file {item.path!r} not found (looked beside the file, "
                            "in its parent directories and in $TPTP)")
        if target.resolve() in _seen:
            raise DataError(f"{path}: include cycle through {target}")
        included = parse_file(target, _seen + (path.resolve(),))
        if item.names is not None:
            keep = set(item.names)
            included = [f for f in included if f.name in keep]
        out.extend(included)
    return out

