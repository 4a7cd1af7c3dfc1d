"""Shared fixtures: isolated cache and output folders, no network, no user plugins."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv("MULCOT_BENCH_PLUGINS_DIR", raising=False)
    monkeypatch.delenv("MULCOT_BENCH_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("MULCOT_BENCH_DATA_ROOT", raising=False)
    monkeypatch.setenv("MULCOT_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
