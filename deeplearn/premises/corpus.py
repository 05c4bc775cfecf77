"""Problems for lemma selection: the MPTP2078 corpus (JSON Lines, see its README) or a directory of TPTP files.

A `Problem` is a conjecture, its candidate premises in order (chainy: everything before it in MML order), and,
where known, the Mizar dependencies (bushy) and the premises an ATP proof used (`deps`). Nothing here assumes
the corpus is complete: this copy holds 1,870 of the 2,078 problems, and ids have gaps.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from deeplearn.paths import DataError, data_root
from deeplearn.premises.tptp import Annotated, Assoc, parse_file, parse_formula


@dataclass
class Problem:
    id: str
    conjecture: Annotated
    premises: list[Annotated]  # candidate premises, in order (chainy)
    bushy: list[str] | None = None  # Mizar's dependency analysis, where known
    deps: list[str] | None = None  # premises used by an ATP proof, where known
    index: int = 0  # position in the corpus order (MML order for MPTP2078)
    info: dict = field(default_factory=dict)
    goals: list[Annotated] | None = None  # a CNF problem's negated_conjecture clauses, where there are several

    @property
    def name(self) -> str:
        return self.conjecture.name


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise DataError(f"{path}:{lineno}: bad JSON ({e.msg})") from None
    except (OSError, EOFError, zlib.error) as e:  # EOFError: a truncated .gz; zlib.error: a damaged one
        raise DataError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start} of a line)") from None
    return out


def proof_deps(rec: dict) -> list[str] | None:
    """The premises of one known proof: upstream `atp_deps`, else the shortest of our E proofs' `used`.

    One proof, not a union: a union of different proofs would count premises no single proof needs."""
    if rec.get("atp_deps"):
        return list(rec["atp_deps"])
    used = [p["used"] for p in rec.get("e_proofs") or [] if p.get("used")]
    return list(min(used, key=len)) if used else None


class Corpus:
    """A list of problems over a shared pool of named formulas."""

    def __init__(self, formulas: dict[str, Annotated], problems: list[Problem], root: Path | None = None):
        self.formulas, self.problems, self.root = formulas, problems, root
        self._by_id = {p.id: p for p in problems}

    def __len__(self) -> int:
        return len(self.problems)

    def get(self, key: str) -> Problem:
        """A problem by id (`MPT0002`) or by conjecture name (`t2_xboole_0`)."""
        if key in self._by_id:
            return self._by_id[key]
        for p in self.problems:
            if p.name == key or p.info.get("name") == key:
                return p
        raise DataError(f"no problem {key!r} in the corpus at {self.root}")


def mptp_dir(data_dir: str | os.PathLike | None = None) -> Path:
    root = data_root(data_dir)
    d = root / "mptp2078" if (root / "mptp2078").is_dir() else root
    if not (d / "problems.jsonl.gz").exists():
        raise DataError(f"{d}: no problems.jsonl.gz (expected the MPTP2078 corpus under <data root>/mptp2078)")
    return d


def load_mptp(data_dir: str | os.PathLike | None = None, limit: int | None = None) -> Corpus:
    """The MPTP2078 corpus in MML order; `limit` keeps the first problems only (for quick runs)."""
    d = mptp_dir(data_dir)
    precs = _read_jsonl(d / "problems.jsonl.gz")[:limit]
    frecs = _read_jsonl(d / "formulas.jsonl.gz")
    if limit is not None:  # parse only what the first problems can name (they come first in MML order)
        named = {n for r in precs for n in [r.get("conjecture"), *(r.get("chainy_premises") or [])]}
        frecs = [r for r in frecs if r.get("name") in named]
    formulas: dict[str, Annotated] = {}
    for r in frecs:
        try:
            formulas[r["name"]] = parse_formula(r["tptp"], f"{d / 'formulas.jsonl.gz'}[{r['name']}]")
        except KeyError as e:
            raise DataError(f"{d / 'formulas.jsonl.gz'}: record without {e}") from None
    problems = []
    for r in precs:
        try:
            premises = [formulas[n] for n in r["chainy_premises"]]
            conj = formulas[r["conjecture"]]
        except KeyError as e:
            raise DataError(f"{d / 'problems.jsonl.gz'}: problem {r.get('id')} names unknown formula {e}") from None
        problems.append(Problem(
            id=r["id"], conjecture=conj, premises=premises, bushy=r.get("bushy_premises"),
            deps=proof_deps(r), index=r.get("problem_index", len(problems)),
            info={"name": r.get("name"), "article": r.get("article"), "english": r.get("english")},
        ))
    return Corpus(formulas, problems, d)


def load_tptp_problem(path: str | os.PathLike, index: int = 0) -> Problem:
    """A TPTP problem file: one conjecture; every other formula (includes expanded) is a candidate premise."""
    path = Path(path)
    items = parse_file(path)
    goals = [a for a in items if a.role in ("conjecture", "negated_conjecture")]
    premises = [a for a in items if a.role not in ("conjecture", "negated_conjecture")]
    return Problem(id=path.stem, conjecture=goal_of(goals, path), premises=premises, index=index,
                   info={"path": str(path)}, goals=goals if len(goals) > 1 else None)


def goal_of(goals: list[Annotated], path: Path) -> Annotated:
    """The one formula rankers see as the conjecture of a problem file.

    FOF: exactly one `conjecture`. CNF: one or more `negated_conjecture` clauses (a refutation problem's goal is
    often several clauses, e.g. a negated universal statement skolemized into one clause per literal); several
    become one cnf formula, their conjunction, named after the first, so rankers see all their symbols (the
    printer writes them back as separate clauses from `Problem.goals`)."""
    if not goals:
        raise DataError(f"{path}: no conjecture (a FOF problem needs one `conjecture`, a CNF problem at least one "
                        "`negated_conjecture` clause)")
    if len(goals) == 1:
        return goals[0]
    if all(g.language == "cnf" and g.role == "negated_conjecture" for g in goals):
        return Annotated("cnf", goals[0].name, "negated_conjecture", Assoc("&", tuple(g.formula for g in goals)))
    kinds = ", ".join(f"{g.language} {g.name} ({g.role})" for g in goals)
    raise DataError(f"{path}: expected exactly one conjecture, found {len(goals)}: {kinds} (several goals are "
                    "allowed only as CNF negated_conjecture clauses)")


def load_tptp_dir(directory: str | os.PathLike, deps_file: str | None = None) -> Corpus:
    """Every `*.p` file of a directory, in name order; optional JSON `{problem: [used premise, ...]}` as deps."""
    directory = Path(directory)
    files = sorted(directory.glob("*.p"))
    if not files:
        raise DataError(f"{directory}: no *.p TPTP problem files")
    deps = {}
    if deps_file:
        try:
            deps = json.loads(Path(deps_file).read_text())
        except (OSError, ValueError) as e:  # ValueError: bad JSON or not UTF-8
            raise DataError(f"{deps_file}: cannot read proof dependencies ({e})") from None
    problems = [load_tptp_problem(f, i) for i, f in enumerate(files)]
    formulas: dict[str, Annotated] = {}
    for p in problems:
        p.deps = deps.get(p.id) or deps.get(p.name)
        for a in p.premises + [p.conjecture]:
            formulas.setdefault(a.name, a)
    return Corpus(formulas, problems, directory)
