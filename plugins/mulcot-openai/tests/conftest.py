"""Fixtures of the mulcot-openai tests: a clean environment and the fake endpoint."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import KEY, FakeOpenAI  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(mulcot_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit's isolated environment, without the endpoint's variables and proxies."""
    for name in list(os.environ):
        if name.startswith("MULCOT_OPENAI_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def endpoint(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The fake server configured through the environment, with a key."""
    monkeypatch.setenv("MULCOT_OPENAI_BASE_URL", fake.url)
    monkeypatch.setenv("MULCOT_OPENAI_MODEL", "fake-vlm")
    monkeypatch.setenv("MULCOT_OPENAI_API_KEY", KEY)
    return fake
