"""The overview page's data: the models x test sets matrix shaped like the field's papers (headline metrics,
BLEU-4 where references exist, published rows beside ours, the average accuracy over the four benchmarks; rows by
mean rank), the summary line, and the provenance footer's dataset fingerprints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mulcot_bench.report.board import Board
from mulcot_bench.report.format import short_hash
from mulcot_bench.report.tables import ROLE_ORDER, Column, LeaderTable, Value
from mulcot_bench.results import DatasetRecord, Failure


@dataclass
class MatrixCell:
    value: Value | None = None
    status: str = ""  # "", "failed", "unavailable", "not run"
    title: str = ""
    best: bool = False
    href: str = ""


@dataclass
class MatrixRow:
    label: str
    role: str
    kind: str  # measured or reported
    cells: list[MatrixCell]
    mean_rank: float | None = None  # over the test sets where the model is ranked
    average: Value | None = None  # mean accuracy over the four benchmarks (None: blank, see average_note)
    average_note: str = ""

    @property
    def mean_rank_text(self) -> str:
        return "\u2014" if self.mean_rank is None else f"{self.mean_rank:.3g}"

    @property
    def average_text(self) -> str:
        return "\u2014" if self.average is None else self.average.text


def summary(board: Board, tables: list[LeaderTable], missing: list[DatasetRecord]) -> str:
    """One line: datasets run, models, missing datasets, failures, skipped, merged runs."""
    models = sorted({r.entry.model for r in board.rows})
    ran = [t.dataset.name for t in tables]

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    text = (
        f"{plural(len(ran), 'dataset')} run ({', '.join(ran) or 'none'}); {plural(len(models), 'model')}; "
        f"{len(missing)} missing; {plural(len(board.failures), 'failure')}"
    )
    skipped = sum(n for _, n, _ in board.skipped)
    if skipped:
        text += f"; {skipped} skipped"
    if board.merged:
        text += f"; merged from {len(board.runs)} runs"
    return text


class TablePage(Protocol):
    """What the overview reads of a dataset page: its table and its file name."""

    table: LeaderTable
    file: str


def failed_role(failure: Failure, known: dict[str, str]) -> str:
    """The role of a model that failed: its role where it ran elsewhere, ``teacher`` for a teacher failure,
    else ``failed`` (a model that never ran has no recorded role)."""
    if failure.model in known:
        return known[failure.model]
    return "teacher" if failure.what == "teacher" else "failed"


#: the four benchmarks of the field's papers: the average-accuracy column is over these
PAPER_SETS = ("twitter2015", "twitter2017", "mvsa_single", "mvsa_multiple")
#: the reasoning column of the overview, where a test set's rows have it (the field's papers report BLEU-4)
BLEU_KEY = "bleu4"


@dataclass
class MatrixGroup:
    """One test set's columns in the overview: its headline metrics, then BLEU-4 where references exist."""

    page: TablePage
    columns: list[Column]

    @property
    def table(self) -> LeaderTable:
        return self.page.table


@dataclass
class Overview:
    """The overview table, shaped like the field's papers: models x test sets, and the average accuracy."""

    groups: list[MatrixGroup]
    rows: list[MatrixRow]
    average: bool  # the average-accuracy column is shown: some row ran on all four benchmarks


def matrix_columns(table: LeaderTable) -> list[Column]:
    """A test set's overview columns: its headline metrics, then BLEU-4 when some row of it has a value."""
    cols = list(table.headline_columns)
    bleu = next((c for c in table.all_columns if c.key == BLEU_KEY), None)
    rows = [*table.rows, *table.reported]
    if bleu is not None and bleu not in cols and any(_shown(r.values.get(BLEU_KEY)) for r in rows):
        cols.append(bleu)
    return cols


def _shown(value: Value | None) -> bool:
    return value is not None and value.shown is not None


def _mean_rank(model: str, pages: Sequence[TablePage]) -> float | None:
    ranks = [r.rank for p in pages for r in p.table.rows if r.model == model and r.variant is None and r.rank]
    return sum(ranks) / len(ranks) if ranks else None


def _roles(board: Board, pages: Sequence[TablePage]) -> dict[str, str]:
    """Every model of the matrix with its role (failed models included)."""
    role_of: dict[str, str] = {}
    for page in pages:
        for r in page.table.rows:
            if r.variant is None:
                role_of.setdefault(r.model, r.role)
    for f, _ in board.failures:
        if f.model:
            role_of.setdefault(f.model, failed_role(f, role_of))
    return role_of


#: (dataset, model) -> the failure recorded for it
Fails = dict[tuple[str | None, str | None], Failure]


