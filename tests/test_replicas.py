"""Data-parallel replicas on CPU (torchrun + gloo): the same result as one process, resume across world sizes,
and a restart after a killed worker."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deeplearn.engine import checkpoint as ckpt

COMMON = ["train", "--hidden", "64", "--batch-size", "32", "--lr", "0.05", "--schedule", "constant",
          "--progress", "none", "--eval-every", "10", "--log-every", "10", "--threads", "1"]


def deeplearn(*args, nproc=None, max_restarts=0, wait=True, log=None):
    if nproc is None:
        cmd = [sys.executable, "-m", "deeplearn", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
               "--max-restarts", str(max_restarts), "-m", "deeplearn", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEEPLEARN_DIST_TIMEOUT": "60"}
    if not wait:  # output to a file: readable even if the job hangs
        return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def params(run: Path) -> dict:
    return ckpt.load(run / "checkpoints/last.pt")["model"]


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_two_replicas_equal_one_process_with_the_same_global_batch(tmp_path):
    deeplearn(*COMMON, "--steps", "40", "--out", str(tmp_path / "one"))
    deeplearn(*COMMON, "--steps", "40", "--out", str(tmp_path / "two"), nproc=2)
    one, two = params(tmp_path / "one"), params(tmp_path / "two")
    for k in one:
        torch.testing.assert_close(one[k], two[k], rtol=1e-5, atol=1e-6)
    r1, r2 = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert [r["step"] for r in r1] == [r["step"] for r in r2]
    for a, b in zip(r1, r2):
        for k in ("train_loss", "val_loss", "val_acc", "lr"):
            if k in a:
                assert a[k] == pytest.approx(b[k], rel=1e-5), (k, a, b)
    s2 = json.loads((tmp_path / "two/summary.json").read_text())
    assert s2["world_size"] == 2


def test_resume_after_a_change_of_world_size(tmp_path):
    deeplearn(*COMMON, "--steps", "40", "--out", str(tmp_path / "straight"))
    deeplearn(*COMMON, "--steps", "20", "--out", str(tmp_path / "changed"), nproc=2)
    deeplearn("train", "--resume", str(tmp_path / "changed"), "--steps", "40")  # now one process
    a, b = params(tmp_path / "straight"), params(tmp_path / "changed")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(d.name))
    return kids


def test_a_killed_worker_restarts_from_the_last_checkpoint(tmp_path):
    run = tmp_path / "ft"
    proc = deeplearn(*COMMON, "--steps", "1500", "--checkpoint-every", "50", "--eval-every", "500", "--out",
                     str(run), nproc=2, max_restarts=3, wait=False, log=tmp_path / "log.txt")
    last = run / "checkpoints/last.pt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists() and proc.poll() is None, "the run ended before a checkpoint could be seen"
    workers = _children(proc.pid)
    assert len(workers) == 2, workers
    os.kill(workers[-1], signal.SIGKILL)  # one replica dies in the middle of the run
    try:
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (tmp_path / "log.txt").read_text()
    assert proc.returncode == 0, out[-5000:]
    assert "(resuming)" in out  # the restarted replicas continued from the checkpoint
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 1500 and summary["status"] == "completed"
    steps = [r["step"] for r in rows(run)]
    assert steps == sorted(set(steps)) and steps[-1] == 1500  # no row lost or repeated across the restart
