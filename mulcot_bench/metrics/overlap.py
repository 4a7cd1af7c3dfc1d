"""Token-overlap reasoning metrics: ROUGE-L F (own LCS) and Distinct-1/2 of the generated rationales.

Both split text with sacrebleu's 13a tokenizer (case kept, no stemming), the tokenizer of the BLEU figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample


@lru_cache(maxsize=1)
def _tokenizer_13a() -> Any:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def tokens(text: str) -> list[str]:
    """13a tokens of ``text`` (sacrebleu's default BLEU tokenizer), split on whitespace."""
    return _tokenizer_13a()(text).split()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004): one big-int step per token of ``a``."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(b):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for tok in a:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def rouge_l_f(hyp: str, ref: str) -> float:
    """ROUGE-L F1 (beta = 1) of one pair: 2PR / (P + R) from the LCS of their 13a tokens; 0 when either is empty."""
    h, r = tokens(hyp), tokens(ref)
    lcs = lcs_length(h, r)
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(h), lcs / len(r)
    return 2 * p * rec / (p + rec)


class RougeL:
    """Mean per-sample ROUGE-L F over samples with a reference."""

    def signature(self) -> str:
        import sacrebleu

        return f"mulcot_bench ROUGE-L F1 (own LCS)|tok:13a (sacrebleu {sacrebleu.__version__})|case:mixed|stem:no|mean"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "rouge_l", lambda hyps, refs: self.pair_scores(hyps, refs, cache))

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
        """One ROUGE-L F per pair, through the per-pair cache (the score and its per-sample values share it)."""

        def score(h: list[str], r: list[str]) -> list[float]:
            return [rouge_l_f(a, b) for a, b in zip(h, r, strict=True)]

        return cached_pair_values("rouge_l", self.signature(), list(hyps), list(refs), cache, score)

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "rouge_l", lambda hyps, refs: self.pair_scores(hyps, refs, cache))


def distinct(texts: Sequence[str], n: int) -> float | None:
    """Distinct-n over a corpus: distinct n-grams / all n-grams, pooled over texts; None if there are none."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        toks = tokens(text)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


class Distinct:
    """Distinct-1 and Distinct-2 of the GENERATED rationales, pooled over the test split.

    The released MulCoT-RD code computes Distinct on the references by mistake; this one scores the model.
    """

    def signature(self) -> str:
        import sacrebleu

        return (
            f"mulcot_bench Distinct-n, corpus-pooled, of generated rationales|tok:13a|sacrebleu:{sacrebleu.__version__}"
        )

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        if all(p.rationale is None for p in preds):
            return {"distinct_1": None, "distinct_2": None}
        texts = [p.rationale or "" for p in preds]
        return {"distinct_1": distinct(texts, 1), "distinct_2": distinct(texts, 2)}
