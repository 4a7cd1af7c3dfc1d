"""mulcot-bench: reproducible MulCoT-RD distillation and evaluation for multimodal sentiment.

Rooms, lowest first (a room imports only the rooms before it): the core modules (types, labels, chains, cache,
paths, files), ``console/`` (logging, progress), ``data/`` (loaders, the synthetic set, manifests), ``prompts/``,
``reported/`` (published scores), ``plugin/`` (the plugin API: import from :mod:`mulcot_bench.plugin`, and
:mod:`mulcot_bench.plugin.training` to train), ``scoring/`` and ``metrics/`` (metrics, intervals, compare),
``builtin/``, ``report/`` (the leaderboard), ``export/``, ``parallel/`` (the launcher's world and its JSON
collectives), ``training/`` (trainer, losses, cached assistant logits), ``runner/`` (the run and its pipeline
stages), ``distill/`` (the ``distill`` command's config and profiles) and ``cli/`` (the commands). Importing this
package imports nothing heavy.

The Python API is :func:`evaluate` (:mod:`mulcot_bench.runner.api`, loaded on first use; ``docs/python.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mulcot_bench.runner.api import evaluate

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        import importlib

        return importlib.import_module("mulcot_bench.runner.api").evaluate
    raise AttributeError(f"module 'mulcot_bench' has no attribute {name!r}")
