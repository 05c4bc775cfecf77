"""The prover loop's proof database: one JSON line per finished prover call, appended, flushed and fsync'd.

A record is an *attempt*: (round, problem, selection) -> E's status, and for a proof the premises it used and
the premises it was given. Written the moment its result is known, so a killed run loses only the calls that
were still running; a line cut by the kill is dropped on the next open (and the file truncated back to its
last complete line, so later lines never follow a fragment). An attempt that is already recorded is never
recorded again, so a resumed round re-plans its selections, skips the recorded ones and writes no duplicate.

From the attempts: distinct proofs per problem (by their used-premise sets), and training labels: a proof's
used premises are positives of its conjecture, the premises given in a proved selection but unused by every
proof are its negatives.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from deeplearn.paths import DataError


def selection_key(problem: str, names: Iterable[str]) -> str:
    """A selection's identity: the problem and the set of premises given (order does not matter)."""
    h = hashlib.sha256(problem.encode())
    for n in sorted(set(names)):
        h.update(b"\0" + n.encode())
    return h.hexdigest()[:32]


class ProofDB:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.attempts: dict[tuple[int, str, str], dict] = {}  # (round, problem, selection) -> record
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line cut by a kill: drop it, and cut the file back so appends start clean
            with open(self.path, "r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
        for lineno, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = (int(rec["round"]), rec["problem"], rec["selection"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise DataError(f"{self.path}:{lineno}: not a proof-database record") from None
            self.attempts.setdefault(key, rec)

    def has(self, round_: int, problem: str, selection: str) -> bool:
        return (round_, problem, selection) in self.attempts

    def add(self, rec: dict) -> bool:
        """Append one attempt (durably); False, and nothing written, when it is already recorded.

        A proof must use only premises it was given (`used` a subset of `given`); one that does not is stored
        as an error (E would have read a premise that was not in its input: a parse or bookkeeping fault)."""
        key = (int(rec["round"]), rec["problem"], rec["selection"])
        if key in self.attempts:
            return False
        if rec.get("proved"):
            stray = sorted(set(rec.get("used") or []) - set(rec.get("given") or []))
            if stray:
                rec = {**rec, "status": "Error", "proved": False, "used": None,
                       "detail": f"the proof cites premises it was not given: {', '.join(stray[:5])}"}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.attempts[key] = rec
        return True

    # views ------------------------------------------------------------------------------------------------
    def records(self, before_round: int | None = None) -> list[dict]:
        return [r for (rnd, _, _), r in self.attempts.items() if before_round is None or rnd < before_round]

    def proofs(self, before_round: int | None = None) -> dict[str, list[frozenset]]:
        """problem -> its distinct proofs (used-premise sets), in the order first found."""
        out: dict[str, list[frozenset]] = {}
        for r in self.records(before_round):
            if r.get("proved"):
                used = frozenset(r.get("used") or [])
                if used not in out.setdefault(r["problem"], []):
                    out[r["problem"]].append(used)
        return out

    def labels(self, before_round: int | None = None) -> dict[str, tuple[list[str], list[str]]]:
        """problem -> (positives: premises some proof used, negatives: given in a proved selection, never used).

        Negatives come from the smallest proved selections first (the premises every ranker put highest)."""
        pos: dict[str, dict] = {}
        given: dict[str, list[list[str]]] = {}
        for r in self.records(before_round):
            if r.get("proved"):
                pos.setdefault(r["problem"], {}).update(dict.fromkeys(r.get("used") or []))
                given.setdefault(r["problem"], []).append(r.get("given") or [])
        out = {}
        for pid, used in pos.items():
            negs = [n for g in sorted(given[pid], key=len) for n in g if n not in used]
            out[pid] = (list(used), list(dict.fromkeys(negs)))
        return out
