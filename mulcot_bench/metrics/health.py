"""Reasoning-health metrics: does a chain loop, use its post, name its target, and keep each field on its topic.

Overlap scores (BLEU, BERTScore) reward a chain for the template wording it shares with the reference, so a
chain that repeats itself and barely mentions the post can still score well. These metrics look at the chain
itself. All of them split text the same way, :func:`words`: lower-cased, then the runs of Unicode letters and
digits (regex ``[^\\W_]+``), so ``"Text_analysis"`` is two words and ``"#onlyONE"`` is ``onlyone``.

* :class:`Repetition`: the share of a chain's word 3-grams that repeat an earlier 3-gram of the same chain.
* :class:`Grounding`: the share of the post's content words the chain uses; whether it names the aspect target;
  the share of the reference's image facts (its Image_analysis words that are not in the post) that the
  chain's Image_analysis uses.
* :class:`FieldTopic`: the share of the chain's four free-text fields that a naive Bayes classifier, fitted on
  the split's other reference chains, assigns to their own field name.

:func:`reference_ceiling` scores the reference chains themselves. Exact definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mulcot_bench.cache import Cache
from mulcot_bench.rationale import FIELDS, parse_label
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.types import Prediction, Sample

VERSION = 1  # bump when a definition below changes: it is part of every signature
WORD_RE = re.compile(r"[^\W_]+")
TOKENS = r"tok:regex [^\W_]+ (Unicode letters and digits) of the lower-cased text"
NGRAM = 3
MIN_CONTENT_LENGTH = 4  # a content word is longer than 3 characters
TOPIC_FIELDS: tuple[str, ...] = FIELDS[:-1]  # the four free-text fields; Prediction is a label
SMOOTHING = 1.0  # add-one (Laplace) smoothing of the per-field word counts


_NAMES = "|".join(name.replace("_", "[_ ]") for name in FIELDS)
#: a field name as ``"Name":`` (the chain format), or at a line start (after Markdown marks) followed by a colon or
#: the line's end: ``## Image_analysis``, ``**Image_analysis**:``; a sentence starting "Image analysis shows" is no name
FIELD_RE = re.compile(rf'"({_NAMES})"\s*:|^[ \t#*>-]*({_NAMES})[ \t*]*(?::|$)', re.I | re.M)
_CANONICAL = {name.lower(): name for name in FIELDS}


def chain_fields(text: str | None) -> dict[str, str]:
    """The fields of a chain, read more leniently than :func:`mulcot_bench.rationale.parse` (which checks the
    format): names also at a line start followed by a colon or the line's end (``## Image_analysis``,
    ``Name:``), any case, ``_`` or a space; the first occurrence of a name wins. Equal to ``parse(text).fields``
    on well-formed chains."""
    text = text or ""
    found = list(FIELD_RE.finditer(text))
    out: dict[str, str] = {}
    for i, match in enumerate(found):
        name = _CANONICAL[re.sub(r"\s", "_", match.group(1) or match.group(2)).lower()]
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        out.setdefault(name, text[match.end() : end].strip(" \t\r\n,\"'`{}#*"))
    return out


def words(text: str | None) -> list[str]:
    """The word tokens every health metric uses: runs of letters and digits of the lower-cased text."""
    return WORD_RE.findall((text or "").lower())


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop-word list (``ENGLISH_STOP_WORDS``, 318 words)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def content_words(text: str | None) -> set[str]:
    """The distinct words of ``text`` longer than 3 characters that are not stop words."""
    stop = stop_words()
    return {w for w in words(text) if len(w) >= MIN_CONTENT_LENGTH and w not in stop}


def repeated_share(tokens: Sequence[str], n: int = NGRAM) -> float | None:
    """The share of the n-grams of ``tokens`` equal to an earlier n-gram of the same sequence; None under n tokens.

    Equals 1 - distinct / all n-grams of this one sequence (Distinct-n pools n-grams over all chains instead).
    """
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return None
    return 1.0 - len(set(grams)) / len(grams)


def post_words_used(post: str, chain: str | None) -> float | None:
    """The share of the post's content words that occur among the chain's words; None if the post has none."""
    wanted = content_words(post)
    if not wanted:
        return None
    return len(wanted & set(words(chain))) / len(wanted)


def target_mentioned(target: str | None, chain: str | None) -> float | None:
    """1.0 if the target's words occur in the chain as a contiguous run of words, else 0.0; None without a target.

    Word-level, so case and punctuation do not matter and "US" is not found inside "because".
    """
    wanted = words(target)
    if not wanted:
        return None
    tokens, k = words(chain), len(wanted)
    return float(any(tokens[i : i + k] == wanted for i in range(len(tokens) - k + 1)))


def image_facts(post: str, reference: str | None) -> set[str]:
    """The content words of the reference's Image_analysis field that are not words of the post."""
    if not reference:
        return set()
    return content_words(chain_fields(reference).get("Image_analysis")) - set(words(post))


