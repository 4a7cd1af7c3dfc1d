"""An entry's costs as the leaderboard shows them: trainable parameters, ms/sample, peak memory, and whether they
were measured on another machine than the run that shows the entry (a cached entry keeps its own figures)."""

from __future__ import annotations

from dataclasses import dataclass

from mulcot_bench.efficiency.machine import describe
from mulcot_bench.efficiency.schema import Efficiency
from mulcot_bench.report.format import DASH, format_params
from mulcot_bench.results import Entry, RunResults


def format_bytes(n: int | None) -> str:
    """``812 kB``, ``1.2 MB``, ``3.4 GB`` (decimal units), or a dash."""
    if n is None:
        return DASH
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def format_ms(ms: float | None) -> str:
    """``0.012``, ``3.40``, ``41.2``, ``1,250`` (milliseconds), or a dash."""
    if ms is None:
        return DASH
    if ms < 1:
        return f"{ms:.3f}"
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


@dataclass
class RowCost:
    """What a leaderboard row shows of an entry's ``efficiency``."""

    eff: Efficiency
    other_machine: bool  # measured on another machine than the run that shows the entry

    @property
    def machine_id(self) -> str:
        return self.eff.machine.id

    @property
    def trainable(self) -> int | None:
        return self.eff.parameters.trainable

    @property
    def total(self) -> int | None:
        return self.eff.parameters.total

    @property
    def ms(self) -> float | None:
        return self.eff.ms_per_sample

    @property
    def peak(self) -> int | None:
        return self.eff.peak_bytes

    @property
    def trainable_text(self) -> str:
        return format_params(self.trainable)

    @property
    def ms_text(self) -> str:
        return format_ms(self.ms)

    @property
    def peak_text(self) -> str:
        return format_bytes(self.peak)

    @property
    def title(self) -> str:
        """The hover text: every figure, how and where it was measured."""
        e, p = self.eff, self.eff.parameters
        parts = [f"parameters {_n(p.total)} total, {_n(p.trainable)} trainable ({p.source})"]
        if p.declared is not None:
            parts.append(f"card declares {p.declared:,}")
        if p.disk_bytes is not None:
            parts.append(f"saved model {format_bytes(p.disk_bytes)} on disk")
        if e.training is not None:
            mem = e.training.memory
            fit_peak = format_bytes(None if mem is None else mem.cuda_peak_bytes or mem.rss_delta_bytes)
            wall = DASH if e.training.wall_seconds is None else f"{e.training.wall_seconds:.1f} s"
            parts.append(f"fit {wall}, peak memory {fit_peak}")
        if e.prediction is not None:
            pr, lat = e.prediction, e.prediction.latency
            if lat is not None:
                parts.append(f"batch size 1: median {format_ms(lat.median_ms)} ms, p95 {format_ms(lat.p95_ms)} ms "
                             f"over {lat.items} items")  # fmt: skip
            if pr.throughput_per_second is not None:
                parts.append(f"{pr.throughput_per_second:,.1f} samples/s at batch size {pr.batch_size}")
            if pr.chain_words_per_second is not None:
                parts.append(f"{pr.chain_words_per_second:,.0f} chain words/s")
            if pr.memory is not None:
                kind = "CUDA allocated" if pr.memory.cuda_peak_bytes is not None else "resident set above its start"
                whole = format_bytes(pr.memory.cuda_peak_bytes or pr.memory.rss_peak_bytes)
                parts.append(f"peak memory of predict: {self.peak_text} ({kind}; the process's peak {whole}; "
                             f"{pr.memory.method})")  # fmt: skip
        parts.append(f"measured {e.measured_at[:10]} in run {e.run_id} on {describe(e.machine.model_dump())}")
        parts += e.notes
        return "; ".join(parts)


def _n(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def row_cost(entry: Entry, results: RunResults) -> RowCost | None:
    """The cost of a row (None: the entry has no efficiency record)."""
    if entry.efficiency is None:
        return None
    here = results.provenance.machine
    return RowCost(entry.efficiency, other_machine=here is not None and here.id != entry.efficiency.machine.id)
