"""Fuzzing the TPTP parser and printer (issue 13, problem 4/8): random ASTs round-trip through print and parse;
random bytes and mutated formulas give a DataError or a parse, never another exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deeplearn.paths import DataError
from deeplearn.premises import printer
from deeplearn.premises.features import features, tokenize
from deeplearn.premises.tptp import Annotated, Assoc, Atom, Binary, Clause, Eq, Fn, Not, Quant, Var, decode, parse

from fuzzing import fuzz

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_PRINTABLE = "".join(chr(c) for c in range(32, 127))

lower_word = st.builds(lambda a, b: a + b, st.sampled_from("abcfinpqxz"), st.text(_ALNUM, max_size=6))
variable = st.builds(lambda a, b: a + b, st.sampled_from("ABXYZ"), st.text(_ALNUM, max_size=4))
single_quoted = st.text(_PRINTABLE, min_size=1, max_size=6).map(
    lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'")
distinct = st.text(_PRINTABLE, max_size=6).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
number = st.from_regex(r"\A[+-]?[0-9]{1,3}(\.[0-9]{1,2})?([eE][+-]?[0-9])?(/[1-9][0-9]?)?\Z")
dollar = st.builds(lambda a, b: a + b, st.sampled_from(["$", "$$"]), lower_word)
functor = st.one_of(lower_word, lower_word, single_quoted, dollar, number, distinct)
name = st.one_of(lower_word, single_quoted, st.from_regex(r"\A[0-9]{1,4}\Z"))

terms = st.recursive(st.one_of(variable.map(Var), functor.map(Fn)),
                     lambda sub: st.builds(Fn, functor, st.lists(sub, min_size=1, max_size=3).map(tuple)),
                     max_leaves=12)
atoms = st.builds(Atom, functor, st.lists(terms, max_size=3).map(tuple))
equations = st.builds(Eq, terms, terms, st.booleans())
atomic = st.one_of(atoms, atoms, equations)
fof_formulas = st.recursive(
    atomic,
    lambda sub: st.one_of(
        st.builds(Not, sub),
        st.builds(Assoc, st.sampled_from("&|"), st.lists(sub, min_size=2, max_size=3).map(tuple)),
        st.builds(Binary, st.sampled_from(["=>", "<=", "<=>", "<~>", "~|", "~&"]), sub, sub),
        st.builds(Quant, st.sampled_from("!?"), st.lists(variable, min_size=1, max_size=3).map(tuple), sub),
    ),
    max_leaves=10,
)
literals = st.one_of(atomic, st.builds(Not, atomic))
clauses = st.builds(Clause, st.lists(literals, min_size=1, max_size=4).map(tuple))
roles = st.sampled_from(["axiom", "hypothesis", "conjecture", "negated_conjecture", "plain", "lemma", "unknown"])
annotated = st.one_of(st.builds(Annotated, st.just("fof"), name, roles, fof_formulas),
                      st.builds(Annotated, st.just("cnf"), name, roles, clauses))


@fuzz(100)
@given(st.lists(annotated, min_size=1, max_size=3))
def test_print_parse_round_trip(items):
    text = "\n".join(printer.annotated(a) for a in items) + "\n"
    again = parse(text, "fuzz.p")
    assert again == items
    assert "\n".join(printer.annotated(a) for a in again) + "\n" == text
    for a in again:
        assert tokenize(a) is not None and features(a) is not None


def _parse_or_data_error(text: str) -> None:
    try:
        items = parse(text, "fuzz.p")
    except DataError as e:
        assert str(e).startswith("fuzz.p:")
        return
    for a in items:
        if isinstance(a, Annotated):  # whatever parses, prints and re-parses to itself
            assert parse(printer.annotated(a)) == [a]


@fuzz(300)
@given(st.binary(max_size=200))
def test_random_bytes_give_data_error(data):
    try:
        text = decode(data, "fuzz.p")
    except DataError as e:
        assert str(e).startswith("fuzz.p:")
        return
    _parse_or_data_error(text)


_PIECES = list("fcnofaxim(),.[]!?:~&|=<>$'\"%/*\n XYp0123456789_-+") + [
    "fof(", "cnf(", "include(", "axiom", "conjecture", "=>", "<=>", "!=", "! [X] : "]
tptp_ish = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@fuzz(300)
@given(tptp_ish)
def test_random_tptp_like_text_gives_data_error_or_parses(text):
    _parse_or_data_error(text)


@fuzz(100)
@given(annotated, st.data())
def test_mutated_formulas_give_data_error_or_parse(a, data):
    text = printer.annotated(a)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 4)))
    insert = data.draw(st.text(st.sampled_from(list("()[],.~&|=!?:'\"$ Xa1%")), max_size=3))
    _parse_or_data_error(text[:i] + insert + text[j:])
