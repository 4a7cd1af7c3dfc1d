"""METEOR of the generated chains against the reference chains (NLTK's implementation), averaged over samples.

The reference code lists METEOR among its reasoning metrics. NLTK's METEOR aligns unigrams in three stages:
exact, Porter stem, and WordNet synonym. The WordNet corpus is a separate download that no package registry
ships, so this metric runs the first two stages only (``synonyms:none`` in its signature) and gives the same
value on every machine; the name on the leaderboard says "exact+stem". Text is split with sacrebleu's 13a
tokenizer (the BLEU and ROUGE-L tokens) and lowercased; alpha 0.9, beta 3, gamma 0.5 (NLTK's defaults).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.overlap import tokens
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

PARAMS = {"alpha": 0.9, "beta": 3.0, "gamma": 0.5}


class NoSynonyms:
    """Stands in for NLTK's WordNet reader: no word has synonyms, so only exact and stem matches align."""

    def synsets(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        return []


def meteor_scores(hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """Per pair: METEOR (0-1) with exact and stem matching; 0 when either side has no tokens."""
    from nltk.stem.porter import PorterStemmer
    from nltk.translate.meteor_score import single_meteor_score

    stemmer, wordnet = PorterStemmer(), NoSynonyms()
    out = []
    for h, r in zip(hyps, refs, strict=True):
        ht, rt = tokens(h), tokens(r)
        if not ht or not rt:
            out.append(0.0)
            continue
        out.append(float(single_meteor_score(rt, ht, stemmer=stemmer, wordnet=wordnet, **PARAMS)))
    return out


def cached_meteor(hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
    """:func:`meteor_scores` through the per-pair cache (the metric and the per-sample scores share it)."""
    return cached_pair_values("meteor", signature(), list(hyps), list(refs), cache, meteor_scores)


def signature() -> str:
    import nltk
    import sacrebleu

    params = ",".join(f"{k}:{v}" for k, v in PARAMS.items())
    return (
        f"nltk METEOR {nltk.__version__}|tok:13a (sacrebleu {sacrebleu.__version__})|lowercase|stem:porter|"
        f"synonyms:none|{params}|mean"
    )


class Meteor:
    """Mean per-sample METEOR (exact+stem) over samples with a reference."""

    def signature(self) -> str:
        return signature()

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "meteor", lambda hyps, refs: cached_meteor(hyps, refs, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "meteor", lambda hyps, refs: cached_meteor(hyps, refs, cache))
