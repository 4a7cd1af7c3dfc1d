"""Frozen all-MiniLM-L6-v2 token states of a post with its target marked, cached by content as float16.

The input is the pair ``[CLS] target [SEP] text [SEP]`` at aspect level (the text alone at post level), so every
text token is contextualised with the target. Each cached row is ``(L, 385)`` float16: the 384 hidden states and a
mark per token (0 other, 1 the target segment, 2 a token inside an occurrence of the target in the text).
Rows live in the features store under ``all-minilm-l6-v2-tokens``, keyed by the weights' sha256, the layout
version, ``max_length``, the target and the text, so a post is encoded once ever.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from mulcot_features.encoders import TextEncoder
from mulcot_features.store import FeatureStore, features_root, sha256

from mulcot_bench.plugin import get_logger
from mulcot_bench.plugin.training import torch_threads

LAYOUT = "pair-target-text-marks-f16-v1"
DIM = 384
WORD_RE = re.compile(r"[^\W_]+")  # a post word a chain may copy: a run of Unicode letters and digits


def spans(text: str, target: str | None) -> list[tuple[int, int]]:
    """Character spans of every case-insensitive occurrence of ``target`` in ``text``."""
    if not target or not target.strip():
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(target.strip()), text, flags=re.I)]


class TokenEncoder:
    """MiniLM token states with marks; the model is loaded only when something is not cached."""

    def __init__(self, max_length: int = 128, threads: int | None = None, batch_size: int = 64) -> None:
        self.text = TextEncoder(None, max_length=max_length, threads=threads)  # raises ModelUnavailable
        self.max_length = max_length
        self.threads = threads
        self.batch_size = batch_size
        self.store = FeatureStore(features_root(None) / "all-minilm-l6-v2-tokens")
        self.stats = {"requested": 0, "cache_hits": 0, "encoded": 0}
        self._tokenizer: Any = None

    @property
    def identity(self) -> dict[str, Any]:
        return {"encoder": "all-MiniLM-L6-v2", "weights_sha256": self.text.fingerprint, "layout": LAYOUT,
                "max_length": self.max_length}

    def tokenizer(self) -> Any:
        """MiniLM's fast tokenizer alone (the model is not loaded)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.text.model_dir), local_files_only=True)
        return self._tokenizer

    def _call(self, tokenizer: Any, targets: list[str | None], texts: list[str], **extra: Any) -> Any:
        """The tokenizer call the cached rows come from: the pair, or the text alone when a target is missing."""
        if all(t is not None for t in targets):
            return tokenizer(targets, texts, truncation="only_second", max_length=self.max_length,
                             return_offsets_mapping=True, **extra)
        return tokenizer(texts, truncation=True, max_length=self.max_length, return_offsets_mapping=True, **extra)

    def words(self, items: Sequence[tuple[str, str | None]]) -> list[list[tuple[str, list[int]]]]:
        """Per ``(text, target)``, the distinct words of the text (runs of letters and digits, case kept, in order
        of first occurrence), then the lower-cased forms not among them, each with the rows of its first
        occurrence's tokens in the cached ``(L, 385)`` array; a word cut off by ``max_length`` is left out. These
        are the words a chain decoder may copy."""
        tokenizer = self.tokenizer()
        out: list[list[tuple[str, list[int]]]] = []
        for text, target in items:
            enc = self._call(tokenizer, [target], [text])
            segment = 1 if target is not None else 0
            seq = enc.sequence_ids(0)
            pieces = [(j, a, b) for j, (a, b) in enumerate(enc["offset_mapping"][0]) if seq[j] == segment and b > a]
            found: dict[str, list[int]] = {}
            for m in WORD_RE.finditer(text):
                if m.group() in found:
                    continue
                rows = [j for j, a, b in pieces if a < m.end() and b > m.start()]
                if rows:
                    found[m.group()] = rows
            lower = {w.lower(): rows for w, rows in found.items() if w.lower() not in found}
            out.append([*found.items(), *lower.items()])
        return out

    def _key(self, text: str, target: str | None) -> str:
        return sha256(f"{self.text.fingerprint}|{LAYOUT}|{self.max_length}|{target!r}|{text}".encode())

    def encode(self, items: Sequence[tuple[str, str | None]]) -> list[np.ndarray]:
        """One ``(L, 385)`` float16 array per ``(text, target)``."""
        out: list[np.ndarray | None] = [None] * len(items)
        pending: dict[str, tuple[tuple[str, str | None], list[int]]] = {}
        for i, (text, target) in enumerate(items):
            self.stats["requested"] += 1
            digest = self._key(text, target)
            if digest in pending:
                pending[digest][1].append(i)
                continue
            hit = self.store.get(digest)
            if hit is not None and hit.ndim == 2 and hit.shape[1] == DIM + 1:
                self.stats["cache_hits"] += 1
                out[i] = hit
            else:
                pending[digest] = ((text, target), [i])
        order = sorted(pending.items(), key=lambda kv: (kv[1][0][1] is None, len(kv[1][0][0])))
        start, done = time.perf_counter(), 0
        with torch_threads(self.threads if order else None):
            for b in range(0, len(order), self.batch_size):
                batch = order[b : b + self.batch_size]
                rows = self._encode([item for _, (item, _) in batch])
                for (digest, (_, indices)), row in zip(batch, rows, strict=True):
                    self.store.put(digest, row)
                    self.stats["encoded"] += 1
                    for i in indices:
                        out[i] = row
                done += len(batch)
                if len(order) > 500 and (b // self.batch_size) % 20 == 0:
                    get_logger("encoder").info(
                        f"[enc] MiniLM token states {done}/{len(order)} ({time.perf_counter() - start:.0f}s)"
                    )
        return out  # type: ignore[return-value]

    def _encode(self, items: list[tuple[str, str | None]]) -> list[np.ndarray]:
        """Pairs and single texts are encoded in separate forward passes (a batch may hold both)."""
        pairs = [i for i, (_, t) in enumerate(items) if t is not None]
        single = [i for i, (_, t) in enumerate(items) if t is None]
        out: dict[int, np.ndarray] = {}
        for group in (pairs, single):
            if group:
                out.update(zip(group, self._forward([items[i] for i in group]), strict=True))
        return [out[i] for i in range(len(items))]

    def _forward(self, items: list[tuple[str, str | None]]) -> list[np.ndarray]:
        import torch

        tokenizer, model = self.text.load()
        enc = self._call(tokenizer, [t for _, t in items], [x for x, _ in items], padding=True,
                         return_tensors="pt")
        offsets = enc.pop("offset_mapping")
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state.float().numpy()
        rows = []
        for i, (text, target) in enumerate(items):
            n = int(enc["attention_mask"][i].sum())
            marks = np.zeros(n, np.float32)
            if target is not None:
                seq = enc.sequence_ids(i)
                occ = spans(text, target)
                for j in range(n):
                    if seq[j] == 0:
                        marks[j] = 1
                    elif seq[j] == 1:
                        a, b = (int(v) for v in offsets[i, j])
                        if any(a < e and b > s for s, e in occ):
                            marks[j] = 2
            rows.append(np.concatenate([hidden[i, :n], marks[:, None]], axis=1).astype(np.float16))
        return rows
