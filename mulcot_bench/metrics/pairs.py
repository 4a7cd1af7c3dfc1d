"""Shared helpers of the reasoning metrics: which pairs are scored, and a per-pair score cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.types import Prediction, Sample


def scored_pairs(gold: Sequence[Sample], preds: Sequence[Prediction]) -> tuple[list[str], list[str]] | None:
    """(hypotheses, references) over samples with a reference; None if the model writes no rationale.

    A sample without a generated rationale scores as the empty hypothesis (never dropped).
    """
    if all(p.rationale is None for p in preds):
        return None
    pairs = [(p.rationale or "", s.rationale) for s, p in zip(gold, preds, strict=True) if s.rationale]
    if not pairs:
        return None
    return [h for h, _ in pairs], [r for _, r in pairs]


def mean_over_pairs(
    gold: Sequence[Sample],
    preds: Sequence[Prediction],
    output: str,
    score: Callable[[list[str], list[str]], list[float]],
) -> dict[str, float | None]:
    """``{output: mean of score(hypotheses, references)}`` over :func:`scored_pairs`; None when there are none."""
    pairs = scored_pairs(gold, preds)
    if pairs is None:
        return {output: None}
    values = score(*pairs)
    return {output: sum(values) / len(values)}


def cached_pair_values(
    namespace: str,
    signature: str,
    hyps: Sequence[str],
    refs: Sequence[str],
    cache: Cache | None,
    score: Callable[[list[str], list[str]], list[Any]],
) -> list[Any]:
    """One value per (hypothesis, reference) pair; only pairs missing from the cache reach ``score``.

    The cache key is ``key(signature, hypothesis, reference)``, so a changed signature never reuses a value.
    """
    keys = [key(signature, h, r) for h, r in zip(hyps, refs, strict=True)]
    found = cache.get_many(namespace, keys) if cache else {}
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k not in found:
            first.setdefault(k, i)
    todo = sorted(first.values())
    if todo:
        new = dict(zip([keys[i] for i in todo], score([hyps[i] for i in todo], [refs[i] for i in todo]), strict=True))
        found.update(new)
        if cache:
            cache.put_many(namespace, new)
    return [found[k] for k in keys]
