"""TPTP conformance (issue 13, problems 4 and 8): the role list, several CNF negated conjectures, deep nesting
without RecursionError, non-UTF-8 files."""

from __future__ import annotations

import pytest

from deeplearn.paths import DataError
from deeplearn.premises import evaluate, printer
from deeplearn.premises.corpus import load_tptp_dir, load_tptp_problem
from deeplearn.premises.features import features, symbols, tokenize
from deeplearn.premises.prover import run_e
from deeplearn.premises.tptp import Fn, TPTPSyntaxError, parse, parse_file, parse_formula

DEPTH = 10_000
# <formula_role> of the TPTP v9.0.0 BNF (written out here, independently of the parser's own list)
TPTP_ROLES = ("axiom hypothesis definition assumption lemma theorem corollary conjecture negated_conjecture plain "
              "type interpretation fi_domain fi_functors fi_predicates unknown logic").split()


def test_unknown_role_names_file_line_column_and_role():
    text = "fof(a1, axiom, p(a)).\n\nfof(a2, axoim, q(a)).\n"
    with pytest.raises(TPTPSyntaxError) as e:
        parse(text, "prob.p")
    assert (e.value.line, e.value.column) == (3, 9)
    assert str(e.value).startswith("prob.p:3:9: unknown formula role 'axoim'")
    assert "negated_conjecture" in str(e.value)  # lists the legal roles
    with pytest.raises(TPTPSyntaxError, match="unknown formula role 'lemmas'"):
        parse("cnf(c, lemmas, p | q).")


@pytest.mark.parametrize("role", TPTP_ROLES)
def test_every_tptp_role_is_accepted(role):
    (a,) = parse(f"fof(x, {role}, p).\n")
    assert a.role == role and parse(printer.annotated(a))[0] == a


CNF_TWO_GOALS = """% the negation of  ! [X] : (p(X) => r(X))  skolemized: two clauses
cnf(a1, axiom, ~ p(X) | q(X)).
cnf(a2, axiom, ~ q(X) | r(X)).
cnf(a3, axiom, s(b)).
cnf(g1, negated_conjecture, p(sk0)).
cnf(g2, negated_conjecture, ~ r(sk0)).
"""


def test_several_cnf_negated_conjectures_are_one_goal(tmp_path):
    (tmp_path / "two.p").write_text(CNF_TWO_GOALS)
    prob = load_tptp_problem(tmp_path / "two.p")
    assert [g.name for g in prob.goals] == ["g1", "g2"]
    assert [a.name for a in prob.premises] == ["a1", "a2", "a3"]  # no goal clause among the premises
    assert prob.name == "g1" and symbols(prob.conjecture) == {"p", "r", "sk0"}  # rankers see every goal symbol
    text = evaluate.selection_text(prob, ["a1", "a2"])
    assert text.splitlines()[-2:] == ["cnf(g1, negated_conjecture, p(sk0)).",
                                      "cnf(g2, negated_conjecture, ~ r(sk0))."]
    assert [a.name for a in parse(text)] == ["a1", "a2", "g1", "g2"]
    assert run_e(text, cpu_limit=2).status == "Unsatisfiable"  # E accepts and refutes it
    assert run_e(evaluate.selection_text(prob, ["a1"]), cpu_limit=2).status == "Satisfiable"
    corpus = load_tptp_dir(tmp_path)
    assert corpus.get("two").goals == prob.goals


def test_one_cnf_negated_conjecture_keeps_its_role(tmp_path):
    # E rejects a CNF clause with role `conjecture`; the goal must stay `negated_conjecture`.
    (tmp_path / "one.p").write_text("cnf(a1, axiom, ~ p(X) | q(X)).\ncnf(a2, axiom, p(a)).\n"
                                    "cnf(g, negated_conjecture, ~ q(a)).\n")
    prob = load_tptp_problem(tmp_path / "one.p")
    assert prob.goals is None
    text = evaluate.selection_text(prob, ["a1", "a2"])
    assert text.splitlines()[-1] == "cnf(g, negated_conjecture, ~ q(a))."
    assert run_e(text, cpu_limit=2).status == "Unsatisfiable"


def test_fof_keeps_exactly_one_conjecture(tmp_path):
    (tmp_path / "fof.p").write_text("fof(a, axiom, p).\nfof(c, conjecture, p).\n")
    prob = load_tptp_problem(tmp_path / "fof.p")
    assert prob.goals is None and prob.conjecture.name == "c"
    assert evaluate.selection_text(prob, ["a"]).splitlines()[-1] == "fof(c, conjecture, p)."
    (tmp_path / "two.p").write_text("fof(a, axiom, p).\nfof(c1, conjecture, p).\nfof(c2, conjecture, q).\n")
    with pytest.raises(DataError, match="expected exactly one conjecture, found 2"):
        load_tptp_problem(tmp_path / "two.p")
    (tmp_path / "mixed.p").write_text("fof(c1, conjecture, p).\ncnf(c2, negated_conjecture, q).\n")
    with pytest.raises(DataError, match="only as CNF negated_conjecture"):
        load_tptp_problem(tmp_path / "mixed.p")
    (tmp_path / "none.p").write_text("fof(a, axiom, p).\n")
    with pytest.raises(DataError, match="no conjecture"):
        load_tptp_problem(tmp_path / "none.p")


def _depth(t) -> int:
    d = 0
    while isinstance(t, Fn) and t.args:
        t, d = t.args[0], d + 1
    return d


@pytest.mark.parametrize("kind,text", [
    ("term", "fof(a, axiom, p(" + "f(" * DEPTH + "c" + ")" * DEPTH + "))."),
    ("cnf term", "cnf(a, axiom, ~ p(" + "f(" * DEPTH + "X" + ")" * DEPTH + ") | q)."),
    ("negation", "fof(a, axiom, " + "~ " * DEPTH + "p)."),
    ("quantifier", "fof(a, axiom, " + "! [X] : " * DEPTH + "p(X))."),
    ("implication", "fof(a, axiom, " + "(p => " * DEPTH + "p" + ")" * DEPTH + ")."),
])
def test_deep_nesting_parses_and_prints(kind, text):
    a = parse_formula(text)
    out = printer.annotated(a)
    assert printer.annotated(parse_formula(out)) == out  # the print re-parses to what prints the same
    if "term" in kind:
        atom = a.formula.literals[0].arg if kind == "cnf term" else a.formula
        assert _depth(atom.args[0]) == DEPTH
        assert "f(" * DEPTH + ("X" if kind == "cnf term" else "c") + ")" * DEPTH in out
    assert tokenize(a) and symbols(a) and features(a)  # the rankers' views are iterative too


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.p"
    path.write_bytes("fof(a, axiom, p).\n% Gödel\nfof(c, conjecture, p).\n".encode("latin-1"))
    with pytest.raises(DataError) as e:
        parse_file(path)
    assert str(e.value).startswith(f"{path}:2:4: byte 0xf6 is not UTF-8")
    path.write_bytes("fof(a, axiom, p).\n% Gödel\n".encode("utf-8"))  # UTF-8 comments are fine
    assert [a.name for a in parse_file(path)] == ["a"]
