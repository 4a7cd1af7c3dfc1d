"""The training toolkit models train with: the KD loss, cached assistant logits, a resumable (multi-process) trainer.

Nothing here imports torch at package import time: import the submodules that need it
(:mod:`mulcot_bench.training.losses`, :mod:`mulcot_bench.training.cached`, :mod:`mulcot_bench.training.trainer`)
from inside the function that uses them. Plugins import these names from :mod:`mulcot_bench.plugin.training`;
the collectives they use across processes are :mod:`mulcot_bench.parallel`'s.
"""
