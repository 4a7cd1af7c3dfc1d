"""Shared helpers of the reasoning metrics: means over the scored pairs (:mod:`mulcot_bench.scoring.pairs`) and a
per-pair score cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.pairs import reference_pairs, scored_pairs
from mulcot_bench.types import Prediction, Sample


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


def mean_per_sample(
    gold: Sequence[Sample],
    preds: Sequence[Prediction],
    output: str,
    score: Callable[[list[str], list[str]], list[float]],
) -> SampleScores:
    """The per-sample twin of :func:`mean_over_pairs`: ``score``'s value at each sample with a reference."""
    out = SampleScores(len(gold))
    keep, hyps, refs = reference_pairs(gold, preds)
    out.add_mean(output, score(hyps, refs), keep)
    return out


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
