from __future__ import annotations

import time

import pytest

from deeplearn.paths import DataError
from deeplearn.premises import printer
from deeplearn.premises.features import Vocabulary, features, symbols, tokenize
from deeplearn.premises.tptp import (Assoc, Atom, Binary, Clause, Eq, Fn, Not, Quant, TPTPSyntaxError, Var,
                                     parse, parse_file, parse_formula)


def test_roundtrip_every_corpus_formula(mptp):
    t0 = time.perf_counter()
    formulas = list(mptp.formulas.values())
    assert len(formulas) == 4564
    for a in formulas:
        text = printer.annotated(a)
        again = parse_formula(text)
        assert again == a, a.name
        assert printer.annotated(again) == text
    assert time.perf_counter() - t0 < 30


def test_ast_shapes():
    a = parse_formula("fof(x, axiom, ! [A, B] : ((p(A) & q(B) & r) => (~ (A = f(B, 2)) | A != c))).")
    q = a.formula
    assert isinstance(q, Quant) and q.q == "!" and q.vars == ("A", "B")
    assert isinstance(q.body, Binary) and q.body.op == "=>"
    assert q.body.left == Assoc("&", (Atom("p", (Var("A"),)), Atom("q", (Var("B"),)), Atom("r")))
    right = q.body.right
    assert right == Assoc("|", (Not(Eq(Var("A"), Fn("f", (Var("B"), Fn("2"))))), Eq(Var("A"), Fn("c"), True)))


def test_nested_associative_kept_apart():
    flat = parse_formula("fof(x, axiom, a & b & c).").formula
    nested = parse_formula("fof(x, axiom, (a & b) & c).").formula
    assert flat != nested
    assert parse_formula(f"fof(x, axiom, {printer.formula(nested)}).").formula == nested


def test_cnf_and_annotations():
    (c,) = parse("cnf(c1, negated_conjecture, ~ p(X) | q(X, a) | X != a, file('x.p', c1), [status(thm)]).")
    assert c.language == "cnf" and isinstance(c.formula, Clause) and len(c.formula.literals) == 3
    assert parse(printer.annotated(c))[0] == c


@pytest.mark.parametrize("text,line,col", [
    ("fof(a, axiom, p(X)).\nfof(b, axiom, (p & q) => ).", 2, 26),  # missing right operand
    ("fof(a, axiom, p(a)).\n\n  fof(b, axiom, p # q).", 3, 19),  # bad character
    ("fof(a, axiom, X).", 1, 16),  # a variable is not a formula
    ("fof(a, axiom, p(a)", 1, 19),  # truncated
])
def test_syntax_errors_name_line_and_column(text, line, col):
    with pytest.raises(TPTPSyntaxError) as e:
        parse(text, "prob.p")
    assert (e.value.line, e.value.column) == (line, col)
    assert str(e.value).startswith(f"prob.p:{line}:{col}: ")
    assert isinstance(e.value, DataError)  # the CLI prints these cleanly


def test_include_expansion(tmp_path):
    (tmp_path / "Axioms").mkdir()
    (tmp_path / "Axioms" / "set.ax").write_text("fof(ax1, axiom, p(a)).\nfof(ax2, axiom, q(a)).\n")
    (tmp_path / "prob.p").write_text("include('Axioms/set.ax', [ax2]).\nfof(c, conjecture, q(a)).\n")
    names = [a.name for a in parse_file(tmp_path / "prob.p")]
    assert names == ["ax2", "c"]
    (tmp_path / "bad.p").write_text("include('Axioms/none.ax').\n")
    with pytest.raises(DataError, match="none.ax"):
        parse_file(tmp_path / "bad.p")


def test_features_and_tokens():
    a = parse_formula("fof(x, axiom, ! [A] : (r2_hidden(A, k1_xboole_0) => A = k2_xboole_0(A, A))).")
    assert symbols(a) == {"r2_hidden", "k1_xboole_0", "k2_xboole_0"}
    assert {"k2_xboole_0(_,_)", "r2_hidden(_,k1_xboole_0)", "k1_xboole_0"} <= features(a)
    b = parse_formula("fof(y, axiom, ! [Z] : (r2_hidden(Z, k1_xboole_0) => Z = k2_xboole_0(Z, Z))).")
    assert tokenize(a) == tokenize(b)  # alpha-equivalent formulas, the same tokens
    assert tokenize(a)[:6] == ["!", "[", "V0", "]", ":", "("]
    vocab = Vocabulary(tokenize(a))
    assert vocab.encode(["r2_hidden", "unseen"])[1] == 1 and vocab.encode(["r2_hidden"])[0] > 1
