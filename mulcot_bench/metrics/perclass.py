"""Per-class precision, recall and F1 (scikit-learn) and the confusion matrix with an "invalid" column.

Rows of the confusion matrix are gold labels, columns predicted labels, both in the fixed order
positive, neutral, negative; the extra column "invalid" counts unparseable answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from mulcot_bench.cache import Cache
from mulcot_bench.labels import LABELS
from mulcot_bench.metrics.classification import INVALID
from mulcot_bench.types import Prediction, Sample

OUTPUTS: dict[str, str] = {
    f"{kind}_{label}": f"{title} ({label})"
    for label in LABELS
    for kind, title in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
}


def confusion(gold: Sequence[Sample], preds: Sequence[Prediction]) -> dict[str, dict[str, int]]:
    """``{gold label: {predicted label or "invalid": count}}`` with every row and column present."""
    table = {g: dict.fromkeys((*LABELS, INVALID), 0) for g in LABELS}
    for s, p in zip(gold, preds, strict=True):
        table[s.label][p.label or INVALID] += 1
    return table


class PerClass:
    """Precision, recall and F1 of each label (unparseable answers count as the wrong class "invalid")."""

    def signature(self) -> str:
        import sklearn

        return (
            f"sklearn.metrics.precision_recall_fscore_support|average=None|labels={','.join(LABELS)}"
            f"|zero_division=0|invalid=wrong|sklearn:{sklearn.__version__}"
        )

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        from sklearn.metrics import precision_recall_fscore_support

        y = [s.label for s in gold]
        p = [x.label or INVALID for x in preds]
        prec, rec, f1, _ = precision_recall_fscore_support(y, p, labels=list(LABELS), average=None, zero_division=0)
        out: dict[str, float | None] = {}
        for i, label in enumerate(LABELS):
            out[f"precision_{label}"] = float(prec[i])
            out[f"recall_{label}"] = float(rec[i])
            out[f"f1_{label}"] = float(f1[i])
        return out
