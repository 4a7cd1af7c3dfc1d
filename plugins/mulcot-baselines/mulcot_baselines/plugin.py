"""Registers the classic baselines through the ``mulcot_bench`` entry point, like any third-party plugin."""

from __future__ import annotations

from mulcot_bench.plugin import ModelCard, ModelSpec, Register, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        ModelCard("majority", "baseline", "Predicts the most frequent training label", params=0, modalities=(),
                  rationale=False),
        "mulcot_baselines.majority:Majority",
    ))
    register(ModelSpec(
        ModelCard("text-tfidf-lr", "baseline", "Text-only: TF-IDF word 1-2 grams of 'target | text' + logistic "
                  "regression", modalities=("text",), rationale=False,
                  settings={"ngram_range": [1, 2], "min_df": 1, "C": 10.0, "max_iter": 2000}),
        "mulcot_baselines.tfidf:TfidfLogReg",
    ))
