"""Statistics over per-sample outcomes: seeded bootstrap CIs, paired bootstrap, McNemar's test.

Everything works on arrays built from a run folder's predictions files, so no model is needed.
A *statistic* maps a ``(resamples, n)`` array of sample indices to one value per row; the point
estimate is the statistic on the identity resample. CIs are percentile intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mulcot_bench.labels import LABELS

Statistic = Callable[[np.ndarray], np.ndarray]
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 42
EXACT_BELOW = 25  # McNemar: exact binomial test when b + c < 25, else chi-square with continuity correction


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Paired:
    """Two models on the same samples: each one's interval, the difference A - B, and a two-sided p-value."""

    a: Interval
    b: Interval
    diff: Interval
    p: float


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on per-sample correctness; ``b``: A right and B wrong, ``c``: A wrong and B right."""

    b: int
    c: int
    method: str
    statistic: float | None
    p: float


def resample_indices(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``(resamples, n)`` indices drawn with replacement from a seeded generator (numpy PCG64)."""
    if n <= 0:
        raise ValueError("cannot bootstrap an empty sample")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n), dtype=np.int64)


def _identity(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)[None, :]


def _interval(point: float, values: np.ndarray, level: float) -> Interval:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Interval(float(point), float(low), float(high))


def bootstrap_ci(
    stat: Statistic, n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, level: float = 0.95
) -> Interval:
    """Percentile bootstrap interval of one statistic over ``n`` samples."""
    return _interval(float(stat(_identity(n))[0]), stat(resample_indices(n, resamples, seed)), level)


def paired_bootstrap(
    stat_a: Statistic,
    stat_b: Statistic,
    n: int,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> Paired:
    """Both statistics on the same resamples; the difference's interval and a two-sided p-value.

    p = 2 x the smaller share of resamples with a difference <= 0 or >= 0, each share counted as
    (k + 1) / (resamples + 1), capped at 1; identical models give p = 1.
    """
    ident, idx = _identity(n), resample_indices(n, resamples, seed)
    point_a, point_b = float(stat_a(ident)[0]), float(stat_b(ident)[0])
    va, vb = stat_a(idx), stat_b(idx)
    d = va - vb
    below = (np.count_nonzero(d <= 0) + 1) / (resamples + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (resamples + 1)
    return Paired(
        a=_interval(point_a, va, level),
        b=_interval(point_b, vb, level),
        diff=_interval(point_a - point_b, d, level),
        p=float(min(1.0, 2.0 * min(below, above))),
    )


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemar:
    """McNemar's test: exact two-sided binomial when the discordant count is below :data:`EXACT_BELOW`,
    else chi-square (1 df) with Edwards' continuity correction, max(0, |b - c| - 1)^2 / (b + c)."""
    if len(correct_a) != len(correct_b):
        raise ValueError("McNemar needs the same samples for both models")
    b = sum(1 for x, y in zip(correct_a, correct_b, strict=True) if x and not y)
    c = sum(1 for x, y in zip(correct_a, correct_b, strict=True) if y and not x)
    n = b + c
    if n == 0:
        return McNemar(b, c, "no discordant pairs", None, 1.0)
    if n < EXACT_BELOW:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
        return McNemar(b, c, "exact binomial (two-sided)", None, min(1.0, 2.0 * tail))
    stat = max(0, abs(b - c) - 1) ** 2 / n
    return McNemar(b, c, "chi-square, continuity-corrected (1 df)", stat, math.erfc(math.sqrt(stat / 2.0)))


# --- statistics built from per-sample data -------------------------------------------------------------


def mean_stat(values: Sequence[float]) -> Statistic:
    """The mean of a per-sample value (sentence BLEU, ROUGE-L, BERTScore F1, a 0/1 check)."""
    arr = np.asarray(values, dtype=np.float64)
    return lambda idx: arr[idx].mean(axis=1)


def label_codes(gold: Sequence[str], pred: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Gold as 0..2 and predictions as 0..2, or 3 for an unparseable answer (scored wrong, never dropped)."""
    at = {label: i for i, label in enumerate(LABELS)}
    return (
        np.asarray([at[g] for g in gold], dtype=np.int64),
        np.asarray([at.get(p, len(LABELS)) if p else len(LABELS) for p in pred], dtype=np.int64),
    )


def accuracy_stat(gold: np.ndarray, pred: np.ndarray) -> Statistic:
    right = (gold == pred).astype(np.float64)
    return lambda idx: right[idx].mean(axis=1)


def f1_stat(gold: np.ndarray, pred: np.ndarray, average: str) -> Statistic:
    """Macro or weighted F1 over the three labels, as scikit-learn's ``f1_score(labels=LABELS, zero_division=0)``."""
    k = len(LABELS)
    codes = gold * (k + 1) + pred

    def stat(idx: np.ndarray) -> np.ndarray:
        rows = idx.shape[0]
        flat = (np.arange(rows)[:, None] * k * (k + 1) + codes[idx]).ravel()
        counts = np.bincount(flat, minlength=rows * k * (k + 1)).reshape(rows, k, k + 1).astype(np.float64)
        tp = counts[:, np.arange(k), np.arange(k)]
        support = counts.sum(axis=2)
        predicted = counts[:, :, :k].sum(axis=1)
        denom = support + predicted
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        if average == "macro":
            return f1.mean(axis=1)
        total = support.sum(axis=1)
        return np.divide((f1 * support).sum(axis=1), total, out=np.zeros(rows), where=total > 0)

    return stat


def macro_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Macro-F1 over the three labels of one set of answers (an unparsed answer is wrong for every class)."""
    g, p = label_codes(gold, pred)
    return float(f1_stat(g, p, "macro")(np.arange(len(g))[None])[0])
