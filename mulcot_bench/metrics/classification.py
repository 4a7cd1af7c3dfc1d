"""Accuracy, macro-F1 and weighted-F1 over the fixed label order (scikit-learn).

An unparseable answer (label None) counts as wrong: it is scored as the extra class "invalid",
which is never in the label order, so it lowers recall of the gold class and is never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

from mulcot_bench.cache import Cache
from mulcot_bench.labels import LABELS
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.stats import accuracy_stat, f1_stat, label_codes
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

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        """Per sample 1 (right) or 0 (wrong, an unparseable answer included), and the accuracy statistic."""
        g, p = label_codes([s.label for s in gold], [x.label for x in preds])
        out = SampleScores(len(gold))
        out.values["accuracy"] = list((g == p).astype(float))
        out.add_stat("accuracy", accuracy_stat(g, p), len(gold))
        return out


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

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        """No per-sample value (F1 is not a mean), only the F1 statistic over resampled samples."""
        g, p = label_codes([s.label for s in gold], [x.label for x in preds])
        out = SampleScores(len(gold))
        out.add_stat(f"{self.average}_f1", f1_stat(g, p, self.average), len(gold))
        return out


def invalid_count(preds: Sequence[Prediction]) -> int:
    """How many answers could not be parsed into a label."""
    return sum(p.label is None for p in preds)
