"""The metric contract, and the per-sample scores that intervals and paired tests are built from.

A metric scores one model's predictions on one split (:meth:`Metric.compute`). A metric that can say what
each sample contributes also defines ``per_sample`` and returns :class:`SampleScores`: a value per sample for
mean-type scores, and a *statistic* (a function of resampled sample indices) for every score it can
bootstrap. The scorer merges them, so a metric registered by a plugin gets intervals and ``compare`` rows
exactly like a built-in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mulcot_bench.scoring.stats import Interval, Statistic, bootstrap_ci, mean_stat
from mulcot_bench.types import Prediction, Sample

if TYPE_CHECKING:
    from mulcot_bench.cache import Cache


class Metric(Protocol):
    """Scores predictions against gold samples; returns one value per output id (None: not applicable).

    Optional: ``per_sample(gold, preds, cache) -> SampleScores`` (per-sample values and bootstrap statistics).
    """

    def signature(self) -> str: ...

    def compute(
        self, gold: Sequence[Sample], preds: Sequence[Prediction], cache: Cache | None
    ) -> dict[str, float | None]: ...


@dataclass
class SampleScores:
    """``values``: output id -> one value per sample (None where undefined); ``stats``: output id ->
    (statistic over sample indices, number of samples it draws from); ``notes``: what was left out and why."""

    n: int
    values: dict[str, list[float | None]] = field(default_factory=dict)
    stats: dict[str, tuple[Statistic, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_mean(self, name: str, values: Sequence[float], where: Sequence[int] | None = None) -> None:
        """A mean-type score: its per-sample values (at ``where``, default all) and their mean statistic."""
        where = list(range(self.n)) if where is None else list(where)
        column: list[float | None] = [None] * self.n
        for i, v in zip(where, values, strict=True):
            column[i] = float(v)
        self.values[name] = column
        self.stats[name] = (mean_stat(values), len(where))

    def add_stat(self, name: str, stat: Statistic, size: int) -> None:
        """A score that is not a mean of per-sample values (F1, corpus BLEU): only its statistic."""
        self.stats[name] = (stat, size)

    def merge(self, other: SampleScores) -> None:
        """Take in another metric's values, statistics and notes (its outputs after ours)."""
        self.values.update(other.values)
        self.stats.update(other.stats)
        self.notes.extend(other.notes)

    def intervals(self, resamples: int, seed: int, level: float = 0.95) -> dict[str, Interval]:
        """A percentile bootstrap interval for every statistic (skipping those with no samples)."""
        return {
            name: bootstrap_ci(stat, size, resamples, seed, level) for name, (stat, size) in self.stats.items() if size
        }

    def row(self, i: int) -> dict[str, float]:
        """Sample ``i``'s defined per-sample values, for its predictions line."""
        return {name: column[i] for name, column in self.values.items() if column[i] is not None}
