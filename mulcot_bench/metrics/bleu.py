"""The reference's BLEU variant: sentence BLEU-4 per sample (sacrebleu, 13a, no smoothing), averaged, x100.

sacrebleu's ``sentence_bleu`` uses the effective n-gram order, so a hypothesis shorter than four tokens is
scored on the orders it has; an empty hypothesis scores 0; with no smoothing, any order with zero matches
makes the sentence score 0. This module calls sacrebleu for every sentence, so all of that is sacrebleu's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.stats import Statistic
from mulcot_bench.types import Prediction, Sample


@lru_cache(maxsize=1)
def _sentence_bleu() -> Any:
    """One BLEU object with ``sentence_bleu``'s settings: 13a, case-sensitive, no smoothing, effective order."""
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(tokenize="13a", smooth_method="none", effective_order=True)


def sentence_scores(hyps: Sequence[str], refs: Sequence[str]) -> tuple[list[float], list[list[int]]]:
    """Per pair: the sentence BLEU (0-100) and its statistics ``[sys_len, ref_len, correct x4, total x4]``.

    The statistics let corpus BLEU be recomputed for any resample without tokenising again.
    """
    bleu = _sentence_bleu()
    scores: list[float] = []
    stats: list[list[int]] = []
    for h, r in zip(hyps, refs, strict=True):
        s = bleu.sentence_score(h, [r])
        scores.append(float(s.score))
        stats.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
    return scores, stats


def cached_sentence_scores(
    hyps: Sequence[str], refs: Sequence[str], cache: Cache | None
) -> tuple[list[float], list[list[int]]]:
    """:func:`sentence_scores` through the per-pair cache, so corpus and sentence BLEU tokenise a pair once."""

    def score(h: list[str], r: list[str]) -> list[list[Any]]:
        values, stats = sentence_scores(h, r)
        return [[v, s] for v, s in zip(values, stats, strict=True)]

    rows = cached_pair_values("sentence_bleu", signature(), list(hyps), list(refs), cache, score)
    return [row[0] for row in rows], [row[1] for row in rows]


def corpus_bleu_stat(sentence_stats: Sequence[Sequence[int]]) -> Statistic:
    """Corpus BLEU (sacrebleu defaults) recomputed per resample from per-sentence statistics."""
    arr = np.asarray(sentence_stats, dtype=np.int64)
    return lambda idx: np.asarray([corpus_bleu_from_stats(arr[row].sum(axis=0)) for row in idx])


def corpus_bleu_from_stats(stats: Any) -> float:
    """sacrebleu's default corpus BLEU (exp smoothing, no effective order) from summed sentence statistics."""
    from sacrebleu.metrics.bleu import BLEU

    total = [int(x) for x in stats]
    return float(
        BLEU.compute_bleu(
            correct=total[2:6], total=total[6:10], sys_len=total[0], ref_len=total[1], smooth_method="exp"
        ).score
    )


def signature() -> str:
    """The exact sacrebleu signature of the sentence variant, plus how sentences are combined."""
    bleu = _sentence_bleu()
    bleu.sentence_score("signature probe", ["signature probe"])  # sacrebleu knows nrefs only after a score
    return f"sacrebleu sentence BLEU per sample, averaged over samples (0-100)|{bleu.get_signature()}"


class SentenceBleu:
    """Mean sentence BLEU-4 over samples with a reference, as the MulCoT-RD reference code computes it."""

    def signature(self) -> str:
        return signature()

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "bleu4_sentence", lambda h, r: cached_sentence_scores(h, r, cache)[0])

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "bleu4_sentence", lambda h, r: cached_sentence_scores(h, r, cache)[0])
