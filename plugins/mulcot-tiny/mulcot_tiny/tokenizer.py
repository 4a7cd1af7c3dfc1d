"""A small lossless tokenizer: whitespace-carrying word pieces, with character and byte fallback.

Text is cut into pieces that carry their leading whitespace (``' great'``, ``'\\n\\n"'``); the rendered header of each
chain field (``'\\n\\n"Image_analysis": "'``) is a single piece. Frequent pieces
are vocabulary entries; any other piece falls back to its whitespace and word core, then to single
characters, then to UTF-8 bytes, so ``decode(encode(text)) == text`` for every string.
:meth:`Tokenizer.encode_post` also marks the target's mentions in a post and tags each token with its distance
to the nearest mention (the aspect-position feature of classic aspect-level sentiment models).
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from mulcot_bench.plugin import FIELDS

# a rendered field header ("\n\n"Image_analysis": "") is one piece; everything else is word/punctuation pieces
HEADERS: tuple[str, ...] = tuple(f'"{name}": "' for name in FIELDS)
PIECE_RE = re.compile(r"\s*(?:" + "|".join(re.escape(h) for h in HEADERS) + r")|\s*(?:\w+|[^\w\s])|\s+")
PAD, BOS, EOS, REASON, LABEL, SEP = "<pad>", "<bos>", "<eos>", "<reason>", "<label>", "<sep>"
TARGET_OPEN, TARGET_CLOSE = "<t>", "</t>"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, REASON, LABEL, SEP, TARGET_OPEN, TARGET_CLOSE)
BYTES: tuple[str, ...] = tuple(f"<0x{i:02X}>" for i in range(256))
BASE_CHARS: str = string.printable
FORMAT_VERSION = 1


def target_spans(text: str, target: str) -> list[tuple[int, int]]:
    """Character spans of the target's whole-word mentions (any case), each widened to its leading whitespace."""
    key = target.strip()
    if not key:
        return []
    spans: list[tuple[int, int]] = []
    for found in re.finditer(r"(?<!\w)" + re.escape(key) + r"(?!\w)", text, re.IGNORECASE):
        start = found.start()
        floor = spans[-1][1] if spans else 0
        while start > floor and text[start - 1].isspace():
            start -= 1
        spans.append((start, found.end()))
    return spans


def prompt_text(text: str, target: str | None, task: str, mark: bool) -> str:
    """The prompt a TinyVLM encodes, as text: ``<bos><task>target<sep>post<sep>`` (mentions in <t></t> with
    ``mark``), before the post is cut to ``max_prompt_tokens`` tokens."""
    post, at = [], 0
    for start, end in target_spans(text, target) if target else []:
        inner = text[start:end]
        post += [text[at:start], f"{TARGET_OPEN}{inner}{TARGET_CLOSE}" if mark else inner]
        at = end
    post.append(text[at:])
    return f"{BOS}{REASON if task == 'reasoning' else LABEL}{target or ''}{SEP}{''.join(post)}{SEP}"


def distance_tags(is_target: Sequence[bool], window: int) -> list[int]:
    """Aspect-distance tags: 1 = farther than ``window`` (or no mention), ``2 + d + window`` for |d| <= window.

    ``d`` is the signed token distance to the nearest target-mention token (0 inside a mention).
    """
    where = [i for i, flag in enumerate(is_target) if flag]
    tags = []
    for i in range(len(is_target)):
        d = min((i - j for j in where), key=abs, default=window + 1)
        tags.append(2 + d + window if abs(d) <= window else 1)
    return tags


def n_distance_tags(window: int) -> int:
    """Size of the tag vocabulary for ``window`` (0 when distance tags are off)."""
    return 2 * window + 3 if window > 0 else 0


def pretokenize(text: str) -> list[str]:
    """Cut ``text`` into pieces that concatenate back to it exactly."""
    return PIECE_RE.findall(text)


