"""Turns a ``RunResults`` into the plain view model the leaderboard template renders.

Nothing here recomputes a metric: it only selects, orders, formats and links what the run recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from mulcot_bench.report.format import DASH, format_params, format_score, short_hash, short_json
from mulcot_bench.results import DatasetRecord, Entry, RunResults

ROLE_ORDER = ("teacher", "assistant", "student", "baseline")
TABLE_SPLIT = "test"
SHOWN_STATUSES = ("present", "embedded")


@dataclass
class Column:
    key: str
    display: str
    metric_id: str
    headline: bool


@dataclass
class Cell:
    text: str
    best: bool = False
    title: str = ""


@dataclass
class StageItem:
    key: str
    shown: str
    full: str


@dataclass
class Row:
    model: str
    role: str
    plugin: str
    params: str
    params_exact: str
    n: int
    invalid: int
    cells: list[Cell]
    predictions_href: str | None
    predictions_label: str
    predictions_missing: bool
    cached: bool
    assistant: str | None
    stage: list[StageItem]


@dataclass
class Chain:
    teachers: list[str]
    assistant: str | None
    students: list[str]


@dataclass
class DatasetTable:
    name: str
    title: str
    level: str
    status: str
    counts: str
    notes: list[str]
    columns: list[Column]
    rows: list[Row]
    lineage: list[Chain]
    other_splits: int
    all_columns: list[Column] = field(default_factory=list)
    all_rows: list[Row] = field(default_factory=list)
    listed: bool = True


@dataclass
class Page:
    run_id: str
    summary: str
    tables: list[DatasetTable]
    missing: list[DatasetRecord]
    results: RunResults
    skipped: list[tuple[str, int]]
    fingerprints: list[tuple[str, str, str, str]] = field(default_factory=list)


def _role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def _score_columns(
    results: RunResults, entries: list[Entry], headline: list[str], summary_only: bool = False
) -> list[Column]:
    """Score keys that appear in ``entries`` (only each metric's summary outputs if ``summary_only``),
    in metric-registration order, with their exact display names."""
    known: dict[str, tuple[str, str]] = {}
    order: dict[str, int] = {}
    hidden: set[str] = set()
    for metric in results.metrics:
        if summary_only and metric.summary is not None:
            hidden |= set(metric.outputs) - set(metric.summary)
        for key, display in metric.outputs.items():
            known.setdefault(key, (display, metric.id))
            order.setdefault(key, len(order))
    seen: list[str] = []
    for entry in entries:
        for key in entry.scores:
            if key not in seen and key not in hidden:
                seen.append(key)
    first = {key: i for i, key in enumerate(seen)}
    seen.sort(key=lambda k: (order.get(k, len(order)), first[k]))
    heads = set(headline)
    columns = []
    for key in seen:
        display, metric_id = known.get(key, (key, key))
        columns.append(Column(key, display, metric_id, key in heads or metric_id in heads))
    return columns


def _predictions_link(entry: Entry, run_dir: Path, out_dir: Path) -> str | None:
    """A relative URL from the report folder to the entry's predictions file, or None if it would leave the run."""
    if not entry.predictions_file:
        return None
    run_root = run_dir.resolve()
    target = (run_root / entry.predictions_file).resolve()
    if not (target.is_relative_to(run_root) or target.is_relative_to(out_dir.resolve())):
        return None
    try:
        rel = os.path.relpath(target, out_dir.resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return None
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute():
        return None
    return "/".join(quote(part) for part in parts)


def _lineage(entries: list[Entry]) -> list[Chain]:
    """Teacher -> assistant -> student chains from the entries' roles and ``Entry.assistant``."""
    teachers = sorted({e.model for e in entries if e.role == "teacher"})
    assistants = sorted({e.model for e in entries if e.role == "assistant"})
    students = [e for e in entries if e.role == "student"]
    for extra in sorted({s.assistant for s in students if s.assistant and s.assistant not in assistants}):
        assistants.append(extra)
    chains = [Chain(teachers, a, sorted({s.model for s in students if s.assistant == a})) for a in assistants]
    orphans = sorted({s.model for s in students if not s.assistant})
    if orphans:
        chains.append(Chain(teachers, None, orphans))
    if not chains and teachers:
        chains.append(Chain(teachers, None, []))
    return chains


def _row(entry: Entry, columns: list[Column], run_dir: Path, out_dir: Path) -> Row:
    href = _predictions_link(entry, run_dir, out_dir)
    target = run_dir / entry.predictions_file
    cells = [
        Cell(format_score(entry.scores.get(c.key), c.metric_id, c.key), title=_raw(entry.scores.get(c.key)))
        for c in columns
    ]
    plugin = entry.plugin + (f" {entry.plugin_version}" if entry.plugin_version else "")
    return Row(
        model=entry.model,
        role=entry.role,
        plugin=plugin,
        params=format_params(entry.params),
        params_exact=f"{entry.params:,}" if entry.params is not None else "",
        n=entry.n,
        invalid=entry.invalid,
        cells=cells,
        predictions_href=href,
        predictions_label=Path(entry.predictions_file).name or DASH,
        predictions_missing=href is not None and not target.is_file(),
        cached=entry.cached,
        assistant=entry.assistant,
        stage=[StageItem(k, *short_json(v)) for k, v in entry.stage.items()],
    )


def _raw(value: float | None) -> str:
    return "" if value is None else repr(value)


def _mark_best(rows: list[Row], entries: list[Entry], columns: list[Column]) -> None:
    """Mark the highest value of each column among non-teacher rows (ties all marked)."""
    for i, col in enumerate(columns):
        values = [(r, e.scores.get(col.key)) for r, e in zip(rows, entries, strict=True) if e.role != "teacher"]
        present = [v for _, v in values if v is not None]
        if not present:
            continue
        top = max(present)
        for row, value in values:
            if value is not None and value == top:
                row.cells[i].best = True


def _table(results: RunResults, ds: DatasetRecord, entries: list[Entry], run_dir: Path, out_dir: Path) -> DatasetTable:
    test = sorted((e for e in entries if e.split == TABLE_SPLIT), key=lambda e: (_role_rank(e.role), e.role, e.model))
    columns = _score_columns(results, test, ds.headline, summary_only=True)
    rows = [_row(e, columns, run_dir, out_dir) for e in test]
    _mark_best(rows, test, columns)
    all_columns = _score_columns(results, test, ds.headline)
    all_rows = [_row(e, all_columns, run_dir, out_dir) for e in test] if all_columns != columns else []
    counts = ", ".join(f"{split} {n:,}" for split, n in ds.counts.items())
    return DatasetTable(
        name=ds.name,
        title=ds.title,
        level=ds.level,
        status=ds.status,
        counts=counts,
        notes=list(ds.notes),
        columns=columns,
        rows=rows,
        all_columns=all_columns,
        all_rows=all_rows,
        lineage=_lineage(test),
        other_splits=len(entries) - len(test),
    )


def build_page(results: RunResults, run_dir: Path, out_dir: Path) -> Page:
    """The whole leaderboard's view model."""
    by_dataset: dict[str, list[Entry]] = {}
    for entry in results.entries:
        by_dataset.setdefault(entry.dataset, []).append(entry)
    tables = [
        _table(results, ds, by_dataset.get(ds.name, []), run_dir, out_dir)
        for ds in results.datasets
        if ds.status in SHOWN_STATUSES
    ]
    listed = {ds.name for ds in results.datasets}
    for name in sorted(set(by_dataset) - listed):  # entries for a dataset the run did not list: still shown
        ds = DatasetRecord(name=name, title=name, level="?", status="unlisted")
        table = _table(results, ds, by_dataset[name], run_dir, out_dir)
        table.listed = False
        tables.append(table)
    missing = [ds for ds in results.datasets if ds.status not in SHOWN_STATUSES]
    models = sorted({e.model for e in results.entries})
    ran = [t.name for t in tables]
    summary = (
        f"{len(ran)} dataset{'s' if len(ran) != 1 else ''} run ({', '.join(ran) or 'none'}); "
        f"{len(models)} model{'s' if len(models) != 1 else ''}; "
        f"{len(missing)} missing; "
        f"{len(results.failures)} failure{'s' if len(results.failures) != 1 else ''}"
    )
    skipped_total = sum(results.skipped.values())
    if skipped_total:
        summary += f"; {skipped_total} skipped"
    fingerprints = [(ds.name, ds.status, short_hash(ds.fingerprint), ds.fingerprint or "") for ds in results.datasets]
    return Page(
        run_id=results.run_id,
        summary=summary,
        tables=tables,
        missing=missing,
        results=results,
        skipped=sorted(results.skipped.items()),
        fingerprints=fingerprints,
    )
