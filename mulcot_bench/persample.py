"""Per-sample scores of one model's predictions, and the bootstrap statistics built from them.

One source for three consumers: the bootstrap intervals stored in ``results.json``, the per-sample
scores of the predictions files (the leaderboard's drill-down), and ``mulcot-bench compare``.
Keys are the metric output ids of the scores (``accuracy``, ``bleu4``...), so an interval sits next
to its score. Records are the lines of a predictions file (``gold``, ``label``, ``rationale``, ``reference``).
Label metrics use every sample; reference-based reasoning metrics use the samples with a reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.stats import (
    Interval,
    Statistic,
    accuracy_stat,
    bootstrap_ci,
    corpus_bleu_stat,
    f1_stat,
    label_codes,
    mean_stat,
)


@dataclass
class SampleScores:
    """``values``: output id -> one value per record (None where undefined); ``stats``: output id ->
    (statistic over sample indices, number of samples it draws from); ``notes``: what was left out and why."""

    n: int
    values: dict[str, list[float | None]] = field(default_factory=dict)
    stats: dict[str, tuple[Statistic, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_mean(self, name: str, values: Sequence[float], where: Sequence[int] | None = None) -> None:
        """A mean-type metric: its per-sample values (at ``where``, default all) and their mean statistic."""
        where = list(range(self.n)) if where is None else list(where)
        column: list[float | None] = [None] * self.n
        for i, v in zip(where, values, strict=True):
            column[i] = float(v)
        self.values[name] = column
        self.stats[name] = (mean_stat(values), len(where))

    def intervals(self, resamples: int, seed: int, level: float = 0.95) -> dict[str, Interval]:
        """A percentile bootstrap interval for every statistic (skipping those with no samples)."""
        return {
            name: bootstrap_ci(stat, size, resamples, seed, level) for name, (stat, size) in self.stats.items() if size
        }

    def row(self, i: int) -> dict[str, float]:
        """Record ``i``'s defined per-sample values, for its predictions line."""
        return {name: column[i] for name, column in self.values.items() if column[i] is not None}


def sample_scores(records: Sequence[dict[str, Any]], cache: Cache | None, model_metrics: bool = True) -> SampleScores:
    """Every per-sample value and statistic of one model's records (BERTScore, MiniLM only with ``model_metrics``)."""
    from mulcot_bench.metrics.chains import chain_label
    from mulcot_bench.rationale import parse

    out = SampleScores(len(records))
    gold = [r["gold"] for r in records]
    labels = [r.get("label") for r in records]
    g, p = label_codes(gold, labels)
    out.values["accuracy"] = list((g == p).astype(float))  # per sample: 1 right, 0 wrong
    out.stats["accuracy"] = (accuracy_stat(g, p), out.n)
    out.stats["macro_f1"] = (f1_stat(g, p, "macro"), out.n)
    out.stats["weighted_f1"] = (f1_stat(g, p, "weighted"), out.n)
    chains = [r.get("rationale") for r in records]
    if all(c is None for c in chains):
        out.notes.append("reasoning metrics skipped: the model writes no rationale")
        return out
    stated = [chain_label(c) for c in chains]
    out.add_mean("format_valid", [float(parse(c or "").valid) for c in chains])
    out.add_mean(
        "chain_consistency", [float(lab is not None and s == lab) for s, lab in zip(stated, labels, strict=True)]
    )
    out.add_mean("chain_gold", [float(s == gd) for s, gd in zip(stated, gold, strict=True)])
    _reference_metrics(out, records, cache, model_metrics)
    return out


def _reference_metrics(
    out: SampleScores, records: Sequence[dict[str, Any]], cache: Cache | None, model_metrics: bool
) -> None:
    """Metrics against the reference chain, over the samples that have one (a missing rationale scores as empty)."""
    from mulcot_bench.metrics.bleu import sentence_scores
    from mulcot_bench.metrics.meteor import cached_meteor
    from mulcot_bench.metrics.overlap import rouge_l_f

    keep = [i for i, r in enumerate(records) if r.get("reference")]
    if not keep:
        out.notes.append("reference-based reasoning metrics skipped: the dataset has no reference chains")
        return
    refs = [records[i]["reference"] for i in keep]
    hyps = [records[i].get("rationale") or "" for i in keep]
    bleu, bleu_stats = sentence_scores(hyps, refs)
    out.stats["bleu4"] = (corpus_bleu_stat(bleu_stats), len(keep))
    out.add_mean("bleu4_sentence", bleu, keep)
    out.add_mean("rouge_l", [rouge_l_f(h, r) for h, r in zip(hyps, refs, strict=True)], keep)
    out.add_mean("meteor", cached_meteor(hyps, refs, cache), keep)
    if not model_metrics:
        out.notes.append("BERTScore and MiniLM cosine skipped (no model metrics)")
        return
    from mulcot_bench.metrics.embedding import MiniLMCosine
    from mulcot_bench.metrics.pairs import cached_pair_values
    from mulcot_bench.metrics.reasoning import BertScore

    bs = BertScore()
    triples = cached_pair_values("bertscore", bs.signature(), hyps, refs, cache, bs._score)
    out.add_mean("bertscore_f1", [t[2] for t in triples], keep)
    out.add_mean("minilm_cosine", MiniLMCosine().pair_scores(hyps, refs, cache), keep)
