"""Shared fixtures: the MPTP2078 corpus (skipped when ../shared/data is absent) and a fake E for fast checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path | None:
    root = Path(os.environ.get("DEEPLEARN_DATA") or REPO.parent / "shared" / "data")
    return root if (root / "mptp2078" / "problems.jsonl.gz").exists() else None


@pytest.fixture(scope="session")
def mptp_root() -> Path:
    root = data_dir()
    if root is None:
        pytest.skip("MPTP2078 data not found: set DEEPLEARN_DATA or place it at <repo>/../shared/data/mptp2078")
    return root


@pytest.fixture(scope="session")
def mptp(mptp_root):
    from deeplearn.premises.corpus import load_mptp

    return load_mptp(mptp_root)


@pytest.fixture
def fake_prover(tmp_path):
    """A stand-in E: answers --version, logs each call to calls.txt, then runs the body given."""

    def make(body: str) -> tuple[str, Path]:
        calls = tmp_path / "calls.txt"
        script = tmp_path / "fake-e"
        script.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Fake E 0.1"; exit 0; fi\n'
                          f'echo call >> "{calls}"\n{body}\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return str(script), calls

    return make
