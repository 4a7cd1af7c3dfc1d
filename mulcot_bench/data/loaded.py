"""What a real-dataset loader returns: the splits plus notes and counts the runner records."""

from __future__ import annotations

from dataclasses import dataclass, field

from mulcot_bench.types import Splits


@dataclass
class LoadedSplits(Splits):
    """:class:`Splits` with human-readable ``notes`` and machine-readable ``stats`` about the load."""

    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
