"""mulcot-bench: reproducible MulCoT-RD distillation and evaluation for multimodal sentiment.

Rooms: ``cli/`` (the commands), ``plugin/`` (the plugin API: import from :mod:`mulcot_bench.plugin`),
``data/`` (loaders, the synthetic set, manifests), ``runner/`` (the run and its pipeline stages),
``distill/`` (trainer, losses, profiles), ``metrics/`` and ``scoring/`` (metrics, intervals, compare),
``report/`` (the leaderboard). Importing this package imports nothing heavy.
"""

__version__ = "0.1.0"
