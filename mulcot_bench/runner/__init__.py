"""The run: every selected dataset x every selected model through the pipeline, scored and written as JSON.

``run(registry, options)`` is the entry point (:mod:`~mulcot_bench.runner.orchestrate`); the pipeline stages
live in :mod:`~mulcot_bench.runner.pipeline` and :mod:`~mulcot_bench.runner.stages`.
"""

from __future__ import annotations

from typing import Any

from mulcot_bench.runner.options import RunOptions, RunOutcome

__all__ = ["RunOptions", "RunOutcome", "exit_summary", "run"]

_LAZY = {"run": "mulcot_bench.runner.orchestrate", "exit_summary": "mulcot_bench.runner.summary"}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mulcot_bench.runner' has no attribute {name!r}")
