"""Majority-class baseline: the floor every model must clear."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from mulcot_bench.plugin import LABELS, FitContext, ModelCard, Prediction, Sample


class Majority:
    """Predicts the most frequent training label (ties broken by the fixed label order)."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.label: str | None = None
        self.probs: dict[str, float] = {}

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """Nothing: the answer is the training split's most frequent label, whatever the sample."""
        return {"kind": "none", "note": "the most frequent training label; no part of the sample is read"}

    def fit(self, train: Sequence[Sample], dev: Sequence[Sample], ctx: FitContext) -> dict:
        counts = Counter(s.label for s in train)
        self.label = max(LABELS, key=lambda lab: (counts[lab], -LABELS.index(lab)))
        self.probs = {lab: counts[lab] / len(train) for lab in LABELS}
        return {"n_train": len(train), "label": self.label, "params": 0}

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        if self.label is None:
            raise RuntimeError("majority baseline used before fit")
        return [Prediction(label=self.label, probs=dict(self.probs)) for _ in samples]
