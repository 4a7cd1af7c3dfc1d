"""Several training seeds of one model: mean, standard deviation and a seed-aware bootstrap interval.

The interval is a two-level (hierarchical) percentile bootstrap: each resample draws the seeds with
replacement and the test samples with replacement (the same samples for every seed: the test set is shared),
and averages the drawn seeds' statistic. It so carries both the spread between seeds and the sampling error
of the test set, where a per-seed interval carries only the latter.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

from mulcot_bench.scoring.metric import SampleScores
from mulcot_bench.scoring.stats import Interval, resample_indices


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1) of the defined values; sd is None below two of them.

    Any undefined value makes both None: a mean over part of the seeds would not be the mean of the model.
    """
    if not values or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return None, None
    floats = [float(v) for v in values if v is not None]
    return statistics.fmean(floats), (statistics.stdev(floats) if len(floats) > 1 else None)


def seed_intervals(
    found: Sequence[SampleScores], resamples: int, seed: int, level: float = 0.95
) -> dict[str, Interval]:
    """For every statistic all seeds have over the same number of samples: the two-level bootstrap interval.

    The point is the mean over seeds of each seed's statistic on the full test set.
    """
    if not found or not resamples:
        return {}
    k = len(found)
    rng = np.random.default_rng(seed + 1)  # seed draws: a stream of their own, beside the sample draws
    chosen = rng.integers(0, k, size=(resamples, k))
    out: dict[str, Interval] = {}
    for name, (_, size) in found[0].stats.items():
        if not size or any(name not in f.stats or f.stats[name][1] != size for f in found):
            continue
        idx = resample_indices(size, resamples, seed)
        ident = np.arange(size, dtype=np.int64)[None, :]
        per_seed = np.stack([f.stats[name][0](idx) for f in found])  # (k, resamples)
        drawn = per_seed[chosen, np.arange(resamples)[:, None]].mean(axis=1)
        point = float(np.mean([f.stats[name][0](ident)[0] for f in found]))
        tail = (1.0 - level) / 2.0 * 100.0
        low, high = np.percentile(drawn, [tail, 100.0 - tail])
        out[name] = Interval(point, float(low), float(high))
    return out
