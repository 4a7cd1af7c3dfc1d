"""What a real-dataset loader returns: the splits plus notes and counts the runner records."""

from __future__ import annotations

from dataclasses import dataclass, field

from mulcot_bench.types import Splits


@dataclass
class LoadedSplits(Splits):
    """:class:`Splits` with human-readable ``notes`` and machine-readable ``stats`` about the load.

    ``warnings`` are the notes that say the data was degraded on load (rows skipped or repaired, samples run
    text-only), each with its count and first example; ``run`` prints each one once on stderr.
    ``modality`` is ``text`` for a text-only copy (no images at all), else ``multimodal``.
    """

    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    modality: str = "multimodal"
