"""Shared helpers of the reasoning metrics: which pairs are scored, and a per-pair score cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mulcot_bench.cache import Cache, key
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample


def reference_pairs(
    gold: Sequence[Sample], preds: Sequence[Prediction]
) -> tuple[list[int], list[str], list[str]]:
    """The samples with a reference chain: their indices, hypotheses and references.

    A sample without a generated rationale scores as the empty hypothesis (never dropped).
    """
    keep = [i for i, s in enumerate(gold) if s.rationale]
    return keep, [preds[i].rationale or "" for i in keep], [gold[i].rationale or "" for i in keep]


def scored_pairs(gold: Sequence[Sample], preds: Sequence[Prediction]) -> tuple[list[str], list[str]] | None:
    """(hypotheses, references) of :func:`reference_pairs`; None if the model writes no rationale or none has a
    reference."""
    if all(p.rationale is None for p in preds):
        return None
    keep, hyps, refs = reference_pairs(gold, preds)
    return (hyps, refs) if keep else None


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
