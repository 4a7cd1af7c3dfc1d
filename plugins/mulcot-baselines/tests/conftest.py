"""The plugin under test, for the kit's ``mulcot_registry`` fixture (the repository's pytest settings are shared)."""

from __future__ import annotations

import pytest


@pytest.fixture
def mulcot_plugin() -> str:
    return "mulcot_baselines.plugin"