class Tokenizer:
    """Maps text to ids and back: the special tokens first, then 256 byte tokens, then characters and pieces."""

    def __init__(self, pieces: Sequence[str]) -> None:
        if tuple(pieces[: len(SPECIALS)]) != SPECIALS or tuple(pieces[len(SPECIALS) : len(SPECIALS) + 256]) != BYTES:
            raise ValueError("tokenizer vocabulary must start with the special and byte tokens")
        self.itos: list[str] = list(pieces)
        self.stoi: dict[str, int] = {p: i for i, p in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("tokenizer vocabulary has duplicate entries")
        self._n_reserved = len(SPECIALS) + 256
        self._memo: dict[str, tuple[int, ...]] = {}

    # construction -------------------------------------------------------------------------------
    @classmethod
    def train(
        cls, texts: Iterable[str], min_freq: int = 2, max_size: int = 4000, keep: Iterable[str] = ()
    ) -> Tokenizer:
        """Build a vocabulary from ``texts``: base characters plus pieces seen at least ``min_freq`` times.

        ``keep`` pieces (for example the label words) are always in the vocabulary.
        """
        counts: Counter[str] = Counter()
        chars: set[str] = set(BASE_CHARS)
        for text in texts:
            counts.update(pretokenize(text))
            chars.update(text)
        vocab: list[str] = [*SPECIALS, *BYTES]
        seen = set(vocab)
        for piece in [*sorted(chars), *HEADERS, *(f"\n\n{h}" for h in HEADERS), *keep]:
            if piece not in seen:
                vocab.append(piece)
                seen.add(piece)
        frequent = [p for p, c in counts.items() if c >= min_freq and p not in seen]
        frequent.sort(key=lambda p: (-counts[p], p))
        vocab.extend(frequent[: max(0, max_size - len(vocab))])
        return cls(vocab)

    # ids ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def id(self, token: str) -> int:
        """The id of a vocabulary entry (special token or piece); KeyError if absent."""
        return self.stoi[token]

    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def eos_id(self) -> int:
        return self.stoi[EOS]

    def _char_ids(self, chars: str) -> list[int]:
        out: list[int] = []
        for ch in chars:
            if ch in self.stoi:
                out.append(self.stoi[ch])
            else:
                out.extend(len(SPECIALS) + b for b in ch.encode("utf-8"))
        return out

    def _piece_ids(self, piece: str) -> tuple[int, ...]:
        found = self._memo.get(piece)
        if found is not None:
            return found
        if piece in self.stoi:
            ids = [self.stoi[piece]]
        else:
            core = piece.lstrip()
            lead = piece[: len(piece) - len(core)]
            ids = self._char_ids(lead)
            ids.extend([self.stoi[core]] if core in self.stoi else self._char_ids(core))
        result = tuple(ids)
        if len(self._memo) < 200_000:
            self._memo[piece] = result
        return result

    def encode(self, text: str) -> list[int]:
        """Ids for ``text`` (no special tokens added)."""
        out: list[int] = []
        for piece in pretokenize(text):
            out.extend(self._piece_ids(piece))
        return out

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Text for ``ids``; byte tokens are joined and decoded as UTF-8 (invalid bytes become U+FFFD)."""
        parts: list[str] = []
        pending = bytearray()
        n_special = len(SPECIALS)
        for i in ids:
            i = int(i)
            if n_special <= i < self._n_reserved:
                pending.append(i - n_special)
                continue
            if pending:
                parts.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
            if i < n_special:
                if not skip_special:
                    parts.append(self.itos[i])
            elif 0 <= i < len(self.itos):
                parts.append(self.itos[i])
        if pending:
            parts.append(pending.decode("utf-8", errors="replace"))
        return "".join(parts)

    def encode_post(self, text: str, target: str | None, mark: bool, window: int) -> tuple[list[int], list[int]]:
        """Ids of a post and their aspect-distance tags (all 0 when ``window`` is 0).

        With ``mark``, each target mention sits between <t> and </t> (the markers count as the mention).
        """
        spans = target_spans(text, target) if target else []
        ids: list[int] = []
        flags: list[bool] = []
        at = 0
        for start, end in spans:
            ids += self.encode(text[at:start])
            flags += [False] * (len(ids) - len(flags))
            inner = self.encode(text[start:end])
            if mark:
                inner = [self.stoi[TARGET_OPEN], *inner, self.stoi[TARGET_CLOSE]]
            ids += inner
            flags += [True] * len(inner)
            at = end
        ids += self.encode(text[at:])
        flags += [False] * (len(ids) - len(flags))
        return ids, (distance_tags(flags, window) if window > 0 else [0] * len(ids))

    # files --------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, object]:
        return {"format": "mulcot-tiny-tokenizer", "version": FORMAT_VERSION, "pieces": self.itos}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Tokenizer:
        if data.get("format") != "mulcot-tiny-tokenizer":
            raise ValueError("not a mulcot-tiny tokenizer file")
        pieces = data.get("pieces")
        if not isinstance(pieces, list):
            raise ValueError("tokenizer file has no piece list")
        return cls([str(p) for p in pieces])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Tokenizer:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
