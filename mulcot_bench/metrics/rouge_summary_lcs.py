"""The ``rouge`` package's ROUGE-L F (``Rouge().get_scores(h, r)[0]["rouge-l"]["f"]``), reproduced bit for bit, fast.

What package version :data:`REPRODUCED_VERSION` computes, step by step (``rouge/rouge.py``, ``rouge/rouge_score.py``):

- sentences: the text split on ``'.'``, empty pieces dropped, each piece's whitespace runs joined by one space and
  split on ``' '`` (a whitespace-only piece gives the one token ``""``); no sentence at all (a text of dots only)
  is a ``ValueError``;
- ``m``, ``n``: the number of DISTINCT tokens of the reference and of the hypothesis (the package counts sets);
- for every (reference sentence, hypothesis sentence) pair, one longest common subsequence is rebuilt from the
  dynamic-programming table (match: diagonal; else up when ``table[i-1][j] > table[i][j-1]``, else left) and its
  WORDS are collected into one set over all pairs; ``llcs`` is the size of that set;
- ``P = llcs / n``, ``R = llcs / m``, ``F = 2 * ((P * R) / (P + R + 1e-8))``.

The same steps here, faster: each text's sentences are split once per call (a reference shared by several
hypotheses is prepared once), a table row is one bit vector (Hyyrö's bit-parallel LCS, one big-int step per
word) from which any table cell is a popcount, and a sentence pair is skipped when every word it shares is
already in the set (an LCS holds only shared words, so it could add nothing; the set is a union, so the order of
the pairs does not matter). The package rebuilds each LCS recursively, one Python frame per step, so a very long
sentence pair can raise ``RecursionError`` there; pairs with a sentence pair of :data:`DEEP_PAIR` words or more
are therefore handed to the package itself, so they fail (or not) exactly as before.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

#: the ``rouge`` release whose ROUGE-L this module reproduces; another installed version is called pair by pair
REPRODUCED_VERSION = "1.0.1"
#: a (reference sentence, hypothesis sentence) pair with this many words or more goes to the package, whose
#: recursive LCS rebuild takes up to that many frames (Python's default limit is 1,000)
DEEP_PAIR = 400


class NotScorable(ValueError):
    """The package raises for this pair (no sentence on one side, or recursion past Python's limit)."""


@dataclass
class RougeText:
    """One text as the package sees it: sentences of tokens, and per sentence the bit mask of each word."""

    sentences: list[list[str]]
    words: set[str]
    sentence_words: list[set[str]]
    longest: int
    _masks: list[dict[str, int]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, text: str) -> RougeText:
        """Split ``text`` as ``Rouge._get_scores`` and ``_split_into_words`` do."""
        sentences = [" ".join(piece.split()).split(" ") for piece in text.split(".") if piece]
        sentence_words = [set(s) for s in sentences]
        words = set().union(*sentence_words)
        return cls(sentences, words, sentence_words, max((len(s) for s in sentences), default=0))

    def masks(self) -> list[dict[str, int]]:
        """Per sentence: word -> bit mask of its positions (bit i: token i), built on first use."""
        if self._masks is None:
            self._masks = []
            for sentence in self.sentences:
                at: dict[str, int] = {}
                for i, word in enumerate(sentence):
                    at[word] = at.get(word, 0) | (1 << i)
                self._masks.append(at)
        return self._masks


def lcs_words(x: Sequence[str], x_masks: dict[str, int], y: Sequence[str]) -> list[str]:
    """The words of the LCS of ``x`` and ``y`` that ``rouge_score._recon_lcs(x, y)`` rebuilds (same tie-breaks).

    Row ``j`` of the package's table (``table[i][j]`` = LCS of ``x[:i]`` and ``y[:j]``) is the bit vector ``rows[j]``
    over ``x``: ``table[i][j]`` is ``i`` less the set bits among its low ``i`` bits (Hyyrö 2004)."""
    full = (1 << len(x)) - 1
    v = full
    rows = [v]
    for word in y:
        u = v & x_masks.get(word, 0)
        v = ((v + u) | (v - u)) & full
        rows.append(v)

    out: list[str] = []
    i, j = len(x), len(y)
    while i and j:
        if x[i - 1] == y[j - 1]:
            out.append(x[i - 1])
            i -= 1
            j -= 1
        # table[i-1][j] > table[i][j-1], each cell as i less the set bits among the row's low i bits
        elif (i - 1) - (rows[j] & ((1 << (i - 1)) - 1)).bit_count() > i - (rows[j - 1] & ((1 << i) - 1)).bit_count():
            i -= 1
        else:
            j -= 1
    return out


def union_lcs_size(hyp: RougeText, ref: RougeText) -> int:
    """``llcs`` of ``rouge_score.rouge_l_summary_level``: the size of the union of the LCS words of every
    (reference sentence, hypothesis sentence) pair."""
    shared = hyp.words & ref.words
    union: set[str] = set()
    if not shared:
        return 0
    masks = ref.masks()
    for x, x_masks, x_words in zip(ref.sentences, masks, ref.sentence_words, strict=True):
        if x_words.isdisjoint(shared):
            continue
        for y, y_words in zip(hyp.sentences, hyp.sentence_words, strict=True):
            if (x_words & y_words) <= union:
                continue
            union.update(lcs_words(x, x_masks, y))
            if len(union) == len(shared):
                return len(union)
    return len(union)


def rouge_l_f(hyp: RougeText, ref: RougeText) -> float:
    """The package's ROUGE-L F of one pair of prepared texts; :class:`NotScorable` where the package raises
    ``ValueError`` (a side without sentences); a pair with a sentence pair of :data:`DEEP_PAIR` words or more
    must go to the package instead (see :func:`needs_package`)."""
    if not hyp.sentences or not ref.sentences:
        raise NotScorable("Collections must contain at least 1 sentence.")
    llcs = union_lcs_size(hyp, ref)
    r_lcs = llcs / len(ref.words)
    p_lcs = llcs / len(hyp.words)
    return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))


