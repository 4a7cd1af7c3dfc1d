"""The one scoring path: every registered metric's score, per-sample values and bootstrap intervals.

``run`` and ``compare`` both walk the registry through :class:`Scorer`, so a metric a plugin registers gets
the same treatment as a built-in one: a score, a value per sample where it defines ``per_sample``, an
interval for every statistic it gives, and paired rows in ``compare``. Per-pair values (sentence BLEU,
ROUGE-L, METEOR, BERTScore, MiniLM cosine) go through the per-pair cache, so each is computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from mulcot_bench.cache import Cache
from mulcot_bench.plugin.registry import Registry
from mulcot_bench.plugin.specs import MetricSpec
from mulcot_bench.results import MetricRecord
from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.pairs import scored_pairs
from mulcot_bench.scoring.stats import DEFAULT_RESAMPLES
from mulcot_bench.types import Prediction, Sample

BOOTSTRAP_SEED = 42  # fixed, not the run's seed: intervals of two runs draw the same resamples
#: at most this many (hypothesis, reference) pairs per batched call of :meth:`Scorer.prime` (four models on
#: Twitter-2015 test): bounds the token embeddings BERTScore holds at once
PRIME_PAIRS = 4200


def phase(spec: MetricSpec) -> int:
    """Per-sample order: label metrics, chain checks, reference metrics, then those that load a model."""
    if spec.kind == "label":
        return 0
    if spec.loads_model:
        return 3
    return 2 if spec.uses_reference else 1


class Scorer:
    """Builds each registered metric once and scores model outputs with it."""

    def __init__(self, registry: Registry, cache: Cache | None, resamples: int = DEFAULT_RESAMPLES) -> None:
        self.cache = cache
        self.resamples = resamples
        self.specs = list(registry.metrics.values())
        self.metrics: dict[str, Any] = {spec.id: spec.build() for spec in self.specs}

    def records(self) -> list[MetricRecord]:
        """Each metric's ids, display names and exact signature, for ``results.json``."""
        return [
            MetricRecord(
                id=s.id,
                kind=s.kind,
                outputs=s.outputs,
                signature=self.metrics[s.id].signature(),
                summary=list(s.summary) if s.summary is not None else None,
                lower_is_better=list(s.lower_is_better),
            )
            for s in self.specs
        ]

    def display(self) -> dict[str, str]:
        """Output id -> exact display name, over every registered metric."""
        return {out: name for spec in self.specs for out, name in spec.outputs.items()}

    def score(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], rationale: bool = True
    ) -> dict[str, float | None]:
        """Every metric's outputs (reasoning metrics None for a model that declares no rationale)."""
        scores: dict[str, float | None] = {}
        for spec in self.specs:
            if spec.kind == "rationale" and not rationale:
                scores.update(dict.fromkeys(spec.outputs))
                continue
            scores.update(self.metrics[spec.id].compute(gold, preds, self.cache))
        return scores

    def prime(
        self,
        gold: Sequence[Sample],
        outputs: Sequence[Sequence[Prediction]],
        starting: Callable[[str, int, int], object] | None = None,
    ) -> None:
        """Fill the per-pair cache for several models' outputs on the same test split: one call per pair metric and
        chunk of at most :data:`PRIME_PAIRS` pairs (``starting(metric id, i, n)`` is told before each).

        A metric that loads a model (BERTScore, MiniLM cosine) then embeds each distinct text once per call: the
        references, shared by every model, once instead of once per model, and a model's chains equal to the
        references not at all. Scores are unchanged (each pair keeps its own value); without a cache there is
        nothing to fill."""
        if self.cache is None:
            return
        chunks: list[tuple[list[str], list[str]]] = []
        for preds in outputs:
            pairs = scored_pairs(gold, preds)
            if pairs is None:
                continue
            if not chunks or len(chunks[-1][0]) + len(pairs[0]) > PRIME_PAIRS:
                chunks.append(([], []))
            chunks[-1][0].extend(pairs[0])
            chunks[-1][1].extend(pairs[1])
        calls = [
            (spec.id, pair_scores, chunk)
            for spec in self.specs
            if spec.kind == "rationale" and callable(pair_scores := getattr(self.metrics[spec.id], "pair_scores", None))
            for chunk in chunks
        ]
        for i, (metric, pair_scores, (hyps, refs)) in enumerate(calls, start=1):
            if starting is not None:
                starting(metric, i, len(calls))
            pair_scores(hyps, refs, self.cache)

    def sample_scores(
        self,
        gold: Sequence[Sample],
        preds: Sequence[Prediction],
        rationale: bool = True,
        model_metrics: bool = True,
    ) -> SampleScores:
        """Per-sample values and bootstrap statistics of every metric that defines ``per_sample``."""
        if not rationale:  # like score(): no reasoning metrics for a model that declares no rationale
            preds = [replace(p, rationale=None) for p in preds]
        out = SampleScores(len(gold))
        writes = any(p.rationale is not None for p in preds)
        has_refs = any(s.rationale for s in gold)
        left_out: list[str] = []
        for spec in sorted(self.specs, key=phase):
            per_sample = getattr(self.metrics[spec.id], "per_sample", None)
            if per_sample is None or (spec.kind == "rationale" and not writes):
                continue
            if spec.uses_reference and not has_refs:
                continue
            if spec.loads_model and not model_metrics:
                left_out.append(spec.id)
                continue
            out.merge(per_sample(gold, preds, self.cache))
        if not writes:
            out.notes.append("reasoning metrics skipped: the model writes no rationale")
        elif not has_refs:
            out.notes.append("reference-based reasoning metrics skipped: the dataset has no reference chains")
        elif left_out:
            out.notes.append(f"{' and '.join(left_out)} skipped (no model metrics)")
        return out

    def intervals(self, found: SampleScores) -> dict[str, list[float]]:
        """Percentile bootstrap 95% intervals (:attr:`resamples` resamples, seed :data:`BOOTSTRAP_SEED`)."""
        if not self.resamples:
            return {}
        return {name: [iv.low, iv.high] for name, iv in found.intervals(self.resamples, BOOTSTRAP_SEED).items()}

    def seed_intervals(self, found: Sequence[SampleScores]) -> dict[str, list[float]]:
        """Two-level bootstrap 95% intervals over seeds and samples (:func:`mulcot_bench.scoring.seeds`)."""
        from mulcot_bench.scoring.seeds import seed_intervals

        if not self.resamples:
            return {}
        return {name: [iv.low, iv.high] for name, iv in seed_intervals(found, self.resamples, BOOTSTRAP_SEED).items()}

    def bootstrap(self) -> dict[str, object]:
        """How the intervals of this run were computed."""
        if not self.resamples:
            return {"resamples": 0, "note": "intervals switched off (--bootstrap 0)"}
        return {
            "resamples": self.resamples,
            "seed": BOOTSTRAP_SEED,
            "level": 0.95,
            "method": "percentile bootstrap over test samples (numpy PCG64); reasoning metrics over samples "
            "with a reference chain; corpus BLEU recomputed per resample from sentence statistics",
        }


def as_pairs(records: Sequence[dict[str, Any]]) -> tuple[list[Sample], list[Prediction]]:
    """The gold samples and predictions of a predictions file's records (what the scorer reads)."""
    gold = [
        Sample(
            id=str(r["id"]),
            text=r.get("text") or "",
            label=r["gold"],
            target=r.get("target"),
            rationale=r.get("reference"),
        )
        for r in records
    ]
    return gold, [Prediction(label=r.get("label"), rationale=r.get("rationale")) for r in records]
