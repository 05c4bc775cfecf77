"""The AST back to TPTP text. Every compound operand of a connective is parenthesized, so the output re-parses
to the same AST (TPTP gives binary connectives no precedence: `a & b => c` needs no guess, but `(a & b) & c` and
`a & b & c` differ in the AST and must print differently).

Printing walks an explicit stack rather than recursing, so a term or formula nested 10,000 deep prints without
RecursionError: each node expands into a list of pieces, strings (emitted as they are) and (kind, node) pairs
(expanded in turn)."""

from __future__ import annotations

from deeplearn.premises.tptp import Annotated, Assoc, Atom, Binary, Clause, Eq, Fn, Not, Quant, Var

# piece kinds: a term, a formula, a unitary formula (bracketed unless atomic/negation/quantifier), a CNF literal
_TERM, _FORMULA, _UNITARY, _LITERAL = range(4)


def _joined(kind: int, nodes, sep: str) -> list:
    """Pieces for `nodes` of one kind separated by `sep`."""
    pieces: list = []
    for i, n in enumerate(nodes):
        if i:
            pieces.append(sep)
        pieces.append((kind, n))
    return pieces


def _application(name: str, args) -> list:
    return [name] if not args else [f"{name}(", *_joined(_TERM, args, ", "), ")"]


def _term_pieces(t) -> list:
    if isinstance(t, Var):
        return [t.name]
    return _application(t.name, t.args)


def _formula_pieces(f) -> list:
    if isinstance(f, Atom):
        return _application(f.pred, f.args)
    if isinstance(f, Eq):
        return [(_TERM, f.left), " != " if f.negated else " = ", (_TERM, f.right)]
    if isinstance(f, Not):
        return ["~ ", (_UNITARY, f.arg)]
    if isinstance(f, Assoc):
        return _joined(_UNITARY, f.args, f" {f.op} ")
    if isinstance(f, Binary):
        return [(_UNITARY, f.left), f" {f.op} ", (_UNITARY, f.right)]
    if isinstance(f, Quant):
        return [f"{f.q} [{', '.join(f.vars)}] : ", (_UNITARY, f.body)]
    if isinstance(f, Clause):
        # CNF literals are atoms, equations or negated atoms: never bracketed inside a clause.
        return _joined(_LITERAL, f.literals, " | ")
    raise TypeError(f"not a formula: {f!r}")


def _unitary_pieces(f) -> list:
    """A formula as a TPTP unitary formula: bracketed unless it already is one (atom, negation, quantifier)."""
    return ["(", (_FORMULA, f), ")"] if isinstance(f, (Assoc, Binary, Eq, Clause)) else [(_FORMULA, f)]


def _literal_pieces(lit) -> list:
    return ["~ ", (_FORMULA, lit.arg)] if isinstance(lit, Not) else [(_FORMULA, lit)]


_EXPAND = (_term_pieces, _formula_pieces, _unitary_pieces, _literal_pieces)


def _render(kind: int, node) -> str:
    out: list[str] = []
    stack: list = [(kind, node)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(_EXPAND[item[0]](item[1])))
    return "".join(out)


def term(t) -> str:
    return _render(_TERM, t)


def formula(f) -> str:
    return _render(_FORMULA, f)


def annotated(a: Annotated) -> str:
    """One TPTP line, e.g. `fof(t1_xboole_0, conjecture, ! [A] : p(A)).`"""
    return f"{a.language}({a.name}, {a.role}, {formula(a.formula)})."


def goal_lines(conjecture: Annotated, goals: list[Annotated] | None = None) -> list[Annotated]:
    """The lines a problem's goal prints as: a FOF conjecture with role `conjecture`; CNF goal clauses (`goals`,
    else the conjecture itself) each with role `negated_conjecture`, the only goal role of CNF (E rejects a CNF
    `conjecture`)."""
    if conjecture.language == "cnf":
        return [g.with_role("negated_conjecture") for g in (goals or [conjecture])]
    return [conjecture.with_role("conjecture")]


def problem(conjecture: Annotated | None, premises: list[Annotated], header: str = "",
            goals: list[Annotated] | None = None) -> str:
    """A TPTP problem: a comment header, the premises as axioms, the goal last (`goal_lines`).

    Args:
        conjecture: what is to be proved (FOF), or the combined CNF goal `corpus.Problem.conjecture`.
        premises: the premises in order; a premise with role `conjecture` is printed as an axiom.
        header: comment lines.
        goals: the CNF goal clauses as the file had them (`corpus.Problem.goals`), when there are several.
    Returns:
        The problem text, one formula a line.
    """
    lines = [f"% {line}" for line in header.splitlines()]
    lines += [annotated(p.with_role("axiom") if p.role == "conjecture" else p) for p in premises]
    if conjecture is not None:
        lines += [annotated(g) for g in goal_lines(conjecture, goals)]
    return "\n".join(lines) + "\n"
