"""Fixtures for the mulcot-features tests: an isolated cache, no hub, no user plugins; tiny images."""

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
def _feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session: features are deterministic, so tests may share them."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _feature_cache: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv("MULCOT_BENCH_PLUGINS_DIR", raising=False)
    monkeypatch.delenv("MULCOT_BENCH_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("MULCOT_BENCH_DATA_ROOT", raising=False)
    monkeypatch.setenv("MULCOT_BENCH_CACHE", str(_feature_cache))


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
