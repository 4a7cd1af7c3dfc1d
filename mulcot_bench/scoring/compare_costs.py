"""What two entries cost, side by side: each figure of their efficiency records and the ratio A / B.

Parameter counts and sizes on disk do not depend on the machine; times and memory do, so their ratio is given only
when both entries were measured on the same machine (else each figure is shown, with no ratio, and a note).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mulcot_bench.efficiency.machine import describe
from mulcot_bench.efficiency.schema import Efficiency
from mulcot_bench.results import Entry


@dataclass
class CostRow:
    """One figure of A and B; ``ratio`` A / B (None: a figure missing or zero, or measured on two machines)."""

    name: str
    a: float | None
    b: float | None
    ratio: float | None
    machine_bound: bool  # a time or memory figure: compared only on one machine


def _fit_peak(e: Efficiency) -> float | None:
    mem = e.training.memory if e.training else None
    return None if mem is None else mem.cuda_peak_bytes or mem.rss_delta_bytes


def _p95(e: Efficiency) -> float | None:
    lat = e.prediction.latency if e.prediction else None
    return lat.p95_ms if lat else None


#: (name, figure, machine-bound)
FIGURES: tuple[tuple[str, Callable[[Efficiency], float | None], bool], ...] = (
    ("parameters (total)", lambda e: e.parameters.total, False),
    ("parameters (trainable)", lambda e: e.parameters.trainable, False),
    ("saved model on disk (bytes)", lambda e: e.parameters.disk_bytes, False),
    ("fit wall time (s)", lambda e: e.training.wall_seconds if e.training else None, True),
    ("fit peak memory (bytes)", _fit_peak, True),
    ("ms/sample, batch size 1, median", lambda e: e.ms_per_sample, True),
    ("ms/sample, batch size 1, p95", _p95, True),
    ("throughput (samples/s, own batch size)", lambda e: e.prediction.throughput_per_second if e.prediction else None,
     True),
    ("predict peak memory (bytes)", lambda e: e.peak_bytes, True),
)  # fmt: skip


def cost_rows(a: Entry, b: Entry) -> tuple[list[CostRow], list[str]]:
    """Every figure both records may have, with its ratio; and notes (a missing record, two machines)."""
    ea, eb = a.efficiency, b.efficiency
    missing = [e.model for e, rec in ((a, ea), (b, eb)) if rec is None]
    if ea is None or eb is None:
        return [], [f"costs not compared: no efficiency record for {', '.join(missing)} (results written before "
                    "costs were recorded)"]  # fmt: skip
    same = ea.machine.id == eb.machine.id
    notes = [] if same else [
        f"costs measured on two machines (A: {describe(ea.machine.model_dump())}; B: "
        f"{describe(eb.machine.model_dump())}): time and memory are shown without a ratio"
    ]  # fmt: skip
    rows = []
    for name, figure, bound in FIGURES:
        va, vb = figure(ea), figure(eb)
        if va is None and vb is None:
            continue
        ratio = va / vb if va is not None and vb and (same or not bound) else None
        rows.append(CostRow(name, va, vb, ratio, bound))
    return rows, notes
