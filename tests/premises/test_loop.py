"""The prover loop (issue 19): the proof database survives a SIGKILL mid-round and resumes with no proof lost and
none duplicated; harvested premises are the problem's; the split-leak check fails when the split leaks; the
loop's model serves rank / select / prove / evaluate. Real E, short CPU limits, small problems."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deeplearn import cli
from deeplearn.paths import DataError
from deeplearn.premises.loop import check_no_leak
from deeplearn.premises.proofdb import ProofDB, selection_key

REPO = Path(__file__).resolve().parents[2]


def db_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def key(r: dict) -> tuple:
    return (r["round"], r["problem"], r["selection"])


# the proof database alone ------------------------------------------------------------------------------------


def attempt(rnd, pid, given, used=None, status="Theorem"):
    return {"round": rnd, "problem": pid, "selection": selection_key(pid, given), "status": status,
            "proved": used is not None, "used": used, "given": given if used is not None else None}


def test_db_drops_a_cut_line_and_never_records_an_attempt_twice(tmp_path):
    path = tmp_path / "proofs.jsonl"
    db = ProofDB(path)
    assert db.add(attempt(0, "P1", ["a", "b", "c"], ["a"]))
    assert not db.add(attempt(0, "P1", ["c", "b", "a"], ["b"]))  # the same premise set: already recorded
    assert db.add(attempt(0, "P2", ["a", "b"], status="ResourceOut"))
    with open(path, "a") as fh:
        fh.write('{"round": 0, "problem": "P3", "sel')  # what a kill in the middle of a write leaves
    db = ProofDB(path)
    assert sorted(k[1] for k in db.attempts) == ["P1", "P2"]
    assert path.read_text().endswith("}\n")  # cut back to the last whole line
    assert db.add(attempt(0, "P3", ["a"], ["a"]))
    assert [r["problem"] for r in db_lines(path)] == ["P1", "P2", "P3"]
    assert db.proofs() == {"P1": [frozenset({"a"})], "P3": [frozenset({"a"})]}


def test_db_labels_and_a_proof_citing_an_ungiven_premise(tmp_path):
    db = ProofDB(tmp_path / "proofs.jsonl")
    db.add(attempt(0, "P1", ["a", "b", "c", "d"], ["a", "b"]))
    db.add(attempt(1, "P1", ["a", "c"], ["a", "c"]))
    db.add(attempt(1, "P2", ["x", "y"], ["x", "z"]))  # z was not given: an error, not a proof
    assert db.attempts[(1, "P2", selection_key("P2", ["x", "y"]))]["status"] == "Error"
    pos, neg = db.labels()["P1"]
    assert set(pos) == {"a", "b", "c"} and neg == ["d"]  # given but used by no proof
    assert db.labels(before_round=1)["P1"] == (["a", "b"], ["c", "d"])
    assert "P2" not in db.labels() and len(db.proofs()["P1"]) == 2


# the split-leak check ----------------------------------------------------------------------------------------


def test_the_leak_check_fails_when_the_split_leaks():
    check_no_leak(["A", "B"], ["C"], ["A"], "x")
    with pytest.raises(DataError, match="test problems would be used"):
        check_no_leak(["A", "B"], ["C"], ["A", "C"], "x")
    with pytest.raises(DataError, match="both train and test"):
        check_no_leak(["A", "B"], ["B", "C"], ["A"], "x")


# a real loop on MPTP2078 problems, killed mid-round ----------------------------------------------------------


def loop_args(run: Path, cache: Path, mptp_root: Path) -> list[str]:
    return ["premises", "loop", "--out", str(run), "--data-dir", str(mptp_root), "--limit", "200", "--sample", "6",
            "--rounds", "1", "--rankers", "knn,sine", "--cutoffs", "16,32", "--cpu-limit", "1", "--workers", "1",
            "--cache", str(cache), "--test-sample", "5"]


@pytest.fixture(scope="module")
def killed_and_resumed(mptp_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loop")
    run, cache = tmp / "run", tmp / "e_cache.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deeplearn", *loop_args(run, cache, mptp_root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = run / "proofs.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and len(db.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the loop ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the loop and its running E process, with no chance to clean up
    proc.wait()
    before = db_lines(db)
    assert not (run / "rounds.jsonl").exists()  # killed mid-round
    assert cli.main(loop_args(run, cache, mptp_root) + ["--resume"]) == 0
    after = db_lines(db)
    # a reference run without a kill, from the same E results (the shared cache: it costs no E time)
    ref = tmp / "ref"
    assert cli.main(loop_args(ref, cache, mptp_root)) == 0
    return before, after, db_lines(ref / "proofs.jsonl"), run


@pytest.mark.slow
def test_a_killed_round_resumes_with_nothing_lost_and_nothing_twice(killed_and_resumed):
    before, after, ref, run = killed_and_resumed
    assert len(before) >= 3
    assert [key(r) for r in after[: len(before)]] == [key(r) for r in before]  # kept as written
    assert len({key(r) for r in after}) == len(after)  # no duplicate attempt
    proofs = {(r["problem"], frozenset(r["used"])) for r in before if r["proved"]}
    assert proofs <= {(r["problem"], frozenset(r["used"])) for r in after if r["proved"]}
    outcome = {key(r): (r["status"], sorted(r["used"] or [])) for r in after}
    assert outcome == {key(r): (r["status"], sorted(r["used"] or [])) for r in ref}  # same as never killed
    row = json.loads((run / "rounds.jsonl").read_text())
    assert row["proved"] == len({r["problem"] for r in after if r["proved"]}) > 0
    assert row["new_proofs"] == len({(r["problem"], frozenset(r["used"])) for r in after if r["proved"]})


@pytest.mark.slow
def test_harvested_premises_are_the_problems_own(killed_and_resumed, mptp):
    _, after, _, run = killed_and_resumed
    split = json.loads((run / "split.json").read_text())
    proved = [r for r in after if r["proved"]]
    assert proved
    for r in proved:
        p = mptp.get(r["problem"])
        cands = {a.name for a in p.premises}
        assert set(r["used"]) <= set(r["given"]) <= cands and p.name not in r["used"]
        assert r["problem"] in split["train"] and r["problem"] not in split["test"]


@pytest.mark.slow
def test_a_leaking_database_or_problem_list_stops_the_loop(killed_and_resumed, mptp_root, tmp_path, capsys):
    _, _, _, run = killed_and_resumed
    split = json.loads((run / "split.json").read_text())
    test_id = split["test"][0]
    args = loop_args(tmp_path / "r", tmp_path / "c.jsonl", mptp_root)
    sample = args.index("--sample")
    assert cli.main(args[:sample] + ["--problems", split["train"][0], test_id] + args[sample + 2:]) == 2
    assert "test problems would be used" in capsys.readouterr().err
    # a database holding a proof of a test problem (a leak from outside) is refused on resume
    with open(run / "proofs.jsonl", "a") as fh:
        fh.write(json.dumps({"round": 0, "problem": test_id, "selection": "x", "proved": True, "used": [],
                             "given": [], "status": "Theorem"}) + "\n")
    assert cli.main(loop_args(run, tmp_path / "c.jsonl", mptp_root) + ["--resume", "--rounds", "2"]) == 2
    assert "test problems would be used" in capsys.readouterr().err


# the neural loop on a toy TPTP corpus, and its model in the other commands -----------------------------------

N = 10  # t_i follows from p_i alone; d_i shares p_i's rare constant s_i but does not help


def toy_corpus(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "toy"
    d.mkdir()
    axioms = "".join(f"fof(p{i}, axiom, ! [X] : (r(X, s{i}) => q(X))).\n"
                     f"fof(d{i}, axiom, ! [X] : (q(X) => w(X, s{i}))).\n" for i in range(N))
    for i in range(N):
        (d / f"T{i:02d}.p").write_text(axioms + f"fof(t{i}, conjecture, r(a{i}, s{i}) => q(a{i})).\n")
    deps = tmp_path / "deps.json"
    # known proofs: T00-T03 (training), T08-T09 (test: ranking metrics only); the loop must find T04-T07 itself
    deps.write_text(json.dumps({f"T{i:02d}": [f"p{i}"] for i in [0, 1, 2, 3, 8, 9]}))
    return d, deps


TINY = ["--embed-dim", "16", "--hidden", "32", "--head-hidden", "64", "--hard-rounds", "0", "--val-fraction", "0",
        "--steps", "30", "--batch-size", "16", "--threads", "1", "--progress", "none", "--log-every", "1000"]


@pytest.mark.slow
def test_the_neural_loop_learns_from_its_proofs_and_its_model_serves_every_command(tmp_path, capsys):
    d, deps = toy_corpus(tmp_path)
    run = tmp_path / "run"
    args = ["premises", "loop", "--tptp-dir", str(d), "--deps", str(deps), "--out", str(run), "--rounds", "2",
            "--cutoffs", "2,4", "--cpu-limit", "1", "--workers", "2", *TINY]
    assert cli.main(args) == 0
    rows = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1] and rows[0]["problems"] == 8
    split = json.loads((run / "split.json").read_text())
    assert split["test"] == ["T08", "T09"]
    recs = db_lines(run / "proofs.jsonl")
    assert recs and not {r["problem"] for r in recs} & set(split["test"])  # test problems never go to E
    proved = {r["problem"] for r in recs if r["proved"]}
    assert {"T04", "T05", "T06", "T07"} & proved  # problems without a known proof, proved by the loop
    assert all(r["used"] == [f"p{int(r['problem'][1:])}"] for r in recs if r["proved"])
    proved0 = {r["problem"] for r in recs if r["proved"] and r["round"] == 0}
    assert rows[0]["train"]["harvested_problems"] == len(proved0)
    assert all(r["test"][m]["problems"] == 2 for r in rows for m in ("neural", "knn", "sine", "neural+knn"))
    assert (run / "round1" / "model" / "ranker.json").exists() and (run / "loop.png").stat().st_size > 0
    assert rows[1]["e_runs"] + rows[1]["from_cache"] == rows[1]["selections"]
    # the loop's latest model, through the other commands
    capsys.readouterr()
    conj = str(d / "T09.p")
    assert cli.main(["premises", "rank", conj, "--method", "neural", "--model", str(run), "--top", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert cli.main(["premises", "select", conj, "--method", "neural+knn", "--model", str(run), "--top", "4",
                     "-o", str(tmp_path / "sel.p")]) == 0
    assert (tmp_path / "sel.p").read_text().count("axiom") == 4
    cli.main(["premises", "prove", conj, "--method", "neural", "--model", str(run), "--top", "20",
              "--cpu-limit", "1", "--no-cache"])
    assert "SZS status Theorem" in capsys.readouterr().out  # all 20 premises: provable
    ev_out = tmp_path / "eval"
    assert cli.main(["premises", "evaluate", "--tptp-dir", str(d), "--deps", str(deps), "--method", "neural",
                     "--model", str(run), "--ks", "2", "4", "--cpu-limit", "1", "--no-references",
                     "--out", str(ev_out)]) == 0
    assert json.loads((ev_out / "report.json").read_text())["proof_rates"][0]["method"] == "neural"
    # resuming a finished loop with more rounds runs only the new one
    assert cli.main(args + ["--resume", "--rounds", "3"]) == 0
    assert len((run / "rounds.jsonl").read_text().splitlines()) == 3
    # a new loop may start from any saved neural model (here this loop's), with no first training
    run2 = tmp_path / "run2"
    args2 = [a if a != str(run) else str(run2) for a in args]
    assert cli.main(args2[:args2.index("--rounds")] + ["--rounds", "1", "--init", str(run)] +
                    args2[args2.index("--rounds") + 2:]) == 0
    assert not (run2 / "init").exists() and (run2 / "round0" / "model" / "ranker.json").exists()
    assert json.loads((run2 / "round0" / "model" / "report.json").read_text())["init"] == str(run)
