"""Scoring: the metric contract, the scorer that walks the registered metrics, statistics and ``compare``.

Metric implementations live in :mod:`mulcot_bench.metrics` and are registered by the built-in plugin.
"""
