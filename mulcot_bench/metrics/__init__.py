"""Metric implementations: each scores one model's predictions on one split and states its exact signature.

The contract they follow (:class:`~mulcot_bench.scoring.metric.Metric`, with the optional ``per_sample``) and
the scorer that walks them live in :mod:`mulcot_bench.scoring`; the built-in plugin registers them.
"""

from mulcot_bench.scoring.metric import Metric

__all__ = ["Metric"]