def image_facts_used(post: str, reference: str | None, chain: str | None) -> float | None:
    """The share of :func:`image_facts` found among the words of the chain's Image_analysis field (none: 0);
    None without a reference or when its Image_analysis adds no content word to the post."""
    facts = image_facts(post, reference)
    if not facts:
        return None
    return len(facts & set(words(chain_fields(chain).get("Image_analysis")))) / len(facts)


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def _add(out: SampleScores, name: str, column: Sequence[float | None]) -> None:
    """A mean-type output over the samples where it is defined; nothing when it is defined nowhere."""
    where = [i for i, v in enumerate(column) if v is not None]
    if where:
        out.add_mean(name, [column[i] for i in where], where)  # type: ignore[misc]


def _chains(preds: Sequence[Prediction]) -> list[str] | None:
    """The generated chains (a missing one is the empty chain); None when the model writes none."""
    if all(p.rationale is None for p in preds):
        return None
    return [p.rationale or "" for p in preds]


def _stop_words_version() -> str:
    import sklearn

    return f"sklearn {sklearn.__version__} ENGLISH_STOP_WORDS"


class _Health:
    """Shared plumbing: :meth:`columns` gives one value per sample and output; means and per-sample follow."""

    outputs: tuple[str, ...] = ()

    def columns(self, gold: Sequence[Sample], chains: list[str]) -> dict[str, list[float | None]]:
        raise NotImplementedError

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]:
        chains = _chains(preds)
        if chains is None:
            return dict.fromkeys(self.outputs)
        return {name: _mean(column) for name, column in self.columns(gold, chains).items()}

    def per_sample(self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None) -> SampleScores:
        out = SampleScores(len(gold))
        chains = _chains(preds)
        if chains is not None:
            for name, column in self.columns(gold, chains).items():
                _add(out, name, column)
        return out


class Repetition(_Health):
    """Mean over chains of the share of a chain's word 3-grams that repeat an earlier 3-gram of that chain."""

    outputs = ("repeated_trigrams",)

    def signature(self) -> str:
        return (
            f"mulcot_bench reasoning health v{VERSION}|repeated word {NGRAM}-grams within one chain "
            f"(1 - distinct/all)|{TOKENS}|whole chain text|chains under {NGRAM} words left out|mean"
        )

    def columns(self, gold: Sequence[Sample], chains: list[str]) -> dict[str, list[float | None]]:
        return {"repeated_trigrams": [repeated_share(words(c)) for c in chains]}


class Grounding(_Health):
    """Post words used, target mentioned (aspect level) and reference image facts used, each a mean over chains."""

    outputs = ("post_words_used", "target_mentioned", "image_facts_used")

    def signature(self) -> str:
        return (
            f"mulcot_bench reasoning health v{VERSION}|{TOKENS}|content words: distinct, longer than 3 characters, "
            f"not in {_stop_words_version()}|post words used: share of the post's content words among the chain's "
            "words|target mentioned: target words as a contiguous run of chain words|image facts used: share of the "
            "reference Image_analysis content words not in the post found in the chain's Image_analysis|mean"
        )

    def columns(self, gold: Sequence[Sample], chains: list[str]) -> dict[str, list[float | None]]:
        pairs = list(zip(gold, chains, strict=True))
        return {
            "post_words_used": [post_words_used(s.text, c) for s, c in pairs],
            "target_mentioned": [target_mentioned(s.target, c) for s, c in pairs],
            "image_facts_used": [image_facts_used(s.text, s.rationale, c) for s, c in pairs],
        }


@dataclass
class _Counts:
    """Word counts of one reference chain: the distinct word ids it uses (sorted) and their counts per field."""

    ids: np.ndarray  # (k,)
    per_field: np.ndarray  # (fields, k)


