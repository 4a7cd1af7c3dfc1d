"""Fixtures for the mulcot-features tests: the kit's isolated environment with one cache per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    """Torch on one thread: the test machines are small and shared, where more threads only spin."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mulcot_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: features are deterministic, so tests may share them."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(mulcot_env: Path) -> None:
    """Every test in the kit's isolated environment (offline, no user plugins or data root, the session cache)."""


@pytest.fixture
def mulcot_plugin() -> str:
    """The plugin under test for the mulcot-bench test kit's ``mulcot_registry`` fixture."""
    return "mulcot_features.plugin"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data beside the repository); skip when it is absent."""
    root = REPO.parent / "shared" / "data"
    if not (root / "twitter2015").is_dir():
        pytest.skip(f"real data not found at {root / 'twitter2015'} (the shared read-only data folder)")
    return root
