"""Helpers for the mulcot-encoder tests (a unique module name: conftest.py files share one)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mulcot_encoder.model import EncoderChainModel
from mulcot_encoder.plugin import cards

from mulcot_bench.plugin import FitContext, ModelCard, Sample

#: Tiny dims and epochs: the tests check behaviour, not quality.
TINY = {"d_model": 32, "fusion_layers": 1, "heads": 2, "label_epochs": 2, "chain_epochs": 2, "batch_size": 8,
        "max_chain_tokens": 40, "torch_threads": 1, "vocab_min_count": 1}


def card(name: str, **override: Any) -> ModelCard:
    base = next(c for c in cards() if c.name == name)
    return replace(base, settings={**base.settings, **TINY, **override})


def fitted(name: str, train: list[Sample], dev: list[Sample], assistant: Any = None, seed: int = 0,
           **override: Any) -> tuple[EncoderChainModel, dict]:
    model = EncoderChainModel(card(name, **override))
    report = model.fit(train, dev, FitContext(seed=seed, dataset="synthetic", level="aspect", assistant=assistant))
    return model, report