def needs_package(hyp: RougeText, ref: RougeText) -> bool:
    """Whether the pair goes to the package: another installed version, or a sentence pair long enough that the
    package's recursive LCS rebuild may pass Python's recursion limit."""
    return not reproduces_installed() or hyp.longest + ref.longest >= DEEP_PAIR


@lru_cache(maxsize=1)
def reproduces_installed() -> bool:
    """Whether the installed ``rouge`` is the version this module reproduces."""
    return importlib.metadata.version("rouge") == REPRODUCED_VERSION


def package_rouge_l_f(hyp: str, ref: str) -> float:
    """The package itself, as the release calls it: ``Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"]``; its
    ``ValueError`` and ``RecursionError`` become :class:`NotScorable`."""
    from rouge import Rouge

    try:
        return float(Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"])
    except (ValueError, RecursionError) as exc:
        raise NotScorable(str(exc)) from exc


class RougeLScorer:
    """Scores many pairs, preparing each distinct text once (a reference shared by several hypotheses, too)."""

    def __init__(self) -> None:
        self._texts: dict[str, RougeText] = {}

    def prepared(self, text: str) -> RougeText:
        """``text`` split into sentences and tokens, from this scorer's memo where present."""
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = RougeText.of(text)
        return found

    def score(self, hyp: str, ref: str) -> float:
        """The package's ROUGE-L F of ``(hyp, ref)``; :class:`NotScorable` where the package raises."""
        h, r = self.prepared(hyp), self.prepared(ref)
        if not h.sentences or not r.sentences:
            raise NotScorable("Collections must contain at least 1 sentence.")
        if needs_package(h, r):
            return package_rouge_l_f(hyp, ref)
        return rouge_l_f(h, r)
