"""Published baseline numbers, as reported in the literature (not reproduced here), with citations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from mulcot_bench.results import ReportedEntry


@dataclass(frozen=True)
class Citation:
    paper: str
    venue: str
    year: int


@dataclass(frozen=True)
class ReportedRow:
    """One baseline on one dataset; ``scores`` are percentages keyed like measured scores (``accuracy``...)."""

    model: str
    dataset: str
    scores: dict[str, float]
    citation: Citation
    note: str
    reproduced: bool = False


def load_reported() -> list[ReportedRow]:
    """Every reported row of ``baselines.json``, in file order; each carries the file's not-reproduced note."""
    doc = json.loads(resources.files(__package__).joinpath("baselines.json").read_text(encoding="utf-8"))
    return [
        ReportedRow(
            model=row["model"],
            dataset=row["dataset"],
            scores={k: float(v) for k, v in row["scores"].items()},
            citation=Citation(**row["citation"]),
            note=doc["note"],
        )
        for row in doc["rows"]
    ]


def reported_entries(datasets: list[str]) -> list[ReportedEntry]:
    """The published rows of ``datasets`` (percent, with citations), kept apart from measured entries."""
    return [
        ReportedEntry(
            model=row.model,
            dataset=row.dataset,
            scores=row.scores,
            citation=f"{row.citation.paper} ({row.citation.venue} {row.citation.year})",
            note=row.note,
        )
        for row in load_reported()
        if row.dataset in datasets
    ]
