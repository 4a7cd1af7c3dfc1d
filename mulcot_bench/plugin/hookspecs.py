"""The whole plugin surface: three hooks, each handed a ``register`` callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "mulcot_bench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register: Callable[..., Any]) -> None:
    """Register models: ``register(ModelSpec(...))``."""


@hookspec
def register_datasets(register: Callable[..., Any]) -> None:
    """Register datasets: ``register(DatasetSpec(...))``."""


@hookspec
def register_metrics(register: Callable[..., Any]) -> None:
    """Register metrics: ``register(MetricSpec(...))``."""
