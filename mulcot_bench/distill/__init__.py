"""Distillation: the KD loss, cached assistant logits, a resumable (multi-process) trainer, and config profiles.

Nothing here imports torch at package import time: import the submodules that need it
(:mod:`mulcot_bench.distill.losses`, :mod:`mulcot_bench.distill.cached`, :mod:`mulcot_bench.distill.trainer`)
from inside the function that uses them. :mod:`mulcot_bench.distill.config` is torch-free.
"""
