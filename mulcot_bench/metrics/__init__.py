"""Metrics: each scores one model's predictions on one split and states its exact signature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mulcot_bench.cache import Cache
from mulcot_bench.types import Prediction, Sample


class Metric(Protocol):
    """Scores predictions against gold samples; returns one value per output id (None: not applicable)."""

    def signature(self) -> str: ...

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]: ...
