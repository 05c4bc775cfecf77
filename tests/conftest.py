import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("DEEPLEARN_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture
def shared_data() -> Path:
    """The real data sets of ../shared/data (CI has them); tests that need them skip without."""
    d = shared_data_dir()
    if d is None:
        pytest.skip("needs the real data sets: set DEEPLEARN_DATA or put shared/data beside the checkout")
    return d


@pytest.fixture(scope="session")
def shared_data_root() -> Path | None:
    """The data root or None, for module-scoped fixtures that skip themselves with their own reason."""
    return shared_data_dir()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DEEPLEARN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
