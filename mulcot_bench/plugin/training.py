"""What a trainable model imports: ``from mulcot_bench.plugin.training import fit, TrainerConfig, TrainTask, ...``.

The documented sub-facade of :mod:`mulcot_bench.plugin` for models that train with torch:

* the trainer (:mod:`mulcot_bench.training.trainer`): :func:`fit` trains a :class:`TrainTask` under a
  :class:`TrainerConfig` (AdamW, accumulation, plateau schedule, dev selection, checkpoints and resume, DDP);
  :func:`dev_scores` is its accuracy / macro-F1 / weighted-F1 of dev predictions;
* the KD loss (:mod:`mulcot_bench.training.losses`): :func:`kd_loss` and :func:`kd_terms` (the loss and its parts),
  the KD masks ``MASKS``, :class:`HiddenProjection` (hidden-state KD) and :class:`TopK` (top-k assistant logits);
* cached assistant logits (:mod:`mulcot_bench.training.cached`): :func:`build_cache` and :class:`CachedLogits`;
* :func:`torch_threads` (:mod:`mulcot_bench.training.threads`): a block on the thread count the card states;
* across the processes of a data-parallel fit (:mod:`mulcot_bench.parallel`): :func:`world_size` and
  :func:`sharded_map` (a function over this rank's share of the items, gathered in order on every rank; the
  results travel as JSON).

Importing this module is cheap: each name loads its module (and torch) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mulcot_bench.parallel.collect import sharded_map
    from mulcot_bench.parallel.world import world_size
    from mulcot_bench.training.cached import CachedLogits, build_cache
    from mulcot_bench.training.losses import MASKS, HiddenProjection, TopK, kd_loss, kd_terms
    from mulcot_bench.training.threads import torch_threads
    from mulcot_bench.training.trainer import TrainerConfig, TrainTask, dev_scores, fit

#: every name, as ``from MODULE import NAME``, loaded on first use
_LAZY = {
    "fit": "mulcot_bench.training.trainer",
    "TrainerConfig": "mulcot_bench.training.trainer",
    "TrainTask": "mulcot_bench.training.trainer",
    "dev_scores": "mulcot_bench.training.trainer",
    "kd_loss": "mulcot_bench.training.losses",
    "kd_terms": "mulcot_bench.training.losses",
    "MASKS": "mulcot_bench.training.losses",
    "HiddenProjection": "mulcot_bench.training.losses",
    "TopK": "mulcot_bench.training.losses",
    "CachedLogits": "mulcot_bench.training.cached",
    "torch_threads": "mulcot_bench.training.threads",
    "build_cache": "mulcot_bench.training.cached",
    "sharded_map": "mulcot_bench.parallel.collect",
    "world_size": "mulcot_bench.parallel.world",
}

__all__ = [
    "MASKS",
    "CachedLogits",
    "HiddenProjection",
    "TopK",
    "TrainTask",
    "TrainerConfig",
    "build_cache",
    "dev_scores",
    "fit",
    "kd_loss",
    "kd_terms",
    "sharded_map",
    "torch_threads",
    "world_size",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mulcot_bench.plugin.training' has no attribute {name!r}")
