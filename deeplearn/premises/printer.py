"""The AST back to TPTP text. Every compound operand of a connective is parenthesized, so the output re-parses
to the same AST (TPTP gives binary connectives no precedence: `a & b => c` needs no guess, but `(a & b) & c` and
`a & b & c` differ in the AST and must print differently)."""

from __future__ import annotations

from deeplearn.premises.tptp import Annotated, Assoc, Atom, Binary, Clause, Eq, Fn, Not, Quant, Var


def term(t) -> str:
    if isinstance(t, Var):
        return t.name
    if not t.args:
        return t.name
    return f"{t.name}({', '.join(term(a) for a in t.args)})"


def _unitary(f) -> str:
    """A formula as a TPTP unitary formula: bracketed unless it already is one (atom, negation, quantifier)."""
    s = formula(f)
    return f"({s})" if isinstance(f, (Assoc, Binary, Eq, Clause)) else s


def formula(f) -> str:
    if isinstance(f, Atom):
        return term(Fn(f.pred, f.args))
    if isinstance(f, Eq):
        return f"{term(f.left)} {'!=' if f.negated else '='} {term(f.right)}"
    if isinstance(f, Not):
        return f"~ {_unitary(f.arg)}"
    if isinstance(f, Assoc):
        return f" {f.op} ".join(_unitary(a) for a in f.args)
    if isinstance(f, Binary):
        return f"{_unitary(f.left)} {f.op} {_unitary(f.right)}"
    if isinstance(f, Quant):
        return f"{f.q} [{', '.join(f.vars)}] : {_unitary(f.body)}"
    if isinstance(f, Clause):
        # CNF literals are atoms, equations or negated atoms: never bracketed inside a clause.
        return " | ".join(_literal(lit) for lit in f.literals)
    raise TypeError(f"not a formula: {f!r}")


def _literal(lit) -> str:
    if isinstance(lit, Not):
        return f"~ {formula(lit.arg)}"
    return formula(lit)


def annotated(a: Annotated) -> str:
    """One TPTP line, e.g. `fof(t1_xboole_0, conjecture, ! [A] : p(A)).`"""
    return f"{a.language}({a.name}, {a.role}, {formula(a.formula)})."


def problem(conjecture: Annotated | None, premises: list[Annotated], header: str = "") -> str:
    """A TPTP problem: a comment header, the premises as axioms, the conjecture last with role `conjecture`."""
    lines = [f"% {line}" for line in header.splitlines()]
    lines += [annotated(p.with_role("axiom") if p.role == "conjecture" else p) for p in premises]
    if conjecture is not None:
        lines.append(annotated(conjecture.with_role("conjecture")))
    return "\n".join(lines) + "\n"
