"""Accuracy, macro-F1 and weighted-F1 over the fixed label order (scikit-learn).

An unparseable answer (label None) counts as wrong: it is scored as the extra class "invalid",
which is never in the label order, so it lowers recall of the gold class and is never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

from mulcot_bench.cache import Cache
from mulcot_bench.labels import LABELS
from mulcot_bench.types import Prediction, Sample

INVALID = "invalid"


def _pairs(gold: Sequence[Sample], preds: Sequence[Prediction]) -> tuple[list[str], list[str]]:
    return [s.label for s in gold], [p.label or INVALID for p in preds]


class Accuracy:
    def signature(self) -> str:
        import sklearn

        return f"sklearn.metrics.accuracy_score|invalid=wrong|sklearn:{sklearn.__version__}"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        from sklearn.metrics import accuracy_score

        y, p = _pairs(gold, preds)
        return {"accuracy": float(accuracy_score(y, p))}


class F1:
    """F1 averaged over the three labels, ``average`` = "macro" or "weighted"."""

    def __init__(self, average: str) -> None:
        self.average = average

    def signature(self) -> str:
        import sklearn

        return (
            f"sklearn.metrics.f1_score|average={self.average}|labels={','.join(LABELS)}|zero_division=0"
            f"|invalid=wrong|sklearn:{sklearn.__version__}"
        )

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        from sklearn.metrics import f1_score

        y, p = _pairs(gold, preds)
        value = f1_score(y, p, labels=list(LABELS), average=self.average, zero_division=0)
        return {f"{self.average}_f1": float(value)}


def invalid_count(preds: Sequence[Prediction]) -> int:
    """How many answers could not be parsed into a label."""
    return sum(p.label is None for p in preds)
