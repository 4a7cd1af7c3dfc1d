"""Shared fixtures: isolated cache and output folders, no network, no user plugins (the kit's ``mulcot_env``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(mulcot_env: Path) -> None:
    """Every test in the kit's isolated environment (:func:`mulcot_bench.plugin.testing.mulcot_env`)."""
