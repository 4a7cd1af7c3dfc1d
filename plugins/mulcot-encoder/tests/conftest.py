"""Fixtures for the mulcot-encoder tests: an isolated cache, no hub, one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
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
    """The plugin under test for the kit's ``mulcot_registry`` (the repository's pytest settings are shared)."""
    return "mulcot_encoder.plugin"
