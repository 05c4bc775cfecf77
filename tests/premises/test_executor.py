"""The prover executor: a real local Dask cluster (scheduler + two worker processes on loopback) gives the same
results as local processes; malformed or crashed E runs are error records, never proofs, and are not cached."""

from __future__ import annotations

import json
import os

import pytest

from deeplearn import cli
from deeplearn.paths import DataError
from deeplearn.premises import printer
from deeplearn.premises.executor import LocalExecutor, make_executor, run_jobs
from deeplearn.premises.prover import Job, ResultCache

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THEOREM = "fof(a1, axiom, ! [X] : (p(X) => q(X))).\nfof(a2, axiom, p(a)).\nfof(c, conjecture, q(a)).\n"
NON_THEOREM = "fof(a2, axiom, p(a)).\nfof(c, conjecture, q(a)).\n"


def mptp_jobs(mptp) -> list[Job]:
    """A handful of real problems: bushy (mostly provable in 1 s) and one cut to too few premises."""
    jobs = []
    for pid in ("MPT0142", "MPT0002", "MPT0010", "MPT0020"):
        p = mptp.get(pid)
        jobs.append(Job(printer.problem(p.conjecture, [mptp.formulas[n] for n in p.bushy]), {"problem": pid}))
    p = mptp.get("MPT0142")
    jobs.append(Job(printer.problem(p.conjecture, [mptp.formulas[n] for n in p.bushy[:1]]), {"problem": "cut"}))
    return jobs + [Job(THEOREM, {"problem": "toy"}), Job(NON_THEOREM, {"problem": "non"})]


def outcome(results):
    return [(r.meta["problem"], r.status, sorted(r.used) if r.used is not None else None) for r in results]


def test_dask_cluster_gives_the_local_results(mptp, monkeypatch, tmp_path):
    distributed = pytest.importorskip("distributed")
    # the worker processes import this checkout's deeplearn (the venv's installed copy may be another tree)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    jobs = mptp_jobs(mptp)
    local = run_jobs(jobs, 1, LocalExecutor(2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        addr = cluster.scheduler_address  # tcp://127.0.0.1:PORT
        ex = make_executor("dask://" + addr[len("tcp://"):])
        try:
            assert "2 workers" in ex.describe()
            cache = ResultCache(tmp_path / "cache.jsonl")
            seen = []
            remote = run_jobs(jobs, 1, ex, cache, on_result=lambda i, r: seen.append(i))
        finally:
            ex.close()
        # the commands take the same address: a loop round on a toy corpus, its E runs on the cluster
        toy = tmp_path / "toy"
        toy.mkdir()
        for i in range(5):
            (toy / f"T{i}.p").write_text(f"fof(p{i}, axiom, ! [X] : (r(X, s{i}) => q(X))).\n"
                                         f"fof(d{i}, axiom, w(s{i})).\nfof(t{i}, conjecture, r(a, s{i}) => q(a)).\n")
        run = tmp_path / "run"
        assert cli.main(["premises", "loop", "--tptp-dir", str(toy), "--out", str(run), "--rounds", "1",
                         "--rankers", "sine", "--cutoffs", "1", "--cpu-limit", "1",
                         "--executor", "dask://" + addr[len("tcp://"):]]) == 0
        row = json.loads((run / "rounds.jsonl").read_text())
        assert row["problems"] == 4 and row["proved"] == 4 and row["e_runs"] == 4
    assert outcome(remote) == outcome(local)
    assert sorted(seen) == list(range(len(jobs)))
    assert sum(r.proved for r in local) >= 4 and not remote[-1].proved  # real proofs, and a real non-proof
    again = run_jobs(jobs, 1, LocalExecutor(1), cache)  # everything the cluster ran is cached here
    assert all(r.cached for r in again) and outcome(again) == outcome(local)


def test_a_bad_executor_address_is_a_clear_error():
    with pytest.raises(DataError, match="expected 'local' or dask"):
        make_executor("spark://x:1")


@pytest.mark.parametrize("body,why", [
    ("echo '% SZS status Theorem'; echo \"fof(a1, axiom, p, file('x', a1)).\"", "without a complete proof object"),
    ("echo '% SZS status Theorem'; echo '% SZS output start'; kill -SEGV $$", "killed by signal"),
    ("echo 'Segmentation fault' >&2; exit 139", "no SZS status"),
    ("echo 'gibberish %% SZS stat'", "no SZS status"),
])
def test_malformed_or_crashed_e_is_an_error_record(fake_prover, tmp_path, body, why):
    path, calls = fake_prover(body)
    cache = ResultCache(tmp_path / "cache.jsonl")
    for _ in range(2):
        (r,) = run_jobs([Job(THEOREM, {"problem": "toy"})], 1, LocalExecutor(1), cache, prover=path)
        assert r.status == "Error" and not r.proved and r.used is None and why in r.detail
    assert calls.read_text().count("call") == 2  # errors are not cached: the second run called E again
