"""Which (hypothesis, reference) pairs a reasoning metric scores: the samples that carry a reference chain."""

from __future__ import annotations

from collections.abc import Sequence

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
