"""The kit's isolated environment, one torch thread, and a persistent cache for the converted SmolLM2 checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture(autouse=True)
def _isolated_env(mulcot_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit's isolated environment (offline, a fresh cache), and no Qwen weights from the environment."""
    for var in ("MULCOT_QWEN_ASSISTANT", "MULCOT_QWEN_STUDENT"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():  # noqa: ANN202
    """One torch thread for every test (set before any module fixture trains, since the thread count changes
    float reduction order): on a shared 2-core machine two threads spin-wait on each other (measured 14x
    slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def hf_cache(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder kept across test runs (pytest's own cache), so SmolLM2 is converted once per checkout."""
    folder = Path(request.config.cache.mkdir("mulcot-hf"))
    monkeypatch.setenv("MULCOT_BENCH_CACHE", str(folder))
    return folder


@pytest.fixture
def short_templates() -> dict[str, str]:
    """Short reasoning and label prompts (the shipped ones are ~270 tokens: too slow for a CPU test)."""
    return {"reasoning": str(TEMPLATES / "reasoning.j2"), "label": str(TEMPLATES / "label.j2")}


@pytest.fixture
def mulcot_plugin() -> str:
    """The plugin under test for mulcot-bench's fixtures (``mulcot_registry``)."""
    return "mulcot_hf.plugin"
