"""The MulCoT-RD release's own reasoning metrics, computed with the libraries it calls, beside the project's.

- sentence BLEU-4 (``bleu4_sentence_ref``): always order 4, no smoothing, so a hypothesis under 4 tokens or with
  no matching n-gram of some order scores 0; 13a tokens, case kept; averaged, x100. sacrebleu's
  ``BLEU.compute_bleu`` on the per-pair statistics the other BLEU figures cache (an empty hypothesis scores 0
  where the release's own BLEU code divides by zero).
- ROUGE-L (``rouge_l_ref``): ``rouge.Rouge().get_scores(h, r)[0]["rouge-l"]["f"]`` (summary-level LCS over
  sentences split on '.', whitespace tokens, case kept; the package's F is 2PR / (P + R + 1e-8) over distinct-word
  counts); an empty side, or a pair the package cannot score (it raises for a text of dots only and recurses past
  Python's limit on very long sentences), scores 0, as the release does; such pairs are counted in a warning.
  Computed by a bit-identical reimplementation (:mod:`mulcot_bench.metrics.rouge_summary_lcs`), about 30x faster.
- METEOR (``meteor_ref``): ``nltk.translate.meteor_score.meteor_score([ref], hyp)`` on Treebank tokens of the
  lowercased texts, with NLTK's defaults (Porter stems, WordNet synonyms, alpha 0.9, beta 3, gamma 0.5). Without
  an installed WordNet (:mod:`mulcot_bench.metrics.wordnet`) the synonym stage is off and the signature says
  ``synonyms:none``.
- Distinct-n (``distinct_1_ref``, ``distinct_2_ref``): the mean over texts of distinct / all n-grams of the
  lowercased Treebank tokens (a text under n tokens scores 0), over the GENERATED rationales: the release scores
  its references, a bug not copied here.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.metrics import wordnet
from mulcot_bench.metrics.bleu import cached_sentence_scores
from mulcot_bench.metrics.meteor import PARAMS, NoSynonyms
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.metrics.rouge_summary_lcs import NotScorable, RougeLScorer
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _treebank() -> Any:
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


def treebank_tokens(text: str) -> list[str]:
    """NLTK Treebank tokens of the lowercased text (the release's METEOR and Distinct tokens)."""
    return _treebank().tokenize(text.lower())


# --- sentence BLEU-4 ------------------------------------------------------------------------------------------


def bleu_from_stats(stats: Sequence[int]) -> float:
    """Sentence BLEU (0-100), order 4 and no smoothing, from ``[sys_len, ref_len, correct x4, total x4]``."""
    from sacrebleu.metrics.bleu import BLEU

    s = [int(x) for x in stats]
    return float(
        BLEU.compute_bleu(
            correct=s[2:6], total=s[6:10], sys_len=s[0], ref_len=s[1], smooth_method="none", effective_order=False
        ).score
    )


class ReferenceSentenceBleu:
    """Mean sentence BLEU-4 as the release computes it (no effective order: short hypotheses score 0)."""

    def signature(self) -> str:
        from sacrebleu.metrics.bleu import BLEU

        bleu = BLEU(tokenize="13a", smooth_method="none", effective_order=False)
        bleu.corpus_score(["signature probe"], [["signature probe"]])  # sacrebleu knows nrefs only after a score
        return f"sacrebleu BLEU.compute_bleu per sample, averaged over samples (0-100)|{bleu.get_signature()}"

    def _scores(self, hyps: list[str], refs: list[str], cache: Cache | None) -> list[float]:
        return [bleu_from_stats(s) for s in cached_sentence_scores(hyps, refs, cache)[1]]

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "bleu4_sentence_ref", lambda h, r: self._scores(h, r, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "bleu4_sentence_ref", lambda h, r: self._scores(h, r, cache))


# --- ROUGE-L (rouge package) ----------------------------------------------------------------------------------


def rouge_l_scores(hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """Per pair: the ``rouge`` package's ROUGE-L F; 0 for an empty side or a pair the package cannot score.

    Computed by :mod:`mulcot_bench.metrics.rouge_summary_lcs`, which gives the package's values bit for bit (a
    test holds it to the package) and hands the package the pairs it might fail on."""
    scorer = RougeLScorer()
    out: list[float] = []
    failed = 0
    for h, r in zip(hyps, refs, strict=True):
        if not h.strip() or not r.strip():
            out.append(0.0)
            continue
        try:
            out.append(scorer.score(h, r))
        except NotScorable:
            failed += 1
            out.append(0.0)
    if failed:
        log.warning(
            "ROUGE-L (rouge package): %d of %d pairs could not be scored by the package; scored 0 as "
            "the MulCoT-RD release does",
            failed,
            len(out),
        )
    return out


class ReferenceRougeL:
    """Mean per-sample ROUGE-L F of the ``rouge`` package, over samples with a reference."""

    def signature(self) -> str:
        return (
            f"rouge {importlib.metadata.version('rouge')} Rouge().get_scores(h, r)[0]['rouge-l']['f']"
            "|summary-level LCS over '.'-split sentences|tok:whitespace|case:mixed|F beta=P/R"
            "|empty or unscorable pair=0|mean"
        )

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
        return cached_pair_values("rouge_l_ref", self.signature(), list(hyps), list(refs), cache, rouge_l_scores)

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "rouge_l_ref", lambda h, r: self.pair_scores(h, r, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "rouge_l_ref", lambda h, r: self.pair_scores(h, r, cache))


# --- METEOR (nltk, Treebank tokens, WordNet synonyms) ---------------------------------------------------------


def meteor_scores(hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """Per pair: NLTK's ``meteor_score`` as the release calls it (synonyms only where WordNet is installed)."""
    from nltk.translate.meteor_score import meteor_score

    reader = wordnet.wordnet() or NoSynonyms()
    return [
        float(meteor_score([treebank_tokens(r)], treebank_tokens(h), wordnet=reader, **PARAMS))
        for h, r in zip(hyps, refs, strict=True)
    ]


class ReferenceMeteor:
    """Mean per-sample METEOR over Treebank tokens with WordNet synonyms, over samples with a reference."""

    def signature(self) -> str:
        import nltk

        params = ",".join(f"{k}:{v}" for k, v in PARAMS.items())
        return (
            f"nltk METEOR {nltk.__version__} meteor_score([ref], hyp)|tok:treebank (nltk)|lowercase|stem:porter"
            f"|synonyms:{wordnet.version()}|{params}|mean"
        )

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
        return cached_pair_values("meteor_ref", self.signature(), list(hyps), list(refs), cache, meteor_scores)

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "meteor_ref", lambda h, r: self.pair_scores(h, r, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "meteor_ref", lambda h, r: self.pair_scores(h, r, cache))


# --- Distinct-n (mean of per-text ratios) ---------------------------------------------------------------------


def distinct_per_text(texts: Sequence[str], n: int) -> float | None:
    """Mean over texts of distinct / all n-grams of lowercased Treebank tokens (under n tokens: 0); None if no
    texts."""
    if not texts:
        return None
    ratios = []
    for text in texts:
        toks = treebank_tokens(text)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        ratios.append(len(set(grams)) / len(grams) if grams else 0.0)
    return sum(ratios) / len(ratios)


class ReferenceDistinct:
    """Distinct-1/2 as the release defines them (per-text mean, lowercased), of the GENERATED rationales."""

    def signature(self) -> str:
        import nltk

        return (
            "mulcot_bench Distinct-n, mean of per-text ratios, of generated rationales"
            f"|tok:treebank (nltk {nltk.__version__})|lowercase|text under n tokens=0"
        )

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        if all(p.rationale is None for p in preds):
            return {"distinct_1_ref": None, "distinct_2_ref": None}
        texts = [p.rationale or "" for p in preds]
        return {"distinct_1_ref": distinct_per_text(texts, 1), "distinct_2_ref": distinct_per_text(texts, 2)}
