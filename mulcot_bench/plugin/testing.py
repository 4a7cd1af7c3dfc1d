"""The test kit for plugin authors, a pytest plugin (entry point ``pytest11``; or ``-p mulcot_bench.plugin.testing``).

Fixtures:

* ``mulcot_plugin``: which plugin to test. Set ``mulcot_plugin = "my_pkg.plugin"`` (a module path, an
  entry-point name or a ``*.py`` file) under ``[tool.pytest.ini_options]``, or override the fixture.
* ``mulcot_registry``: a registry holding only that plugin (and the built-in datasets and metrics);
  a misspelt hook or a failing registration makes it raise.
* ``mulcot_data``: a tiny synthetic dataset (24/8/8 samples); ``mulcot_samples``: its test split.
* ``mulcot_env``: an isolated environment for one test (the Hugging Face hub offline, no plugins folder, no
  blocked plugins, no data root from the environment, a cache folder of its own: ``mulcot_cache_dir``, fresh
  per test unless overridden). Not autouse: use it from an autouse fixture of the plugin's ``conftest.py``.

And :func:`check_model`, the contract check ``mulcot-bench plugins doctor`` runs. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mulcot_bench.plugin.contract import ContractError, ContractReport, check_model, tiny_data
from mulcot_bench.plugin.registry import Registry, plugin_registry
from mulcot_bench.types import Sample, Splits

__all__ = ["ContractError", "ContractReport", "check_model", "plugin_registry", "tiny_data"]

INI_KEY = "mulcot_plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``mulcot_plugin`` ini key: the plugin under test."""
    parser.addini(INI_KEY, "mulcot-bench plugin under test: module path, entry-point name or *.py file", default="")


@pytest.fixture
def mulcot_plugin(request: pytest.FixtureRequest) -> str:
    """The plugin under test, from the ``mulcot_plugin`` ini key (override this fixture to choose another way)."""
    value = str(request.config.getini(INI_KEY) or "")
    if not value:
        pytest.fail(f'set {INI_KEY} = "your_package.plugin" under [tool.pytest.ini_options], '
                    f"or override the {INI_KEY} fixture", pytrace=False)
    return value


@pytest.fixture
def mulcot_registry(mulcot_plugin: str) -> Registry:
    """A registry with only the plugin under test, plus the built-in datasets and metrics."""
    return plugin_registry(mulcot_plugin)


@pytest.fixture(scope="session")
def mulcot_data() -> Splits:
    """A tiny synthetic dataset: 24 train, 8 dev, 8 test samples."""
    return tiny_data()


@pytest.fixture(scope="session")
def mulcot_samples(mulcot_data: Splits) -> list[Sample]:
    """The tiny dataset's test split."""
    return list(mulcot_data.test)


#: what mulcot_env removes from the environment: a user's plugins folder, blocked plugins and data root
ISOLATED_VARIABLES = ("MULCOT_BENCH_PLUGINS_DIR", "MULCOT_BENCH_BLOCK_PLUGINS", "MULCOT_BENCH_DATA_ROOT")


@pytest.fixture
def mulcot_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder of ``mulcot_env``: a fresh one per test (override it, e.g. session-scoped, to share one)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def mulcot_env(monkeypatch: pytest.MonkeyPatch, mulcot_cache_dir: Path) -> Path:
    """One test's isolated environment: the Hugging Face hub offline, no plugins folder, blocked plugins or data
    root from the environment, ``MULCOT_BENCH_CACHE`` at ``mulcot_cache_dir`` (returned), and runs in one process
    (``MULCOT_BENCH_JOBS=1``: a plugin under test and its output stay in the test's process)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MULCOT_BENCH_CACHE", str(mulcot_cache_dir))
    monkeypatch.setenv("MULCOT_BENCH_JOBS", "1")
    return mulcot_cache_dir
