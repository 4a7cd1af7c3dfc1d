"""Fixtures for the mulcot-encoder tests: the kit's isolated environment with one cache per session, one torch
thread."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
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
    """The plugin under test for the kit's ``mulcot_registry`` (the repository's pytest settings are shared)."""
    return "mulcot_encoder.plugin"
