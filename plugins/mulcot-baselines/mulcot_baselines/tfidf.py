"""Text-only baseline: TF-IDF features of the target and the text, then logistic regression."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mulcot_bench.plugin import LABELS, FitContext, ModelCard, Prediction, Sample, asked_input


def _text(sample: Sample) -> str:
    return f"{sample.target or ''} | {sample.text}"


class TfidfLogReg:
    """scikit-learn TF-IDF + logistic regression; sees no image, writes no rationale."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.pipeline = None

    @staticmethod
    def asked(card: ModelCard, sample: Sample) -> dict[str, Any]:
        """The string its TF-IDF features are computed from (no prompt, no image)."""
        return asked_input({"text": _text(sample)}, False, "TF-IDF word n-grams of 'target | text'")

    def fit(self, train: Sequence[Sample], dev: Sequence[Sample], ctx: FitContext) -> dict:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        s = self.card.settings
        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=tuple(s["ngram_range"]), min_df=s["min_df"], sublinear_tf=True),
            LogisticRegression(C=s["C"], max_iter=s["max_iter"], random_state=ctx.seed),
        )
        self.pipeline.fit([_text(x) for x in train], [x.label for x in train])
        dev_acc = self.pipeline.score([_text(x) for x in dev], [x.label for x in dev]) if dev else None
        vocab = len(self.pipeline[0].vocabulary_)
        return {"n_train": len(train), "dev_accuracy": dev_acc, "params": vocab * len(LABELS) + len(LABELS)}

    def predict(self, samples: Sequence[Sample]) -> list[Prediction]:
        if self.pipeline is None:
            raise RuntimeError("text-tfidf-lr used before fit")
        probs = self.pipeline.predict_proba([_text(x) for x in samples])
        classes = list(self.pipeline.classes_)
        out = []
        for row in probs:
            dist = {lab: float(row[classes.index(lab)]) if lab in classes else 0.0 for lab in LABELS}
            out.append(Prediction(label=max(dist, key=dist.get), probs=dist))
        return out
