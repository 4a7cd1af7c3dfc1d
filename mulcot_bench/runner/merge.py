"""Merging the jobs of a fanned-out run into one run folder: their ``results.json`` files and predictions files.

Results pass from a job to the parent only as the job's JSON files. The merged entries come in the order a
single process writes them (dataset, then teacher, assistants, students, baselines, each in selection order,
ablation rows after their model); a row two jobs both wrote (the teacher, when ``--teacher`` puts it in every
job of a dataset) is kept once, as is a failure two jobs both recorded.
"""

from __future__ import annotations

from pathlib import Path

from mulcot_bench.atomic import write_bytes
from mulcot_bench.results import DatasetRecord, Entry, Failure, MetricRecord, RunResults

ROLE_RANK = {"teacher": 0, "assistant": 1, "student": 2, "baseline": 3}


def merge_entries(parts: list[RunResults], datasets: list[str], models: list[str], ablations: list[str]) -> list[Entry]:
    """Every job's entries once each, in single-process order."""
    seen: dict[tuple[str, str, str | None, int | None], Entry] = {}
    for part in parts:
        for entry in part.entries:
            seen.setdefault((entry.dataset, entry.model, entry.variant, entry.seed), entry)

    def order(entry: Entry) -> tuple[int, int, int, int]:
        where = datasets.index(entry.dataset) if entry.dataset in datasets else len(datasets)
        model = models.index(entry.model) if entry.model in models else -1  # a teacher the pipeline added
        variant = 0 if entry.variant is None else 1 + (ablations.index(entry.variant) if entry.variant in ablations
                                                         else len(ablations))  # fmt: skip
        return where, ROLE_RANK.get(entry.role, len(ROLE_RANK)), model, variant

    return sorted(seen.values(), key=order)


def merge_datasets(parts: list[RunResults], records: list[DatasetRecord]) -> list[DatasetRecord]:
    """The parent's dataset records (those that did not run say why), each one that ran as its first job wrote it
    (with the test references' provenance)."""
    written: dict[str, DatasetRecord] = {}
    for part in parts:
        for record in part.datasets:
            written.setdefault(record.name, record)
    return [written.get(r.name, r) for r in records]


def merge_metrics(parts: list[RunResults]) -> list[MetricRecord]:
    """Every metric record once, in first-seen order (every job loads the same plugins, so they agree)."""
    seen: dict[str, MetricRecord] = {}
    for part in parts:
        for metric in part.metrics:
            seen.setdefault(metric.id, metric)
    return list(seen.values())


def merge_failures(parts: list[RunResults], own: list[Failure]) -> list[Failure]:
    """The jobs' failures (each distinct one once), then the launcher's own (jobs that wrote no results)."""
    out: list[Failure] = []
    for failure in [f for part in parts for f in part.failures] + own:
        if failure not in out:
            out.append(failure)
    return out


def merge_skipped(parts: list[RunResults]) -> dict[str, int]:
    """The jobs' skip counts, added up."""
    out: dict[str, int] = {}
    for part in parts:
        for what, count in part.skipped.items():
            out[what] = out.get(what, 0) + count
    return out


def copy_predictions(job_dir: Path, run_dir: Path, entries: list[Entry], copied: set[str]) -> None:
    """Copy the predictions files of ``entries`` that ``job_dir`` holds into ``run_dir`` at the same relative
    paths (atomically; a path already copied by an earlier job is kept)."""
    for entry in entries:
        for one in [entry, *entry.seeds]:
            rel = one.predictions_file
            source = job_dir / rel
            if rel in copied or Path(rel).is_absolute() or ".." in Path(rel).parts or not source.is_file():
                continue
            write_bytes(run_dir / rel, source.read_bytes())
            copied.add(rel)
