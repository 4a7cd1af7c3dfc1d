"""Latency at batch size 1: one warm-up call, then each item of a fixed seeded subset of the split on its own.

The subset depends only on the split's size and :data:`SEED`, so every model of a dataset is timed on the same
items. ``$MULCOT_BENCH_PROBE_ITEMS`` sets how many items are timed (default :data:`ITEMS`; 0: no probe, and the
latency is not measured). The probe's outputs are not cached, journalled or scored.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from mulcot_bench.errors import UserError

ITEMS = 32
SEED = 20240531
ENV = "MULCOT_BENCH_PROBE_ITEMS"


def probe_items() -> int:
    """How many items the latency probe times (``$MULCOT_BENCH_PROBE_ITEMS``, default :data:`ITEMS`)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return ITEMS
    if not raw.isdigit():
        raise UserError(f"{ENV}={raw!r} must be a whole number (items timed at batch size 1; 0: no latency probe)")
    return int(raw)


def subset(n: int, k: int) -> list[int]:
    """``min(k, n)`` positions out of ``n``, sorted; the same for the same ``n`` and ``k``."""
    return sorted(random.Random(SEED).sample(range(n), min(k, n)))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) by linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _direct(thunk: Callable[[], Any]) -> Any:
    return thunk()


def latency(
    call: Callable[[list[Any]], Any],
    items: Sequence[Any],
    k: int,
    run: Callable[[Callable[[], Any]], Any] = _direct,
) -> dict[str, Any] | None:
    """Median and 95th percentile (ms) of ``call([item])`` over the subset, after one untimed warm-up call
    (None when there is nothing to time). ``run`` runs each timed thunk (the run's per-call timeout); only the
    call itself is timed. What ``call`` raises passes through."""
    chosen = [items[i] for i in subset(len(items), k)]
    if not chosen:
        return None
    begin = time.perf_counter()
    run(lambda: call([chosen[0]]))  # warm-up: lazy initialisation, caches
    times: list[float] = []

    def timed(item: Any) -> None:
        start = time.perf_counter()
        call([item])
        times.append((time.perf_counter() - start) * 1000.0)

    for item in chosen:
        run(lambda item=item: timed(item))
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(percentile(times, 0.95), 3),
        "items": len(times),
        "warmup_calls": 1,
        "seconds": round(time.perf_counter() - begin, 3),  # the whole probe, warm-up included: its cost to the run
    }
