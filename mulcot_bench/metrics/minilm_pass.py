"""One all-MiniLM-L6-v2 forward pass for BERTScore and the MiniLM cosine where their inputs agree; each text's
sentence embedding computed once per run.

Both metrics read the model's last layer (layer 6 of 6): BERTScore (bert-score, no idf, not rescaled) matches its
token embeddings greedily; the MiniLM cosine (sentence-transformers) mean-pools it over the real tokens and
L2-normalises (the model's Pooling and Normalize modules). A text that both libraries turn into the same word
pieces (bert-score keeps up to 510 of them, the sentence-transformers model 254, each plus [CLS] and [SEP]: every
text of at most 256 word pieces) gets the same hidden states from both, so one forward pass serves both:

- :meth:`MiniLMPass.sentence_embeddings` is ``SentenceTransformer.encode`` (what the MiniLM cosine has always
  called), and a text embedded once in a run (by either metric) is not embedded again: the sentence embeddings
  stay in a bounded memo;
- :meth:`MiniLMPass.bert_scores` runs that same ``encode`` over its texts with the token embeddings kept, gives
  bert-score's own greedy matching (``bert_score.utils.greedy_cos_idf``, pairs batched as ``bert_cos_score_idf``
  batches them) those token embeddings where bert-score's word pieces equal the pass's, and embeds the other texts
  (longer than 256 word pieces) with bert-score's model (``get_model``) and encoder (``bert_encode``) on
  bert-score's own word pieces (``sent_encode``), in batches of similar length.

BERTScore is registered before the MiniLM cosine, so in a run its pass fills the sentence embeddings the cosine
then reads. In a run with a cache, the references' embeddings also go to the cache's embedding store
(:mod:`mulcot_bench.metrics.embedding_store`), so the other processes of the run (its jobs) read them instead of
embedding the references again. The values agree with the two libraries' own calls to float32 rounding (the
batches differ): a test holds them to 1e-6 on real chains.
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from mulcot_bench.metrics.embedding_store import FOLDER, EmbeddingStore, store_key

#: word pieces the sentence-transformers model keeps per text, [CLS] and [SEP] included (its own max_seq_length)
MAX_LENGTH = 256
#: sentence embeddings kept per pass (384 float32 each: about 1.5 kB a text, so at most about 75 MB)
SENTENCE_MEMO = 50_000
#: texts per ``encode`` call of :meth:`MiniLMPass.bert_scores` (bounds the padded batches held at once)
ENCODE_SLICE = 1024


class MiniLMPass:
    """A sentence-transformers model (CPU), bert-score's tokenizer and model for the same folder, and the
    sentence embeddings computed so far."""

    def __init__(self, path: str, max_length: int, batch_size: int = 64) -> None:
        self.path = path
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any | None = None
        self._bert_tokenizer: Any | None = None
        self._bert_model: Any | None = None
        self._sentences: OrderedDict[str, Any] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.store: EmbeddingStore | None = None
        #: texts run through the sentence-transformers model, and through bert-score's (tests and benchmarks)
        self.encoded = 0
        self.bert_encoded = 0

    def model(self) -> Any:
        """``SentenceTransformer(path, device="cpu")`` with ``max_seq_length`` set, loaded on first use."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.path, device="cpu")
            self._model.max_seq_length = self.max_length
        return self._model

    def use_store(self, cache_folder: Path | None) -> None:
        """Look texts up in, and write the references to, the run's embedding store under ``cache_folder``
        (:mod:`mulcot_bench.metrics.embedding_store`); None: keep embeddings in memory only."""
        if cache_folder is None:
            self.store = None
            return
        versions = [f"{d}={importlib.metadata.version(d)}" for d in ("torch", "transformers", "sentence-transformers")]
        folder = cache_folder / FOLDER / store_key(self.path, self.max_length, "last layer", *versions)
        if self.store is None or self.store.folder != folder:
            self.store = EmbeddingStore(folder)

    def _stored(self, texts: list[str]) -> dict[str, tuple[Any, Any]]:
        """The stored (token, sentence) embeddings of ``texts``; their sentence embeddings join the memo."""
        if self.store is None or not texts:
            return {}
        found = self.store.load(texts)
        for text, (_, sentence) in found.items():
            self._remember(text, sentence)
        return found

    def layers(self) -> int:
        """The number of transformer layers of the model (the pass returns the last one's hidden states)."""
        return int(self.model()[0].auto_model.config.num_hidden_layers)

    def _remember(self, text: str, embedding: Any) -> None:
        with self._memo_lock:
            self._sentences[text] = embedding
            self._sentences.move_to_end(text)
            while len(self._sentences) > SENTENCE_MEMO:
                self._sentences.popitem(last=False)

    def _recall(self, texts: list[str]) -> dict[str, Any]:
        """The remembered embeddings of ``texts`` (each found one becomes the most recently used)."""
        with self._memo_lock:
            found = {t: self._sentences[t] for t in texts if t in self._sentences}
            for text in found:
                self._sentences.move_to_end(text)
            return found

    def sentence_embeddings(self, texts: Sequence[str]) -> Any:
        """One float32 row per text, as ``SentenceTransformer.encode(texts)`` returns them; a text already
        embedded in this run (by either metric) is not embedded again."""
        import numpy as np

        unique = list(dict.fromkeys(texts))
        found = self._recall(unique)
        found.update((t, sentence) for t, (_, sentence) in self._stored([t for t in unique if t not in found]).items())
        missing = [t for t in unique if t not in found]
        if missing:
            self.encoded += len(missing)
            rows = self.model().encode(
                missing, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
            for text, row in zip(missing, rows, strict=True):
                found[text] = row
                self._remember(text, row)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def _encode_with_tokens(self, texts: list[str], wanted: dict[str, list[int]]) -> dict[str, Any]:
        """``encode`` over ``texts`` (sentence embeddings remembered), longest first in slices of
        :data:`ENCODE_SLICE`; returns the token embeddings of the real tokens of each text whose word pieces equal
        ``wanted[text]`` (bert-score's)."""
        self.encoded += len(texts)
        ordered = sorted(texts, key=len, reverse=True)  # encode's own order, so slicing keeps its batches
        tokens: dict[str, Any] = {}
        for start in range(0, len(ordered), ENCODE_SLICE):
            part = ordered[start : start + ENCODE_SLICE]
            items = self.model().encode(part, batch_size=self.batch_size, output_value=None, show_progress_bar=False)
            for text, item in zip(part, items, strict=True):
                self._remember(text, item["sentence_embedding"].cpu().numpy())
                real = item["attention_mask"].bool()
                if item["input_ids"][real].tolist() == wanted[text]:
                    tokens[text] = item["token_embeddings"][real]
        return tokens

    def bert_tokenizer(self) -> Any:
        """bert-score's tokenizer for the folder: ``get_tokenizer(path, use_fast=False)`` (BERTScorer's default)."""
        if self._bert_tokenizer is None:
            from bert_score.utils import get_tokenizer

            self._bert_tokenizer = get_tokenizer(self.path, use_fast=False)
        return self._bert_tokenizer

    def bert_model(self) -> Any:
        """bert-score's model for the folder: ``get_model(path, layers)``, loaded only for a text that needs it."""
        if self._bert_model is None:
            from bert_score.utils import get_model

            self._bert_model = get_model(self.path, self.layers())
        return self._bert_model

    def bert_token_stats(self, texts: Sequence[str], keep: Collection[str] = ()) -> dict[str, tuple[Any, Any]]:
        """text -> (token embeddings, idf weights) as ``bert_score.utils.bert_cos_score_idf`` builds them with idf
        off ([CLS] and [SEP] weigh 0, every other word piece 1); from the store where a text is there, else from
        the shared pass where the word pieces agree, else from bert-score's model on bert-score's word pieces.
        The texts of ``keep`` (the references) that had to be embedded are written to the store."""
        import torch
        from bert_score.utils import sent_encode

        unique = sorted(set(texts))
        tokenizer = self.bert_tokenizer()
        ids = {t: sent_encode(tokenizer, t) for t in unique}
        special = {tokenizer.sep_token_id, tokenizer.cls_token_id}

        def idf(text: str) -> Any:
            return torch.tensor([0.0 if i in special else 1.0 for i in ids[text]])

        def from_store(group: list[str]) -> dict[str, tuple[Any, Any]]:
            return {t: (torch.from_numpy(tokens), idf(t)) for t, (tokens, _) in self._stored(group).items()}

        stats: dict[str, tuple[Any, Any]] = {}
        refs = sorted(set(keep) & set(unique))
        if self.store is not None and refs:
            # the references first, under the store's lock: a job that arrives while another embeds them waits
            # (its CPU goes to that job) and then reads them, so each reference is embedded once per run
            with self.store.locked():
                stats.update(from_store(refs))
                new = [t for t in refs if t not in stats]
                stats.update((t, (emb, idf(t))) for t, emb in self._embed(new, ids).items())
                self._store_new(stats, new)
        rest = [t for t in unique if t not in stats]
        stats.update(from_store(rest))
        rest = [t for t in rest if t not in stats]
        stats.update((t, (emb, idf(t))) for t, emb in self._embed(rest, ids).items())
        return stats

    def _embed(self, texts: list[str], ids: dict[str, list[int]]) -> dict[str, Any]:
        """Each text's token embeddings (its real tokens, last layer): from the shared pass where bert-score's word
        pieces ``ids[text]`` equal the pass's, else from bert-score's model on ``ids[text]``."""
        import torch
        from bert_score.utils import bert_encode, padding

        if not texts:
            return {}
        out = self._encode_with_tokens(texts, ids)
        own = sorted((t for t in texts if t not in out), key=lambda t: len(ids[t]), reverse=True)
        if own:
            model, pad_id = self.bert_model(), self.bert_tokenizer().pad_token_id
            self.bert_encoded += len(own)
            for start in range(0, len(own), self.batch_size):
                batch = own[start : start + self.batch_size]
                padded, lens, mask = padding([ids[t] for t in batch], pad_id, dtype=torch.long)
                embs = bert_encode(model, padded, attention_mask=mask)
                for i, text in enumerate(batch):
                    out[text] = embs[i, : int(lens[i])]
        return out

    def _store_new(self, stats: dict[str, tuple[Any, Any]], texts: list[str]) -> None:
        """Write ``texts``' token embeddings (from ``stats``) and sentence embeddings (from the memo) to the store."""
        if self.store is None or not texts:
            return
        sentences = self._recall(texts)
        self.store.save({t: (stats[t][0].detach().cpu().numpy(), sentences[t]) for t in texts if t in sentences})

    def bert_scores(self, hyps: Sequence[str], refs: Sequence[str]) -> list[list[float]]:
        """Per pair [P, R, F1] of ``BERTScorer(model_type=path, num_layers=<all>).score(hyps, refs)`` (idf off, not
        rescaled, batches of 64 pairs), from the pass that also fills the sentence embeddings."""
        return greedy_pairs(list(hyps), list(refs), self.bert_token_stats(list(hyps) + list(refs), keep=set(refs)))


def greedy_pairs(
    hyps: list[str], refs: list[str], stats: dict[str, tuple[Any, Any]], batch_size: int = 64
) -> list[list[float]]:
    """bert-score's matching loop (``bert_cos_score_idf`` after its embeddings): pairs in batches of
    ``batch_size`` (BERTScorer.score's default), each side padded with 2.0 and a length mask, then
    ``greedy_cos_idf``."""
    import torch
    from bert_score.utils import greedy_cos_idf
    from torch.nn.utils.rnn import pad_sequence

    def padded(batch: list[str]) -> tuple[Any, Any, Any]:
        emb = [stats[s][0] for s in batch]
        lens = torch.tensor([e.size(0) for e in emb], dtype=torch.long)
        mask = torch.arange(int(lens.max()), dtype=torch.long).expand(len(lens), -1) < lens.unsqueeze(1)
        idf = pad_sequence([stats[s][1] for s in batch], batch_first=True)
        return pad_sequence(emb, batch_first=True, padding_value=2.0), mask, idf

    out: list[list[float]] = []
    with torch.no_grad():
        for start in range(0, len(refs), batch_size):
            p, r, f = greedy_cos_idf(
                *padded(refs[start : start + batch_size]), *padded(hyps[start : start + batch_size]), False
            )
            out.extend([float(a), float(b), float(c)] for a, b, c in zip(p, r, f, strict=True))
    return out


_PASSES: dict[tuple[str, int, int], MiniLMPass] = {}


def shared_pass(path: str, max_length: int = MAX_LENGTH, batch_size: int = 64) -> MiniLMPass:
    """The one pass of this process for a model folder, word-piece limit and batch size (both metrics get the
    same object)."""
    found = _PASSES.get((path, max_length, batch_size))
    if found is None:
        found = _PASSES[(path, max_length, batch_size)] = MiniLMPass(path, max_length, batch_size)
    return found


def forget_passes() -> None:
    """Drop every pass of this process (their models and sentence embeddings)."""
    _PASSES.clear()