def _measured_cells(model: str, group: MatrixGroup, fails: Fails) -> list[MatrixCell]:
    page = group.page
    found = next((r for r in page.table.rows if r.model == model and r.variant is None), None)
    if found is not None:
        href = f"{page.file}#row-{found.key}"
        return [MatrixCell(found.values.get(c.key), best=c.key in found.best, href=href) for c in group.columns]
    f = fails.get((page.table.dataset.name, model))
    if f is not None:
        status = "unavailable" if f.what == "unavailable" else "failed"
        return [MatrixCell(status=status, title=f.reason, href=f"{page.file}#failures") for _ in group.columns]
    return [MatrixCell(status="not run") for _ in group.columns]


def average_accuracy(cells: dict[str, list[Value | None]]) -> tuple[Value | None, str]:
    """The mean accuracy over the four benchmarks (``cells``: dataset -> the row's accuracy on each of its test
    sets in the board), or None with the reason it is blank."""
    missing = [name for name in PAPER_SETS if not any(_shown(v) for v in cells.get(name, []))]
    if missing:
        return None, f"not run on {', '.join(missing)}"
    several = [name for name in PAPER_SETS if len(cells[name]) > 1]
    if several:
        return None, f"several test sets of {', '.join(several)} in this leaderboard"
    values = [cells[name][0].shown for name in PAPER_SETS]  # type: ignore[union-attr]
    mean = sum(v for v in values if v is not None) / len(PAPER_SETS)
    return Value(mean, mean), "mean of the accuracy on " + ", ".join(PAPER_SETS)


def _with_average(row: MatrixRow, groups: list[MatrixGroup]) -> MatrixRow:
    cells: dict[str, list[Value | None]] = {}
    at = 0
    for group in groups:
        name = group.table.dataset.name
        if name in PAPER_SETS:
            j = next((i for i, c in enumerate(group.columns) if c.key == "accuracy"), None)
            cells.setdefault(name, []).append(row.cells[at + j].value if j is not None else None)
        at += len(group.columns)
    row.average, row.average_note = average_accuracy(cells)
    return row


def overview(board: Board, pages: Sequence[TablePage]) -> Overview:
    """Models x test sets with each test set's headline metrics and BLEU-4 where it has references, best mean
    rank first (unranked models, e.g. the teacher, after in role order); failures in their cells; published
    rows after, under the test sets whose protocol they match; the average accuracy over the four benchmarks."""
    groups = [MatrixGroup(page, matrix_columns(page.table)) for page in pages]
    role_of = _roles(board, pages)
    fails = {(f.dataset, f.model): f for f, _ in board.failures if f.model}
    means = {m: _mean_rank(m, pages) for m in role_of}
    roles = (*ROLE_ORDER, "failed")
    order = sorted(
        role_of,
        key=lambda m: (means[m] is None, means[m] or 0.0, roles.index(role_of[m]) if role_of[m] in roles else 9, m),
    )
    rows = [
        MatrixRow(m, role_of[m], "measured", [c for g in groups for c in _measured_cells(m, g, fails)], means[m])
        for m in order
    ]
    rows += _reported_rows(groups)
    if not any(g.table.dataset.name in PAPER_SETS for g in groups):
        return Overview(groups, rows, average=False)
    rows = [_with_average(r, groups) for r in rows]
    return Overview(groups, rows, average=any(r.average is not None for r in rows))


def _reported_rows(groups: list[MatrixGroup]) -> list[MatrixRow]:
    """One row per published model, its figures under each test set it reports (never a text-only copy)."""
    width = sum(len(g.columns) for g in groups)
    reported: dict[str, list[MatrixCell]] = {}
    at = 0
    for group in groups:
        for rep in group.table.reported:
            cells = reported.setdefault(rep.model, [MatrixCell() for _ in range(width)])
            for j, col in enumerate(group.columns):
                cells[at + j] = MatrixCell(rep.values.get(col.key), title=rep.citation)
        at += len(group.columns)
    return [MatrixRow(model, "reported", "reported", cells) for model, cells in reported.items()]


@dataclass
class _Unpaged:
    """A table outside the HTML site (the Markdown, CSV, LaTeX and JSON exports): no page file to link."""

    table: LeaderTable
    file: str = ""


def overview_of(board: Board, tables: Sequence[LeaderTable]) -> Overview:
    """:func:`overview` of the tables that ran, for the exports."""
    return overview(board, [_Unpaged(t) for t in tables if t.rows or t.reported])


def fingerprints(board: Board) -> list[tuple[str, str, str, str, str]]:
    """(run id, dataset, status, short fingerprint, full fingerprint) of every dataset record of every run."""
    return [
        (run.id, ds.name, ds.status, short_hash(ds.fingerprint), ds.fingerprint or "")
        for run in board.runs
        for ds in run.results.datasets
    ]
