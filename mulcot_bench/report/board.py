"""One leaderboard from one or more run folders: read each ``results.json`` and merge them.

Merge rule (documented in ``mulcot-bench report --help``): rows are keyed by (dataset, test set, split,
model, variant), where the test set is the dataset's content fingerprint as the run recorded it (a run
that recorded none has a test set of its own). Rows on different test sets are never merged, ranked or
compared together: each test set is its own section (:class:`TestSet`). When two runs hold the same key,
the **newest run wins** (latest ``provenance.started_at``; on a tie, the run named later on the command
line). The older row is not dropped silently: it is listed as *superseded* with its run id and headline
scores. Everything else is a union: datasets (a present record beats a missing one, then the newest),
failures and skipped counts (each labelled with its run), metric records (first run's record; a different
signature of the same metric is noted), reported rows (de-duplicated by model, dataset and citation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mulcot_bench.errors import UserError
from mulcot_bench.report.format import short_hash
from mulcot_bench.report.places import Places, places_of, published
from mulcot_bench.results import DatasetRecord, Entry, Failure, MetricRecord, ReportedEntry, RunResults

SHOWN_STATUSES = ("present", "embedded")


def slug(text: str) -> str:
    """A file-name-safe version of a user or plugin string (never empty, never ``..``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "unnamed"


@dataclass
class Run:
    """One run folder and its results as published (no machine-local folder, see
    :mod:`mulcot_bench.report.places`); ``order`` is its position on the command line."""

    dir: Path
    results: RunResults
    order: int
    places: Places = field(default_factory=Places)

    @property
    def id(self) -> str:
        return self.results.run_id

    @property
    def started(self) -> datetime | None:
        try:
            value = datetime.fromisoformat(self.results.provenance.started_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return value if value.tzinfo else None


def test_set_key(run: Run, dataset: str) -> str:
    """The test set a run used for ``dataset``: its recorded fingerprint, or ``run:<id>`` when it recorded
    none (then nothing proves two runs used the same data, so their rows are kept apart)."""
    record = next((d for d in run.results.datasets if d.name == dataset), None)
    return record.fingerprint if record is not None and record.fingerprint else f"run:{run.id}"


@dataclass
class Row:
    """A measured entry with the run it came from; ``key`` is unique within the board (``r0``, ``r1``...)."""

    entry: Entry
    run: Run
    key: str = ""

    @property
    def test_set(self) -> str:
        return test_set_key(self.run, self.entry.dataset)

    @property
    def ident(self) -> tuple[str, str, str, str, str | None]:
        e = self.entry
        return (e.dataset, self.test_set, e.split, e.model, e.variant)

    @property
    def label(self) -> str:
        """The model name with its ablation variant, e.g. ``tiny-vlm-student (text-only)``."""
        e = self.entry
        return f"{e.model} ({e.variant})" if e.variant else e.model


@dataclass
class TestSet:
    """One dataset's data as one or more runs used it (same name and fingerprint): one leaderboard section."""

    record: DatasetRecord
    key: str  # the fingerprint, or "run:<id>" (see test_set_key)
    runs: list[str] = field(default_factory=list)


@dataclass
class Board:
    """The merged leaderboard input."""

    runs: list[Run]
    metrics: list[MetricRecord]
    datasets: list[DatasetRecord]
    rows: list[Row]
    superseded: list[tuple[Row, Row]] = field(default_factory=list)  # (older, the newer that replaced it)
    reported: list[tuple[ReportedEntry, Run]] = field(default_factory=list)
    failures: list[tuple[Failure, Run]] = field(default_factory=list)
    skipped: list[tuple[str, int, Run]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dataset_notes: dict[str, list[str]] = field(default_factory=dict)
    dataset_runs: dict[str, Run] = field(default_factory=dict)  # the run whose record of a dataset is shown
    test_sets: dict[str, list[TestSet]] = field(default_factory=dict)  # dataset name -> its test sets, first seen first

    @property
    def merged(self) -> bool:
        return len(self.runs) > 1

    @property
    def run_id(self) -> str:
        return " + ".join(r.id for r in self.runs)

    def local_path(self, record: DatasetRecord) -> Path | None:
        """The dataset folder of ``record`` on this machine (its published ``path`` names ``<data root>``)."""
        run = next((r for r in self.runs if any(d is record for d in r.results.datasets)), None)
        return run.places.local(record.path) if run else (Path(record.path) if record.path else None)


def read_run(run_dir: Path, order: int = 0) -> Run:
    """Read one run folder; a folder without ``results.json`` is a one-line user error."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise UserError(f"{run_dir} has no results.json; pass a run folder written by 'mulcot-bench run'")
    try:
        results = RunResults.read(run_dir)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"{run_dir / 'results.json'} does not match the results schema ({first}); re-run it") from exc
    places = places_of(results, run_dir)
    return Run(run_dir, published(results, places), order, places)


def _newness(run: Run) -> tuple[int, float, int]:
    started = run.started
    return (1 if started else 0, started.timestamp() if started else 0.0, run.order)


def merge(runs: list[Run]) -> Board:
    """Merge runs into one board (see the module docstring for the rule)."""
    if not runs:
        raise UserError("no run folder given; pass at least one folder written by 'mulcot-bench run'")
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise UserError(f"run id {dup[0]!r} is given twice; pass each run folder once")
    oldest_first = sorted(runs, key=_newness)
    board = Board(runs=list(runs), metrics=[], datasets=[], rows=[])
    _merge_metrics(board, runs)
    _merge_datasets(board, oldest_first)
    kept: dict[tuple[str, str, str, str, str | None], Row] = {}
    for run in oldest_first:
        for entry in run.results.entries:
            row = Row(entry, run)
            old = kept.get(row.ident)
            if old is not None and old.run is run:
                board.notes.append(
                    f"run {run.id} has two entries for {row.label} on {entry.dataset} ({entry.split}); both shown"
                )
                kept[(*row.ident[:4], f"{entry.variant}#{len(kept)}")] = row  # type: ignore[index]
                continue
            if old is not None:
                board.superseded.append((old, row))
            kept[row.ident] = row
    order = {id(r): i for i, r in enumerate(x for run in runs for x in run.results.entries)}
    board.rows = sorted(kept.values(), key=lambda r: order[id(r.entry)])
    for i, row in enumerate(board.rows):
        row.key = f"r{i}"
    seen: set[tuple[str, str, str]] = set()
    for run in runs:
        for rep in run.results.reported:
            k = (rep.model, rep.dataset, rep.citation)
            if k not in seen:
                seen.add(k)
                board.reported.append((rep, run))
        board.failures.extend((f, run) for f in run.results.failures)
        board.skipped.extend((reason, n, run) for reason, n in sorted(run.results.skipped.items()))
    return board


def _merge_metrics(board: Board, runs: list[Run]) -> None:
    by_id: dict[str, MetricRecord] = {}
    for run in runs:
        for metric in run.results.metrics:
            first = by_id.get(metric.id)
            if first is None:
                by_id[metric.id] = metric
                board.metrics.append(metric)
            elif first.signature != metric.signature:
                board.notes.append(
                    f"metric {metric.id!r} has another signature in run {run.id} ({metric.signature}) than in "
                    f"run {runs[0].id} ({first.signature}); its scores may not be comparable across runs"
                )


def _merge_datasets(board: Board, oldest_first: list[Run]) -> None:
    chosen: dict[str, tuple[DatasetRecord, Run]] = {}
    sets: dict[str, dict[str, TestSet]] = {}
    order: list[str] = []
    for run in oldest_first:
        for ds in run.results.datasets:
            if ds.name not in chosen:
                order.append(ds.name)
            current = chosen.get(ds.name)
            shown = ds.status in SHOWN_STATUSES
            if current is None or shown or current[0].status not in SHOWN_STATUSES:
                chosen[ds.name] = (ds, run)
            if shown:
                key = test_set_key(run, ds.name)
                found = sets.setdefault(ds.name, {}).setdefault(key, TestSet(ds, key))
                found.record, found.runs = ds, [*found.runs, run.id]  # the newest run's record of the set
    # keep the first run's dataset order, then datasets only later runs have
    first_order = [d.name for run in board.runs for d in run.results.datasets]
    order.sort(key=first_order.index)
    for name in order:
        record, run = chosen[name]
        board.datasets.append(record)
        board.dataset_runs[name] = run
        found = list(sets.get(name, {}).values())
        board.test_sets[name] = found
        if len(found) > 1:
            parts = "; ".join(f"{set_label(s.key)} in {', '.join(s.runs)}" for s in found)
            board.dataset_notes.setdefault(name, []).append(
                f"the runs used {len(found)} different test sets for this dataset ({parts}): each is its own "
                "section; rows of different sections are never ranked, highlighted or tested together"
            )


def set_label(key: str) -> str:
    """A test set's short name: 12 characters of its fingerprint, or ``run:<id>`` when none was recorded."""
    return key if key.startswith("run:") else short_hash(key)