class FieldTopicModel:
    """Multinomial naive Bayes over the four free-text fields, fitted on reference chains.

    Each field name is a class with a uniform prior; word probabilities are add-one smoothed counts of the
    reference fields' words over the fitted vocabulary. :meth:`on_topic` leaves one reference out, so an item's
    own reference never takes part in classifying that item's chain.
    """

    def __init__(self, references: Sequence[str | None]) -> None:
        self.vocab: dict[str, int] = {}
        per_ref: list[list[Counter[int]]] = []
        for text in references:
            fields = chain_fields(text)
            per_ref.append(
                [Counter(self.vocab.setdefault(w, len(self.vocab)) for w in words(fields.get(f))) for f in TOPIC_FIELDS]
            )
        self.totals = np.zeros((len(TOPIC_FIELDS), len(self.vocab)))
        self.own: list[_Counts] = []
        for counters in per_ref:
            ids = sorted(set().union(*counters))
            mat = np.array([[c[i] for i in ids] for c in counters], dtype=np.float64).reshape(len(counters), len(ids))
            self.totals[:, ids] += mat
            self.own.append(_Counts(np.array(ids, dtype=np.int64), mat))
        self.word_totals = self.totals.sum(axis=0)

    def _without(self, left_out: int | None, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Counts at ``ids`` (fields x len(ids)), each field's word total, and the vocabulary size, all without
        reference ``left_out``."""
        counts = self.totals[:, ids]
        totals = self.totals.sum(axis=1)
        size = int(np.count_nonzero(self.word_totals))
        if left_out is not None and self.own[left_out].ids.size:
            own = self.own[left_out]
            pos = np.minimum(np.searchsorted(own.ids, ids), own.ids.size - 1)
            hit = own.ids[pos] == ids
            counts = counts.copy()
            counts[:, hit] -= own.per_field[:, pos[hit]]
            totals = totals - own.per_field.sum(axis=1)
            size -= int(np.count_nonzero(own.per_field.sum(axis=0) == self.word_totals[own.ids]))
        return counts, totals, size

    def on_topic(self, chain: str | None, left_out: int | None = None) -> float | None:
        """The share of the chain's four free-text fields classified as their own field (a missing field, or one
        with no known word, counts as off topic); None when some field has no reference words to fit on."""
        fields = chain_fields(chain)
        known = [np.array([self.vocab[w] for w in words(fields.get(f)) if w in self.vocab]) for f in TOPIC_FIELDS]
        counts, totals, size = self._without(left_out, np.concatenate([*known, np.zeros(0)]).astype(np.int64))
        if not np.all(totals > 0):
            return None
        log_norm = np.log(totals + SMOOTHING * size)
        hits, start = 0, 0
        for own_field, ids in enumerate(known):
            block = counts[:, start : start + ids.size]
            start += ids.size
            in_vocab = block.sum(axis=0) > 0  # words seen only in the left-out reference are out of vocabulary
            if not in_vocab.any():
                continue
            scores = np.log(block[:, in_vocab] + SMOOTHING).sum(axis=1) - in_vocab.sum() * log_norm
            others = np.delete(scores, own_field)
            hits += bool(scores[own_field] > others.max())
        return hits / len(TOPIC_FIELDS)


@lru_cache(maxsize=4)
def fitted_topic_model(references: tuple[str | None, ...]) -> FieldTopicModel:
    """One fit per split: every model scored on a split, and both its means and per-sample values, share it."""
    return FieldTopicModel(references)


class FieldTopic(_Health):
    """Mean over chains of the share of their fields that talk about what their name says (naive Bayes, fitted
    on the split's reference chains with the item's own reference left out)."""

    outputs = ("field_topic",)

    def signature(self) -> str:
        return (
            f"mulcot_bench reasoning health v{VERSION}|field topic: multinomial naive Bayes over the fields "
            f"{','.join(TOPIC_FIELDS)}, uniform prior, add-{SMOOTHING:g} smoothing, all words, fitted on the split's "
            f"reference chains leaving the item's own out|{TOKENS}|missing field=off topic|mean"
        )

    def columns(self, gold: Sequence[Sample], chains: list[str]) -> dict[str, list[float | None]]:
        if not any(s.rationale for s in gold):
            return {"field_topic": [None] * len(gold)}
        model = fitted_topic_model(tuple(s.rationale for s in gold))
        return {"field_topic": [model.on_topic(c, i) for i, c in enumerate(chains)]}


HEALTH_METRICS: tuple[type[_Health], ...] = (Repetition, Grounding, FieldTopic)


def reference_ceiling(gold: Sequence[Sample]) -> SampleScores:
    """Every health metric on the reference chains themselves, as if a model had written them (a "references"
    row): values only at samples with a reference; the label is the one the chain states."""
    keep = [i for i, s in enumerate(gold) if s.rationale]
    out = SampleScores(len(gold))
    if not keep:
        return out
    preds = [Prediction(label=parse_label(s.rationale), rationale=s.rationale) for s in gold]
    for metric in HEALTH_METRICS:
        found = metric().per_sample(gold, preds, None)
        for name, column in found.values.items():
            _add(out, name, [column[i] if gold[i].rationale else None for i in range(len(gold))])
    return out
