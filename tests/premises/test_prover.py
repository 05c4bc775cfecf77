from __future__ import annotations

import json

import pytest

from deeplearn.premises import printer
from deeplearn.premises.prover import (Job, ProverError, ResultCache, parse_output, prove_many, prove_one, run_e)

THEOREM = """fof(a1, axiom, ! [X] : (p(X) => q(X))).
fof(a2, axiom, p(a)).
fof(a3, axiom, r(b)).
fof(c, conjecture, q(a)).
"""
NON_THEOREM = "fof(a2, axiom, p(a)).\nfof(c, conjecture, q(a)).\n"


def test_e_proves_a_tiny_theorem_and_names_its_premises():
    r = run_e(THEOREM, cpu_limit=1)
    assert r.status == "Theorem" and r.proved
    assert sorted(r.used) == ["a1", "a2"]  # not the unused a3, not the conjecture


def test_e_reports_countersatisfiable_for_a_non_theorem():
    r = run_e(NON_THEOREM, cpu_limit=1)
    assert r.status == "CounterSatisfiable" and not r.proved and r.used is None


def test_used_premises_of_a_real_mptp_proof(mptp, mptp_root):
    # MPT0142 (t58_enumset1) from its bushy premises; our earlier E 3.5.1 run recorded which premises it used.
    p = mptp.get("MPT0142")
    text = printer.problem(p.conjecture, [mptp.formulas[n] for n in p.bushy])
    r = run_e(text, cpu_limit=1)
    assert r.status == "Theorem"
    assert r.used and set(r.used) <= set(p.bushy) and p.name not in r.used
    recorded = [json.loads(line) for line in (mptp_root / "mptp2078" / "e_sample40.jsonl").read_text().splitlines()]
    rec = next(x for x in recorded if x["id"] == "MPT0142" and x["version"] == "bushy" and x["prover"].startswith("E3"))
    assert set(r.used) == set(rec["used"])


def test_parse_output_on_a_proof_object():
    out = """% SZS status Theorem
% SZS output start CNFRefutation
fof(c, conjecture, q(a), file('/tmp/x.p', c)).
fof(a1, axiom, ![X1]:((p(X1)=>q(X1))), file('/tmp/x.p', a1)).
fof('a 2', axiom, p(a), file('/tmp/x.p', 'a 2')).
fof(c_0_3, negated_conjecture, ~q(a), inference(fof_simplification,[status(thm)],[c])).
cnf(c_0_5, plain, (p(a)), inference(split_conjunct,[status(thm)],[a1])).
% SZS output end CNFRefutation
"""
    assert parse_output(out) == ("Theorem", ["a1", "'a 2'"])
    assert parse_output("%% SZS status ResourceOut\n") == ("ResourceOut", None)
    assert parse_output("garbage") == (None, None)


def test_missing_prover_is_a_clear_error(tmp_path):
    with pytest.raises(ProverError, match="missing or not executable"):
        run_e(THEOREM, 1, prover=str(tmp_path / "no-such-eprover"))


def test_crashing_prover_is_recorded_not_raised(fake_prover):
    path, _ = fake_prover('echo "segfault here" >&2; exit 139')
    r = run_e(THEOREM, 1, prover=path)
    assert r.status == "Error" and "segfault" in r.detail


def test_hanging_prover_is_killed_by_the_wall_clock(fake_prover):
    path, _ = fake_prover("sleep 30")
    r = run_e(THEOREM, 1, prover=path, wall_limit=0.5)
    assert r.status == "WallTimeout" and r.wall_s < 10


def test_cache_hit_skips_the_prover(fake_prover, tmp_path):
    path, calls = fake_prover("echo '% SZS status Theorem'; echo '% SZS output start'; "
                              "echo \"fof(a1, axiom, p, file('x', a1)).\"; echo '% SZS output end'")
    cache_file = tmp_path / "cache.jsonl"
    job = Job(THEOREM, {"problem": "toy"})
    first = prove_one(job, 1, ResultCache(cache_file), path)
    assert first.status == "Theorem" and not first.cached and calls.read_text().count("call") == 1
    again = prove_one(job, 1, ResultCache(cache_file), path)  # a fresh cache object reads the file
    assert again.cached and again.status == "Theorem" and again.used == ["a1"]
    assert calls.read_text().count("call") == 1  # the prover was not run again
    prove_one(job, 2, ResultCache(cache_file), path)  # another CPU limit is another key
    assert calls.read_text().count("call") == 2


def test_errors_are_not_cached(fake_prover, tmp_path):
    path, calls = fake_prover("exit 1")
    cache = ResultCache(tmp_path / "cache.jsonl")
    prove_one(Job(THEOREM, {}), 1, cache, path)
    prove_one(Job(THEOREM, {}), 1, cache, path)
    assert calls.read_text().count("call") == 2


def test_parallel_runner_keeps_job_order():
    jobs = [Job(THEOREM, {"i": 0}), Job(NON_THEOREM, {"i": 1}), Job(THEOREM, {"i": 2})]
    rs = prove_many(jobs, cpu_limit=1, workers=2)
    assert [r.meta["i"] for r in rs] == [0, 1, 2]
    assert [r.status for r in rs] == ["Theorem", "CounterSatisfiable", "Theorem"]


def test_cache_survives_a_line_cut_by_a_kill(fake_prover, tmp_path):
    path, calls = fake_prover("echo '% SZS status ResourceOut'")
    cache_file = tmp_path / "cache.jsonl"
    prove_one(Job(THEOREM, {}), 1, ResultCache(cache_file), path)
    with open(cache_file, "a") as fh:
        fh.write('{"key": "abc", "sta')  # a kill in the middle of a write
    prove_one(Job(NON_THEOREM, {}), 1, ResultCache(cache_file), path)  # appended after the fragment
    again = ResultCache(cache_file)
    assert prove_one(Job(THEOREM, {}), 1, again, path).cached and prove_one(Job(NON_THEOREM, {}), 1, again, path).cached
    assert calls.read_text().count("call") == 2
