"""The overview page's data: the models x test sets matrix of headline metrics (rows by mean rank), the
summary line, and the provenance footer's dataset fingerprints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mulcot_bench.report.board import Board
from mulcot_bench.report.format import short_hash
from mulcot_bench.report.tables import ROLE_ORDER, LeaderTable, Value
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

    @property
    def mean_rank_text(self) -> str:
        return "\u2014" if self.mean_rank is None else f"{self.mean_rank:.3g}"


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


def _mean_rank(model: str, pages: Sequence[TablePage]) -> float | None:
    ranks = [r.rank for p in pages for r in p.table.rows if r.model == model and r.variant is None and r.rank]
    return sum(ranks) / len(ranks) if ranks else None


def overview_matrix(board: Board, pages: Sequence[TablePage]) -> list[MatrixRow]:
    """Models x test sets with each dataset's headline metrics, best mean rank first (unranked models, e.g.
    the teacher, after in role order); failures shown in their cells."""
    role_of: dict[str, str] = {}
    for page in pages:
        for r in page.table.rows:
            if r.variant is None:
                role_of.setdefault(r.model, r.role)
    fails = {(f.dataset, f.model): f for f, _ in board.failures if f.model}
    for f in fails.values():
        role_of.setdefault(f.model or "", failed_role(f, role_of))
    means = {m: _mean_rank(m, pages) for m in role_of}
    roles = (*ROLE_ORDER, "failed")
    order = sorted(
        role_of,
        key=lambda m: (means[m] is None, means[m] or 0.0, roles.index(role_of[m]) if role_of[m] in roles else 9, m),
    )
    rows = []
    for model in order:
        cells: list[MatrixCell] = []
        for page in pages:
            found = next((r for r in page.table.rows if r.model == model and r.variant is None), None)
            for col in page.table.headline_columns:
                if found is not None:
                    href = f"{page.file}#row-{found.key}"
                    cells.append(MatrixCell(found.values[col.key], best=col.key in found.best, href=href))
                elif (page.table.dataset.name, model) in fails:
                    f = fails[(page.table.dataset.name, model)]
                    status = "unavailable" if f.what == "unavailable" else "failed"
                    cells.append(MatrixCell(status=status, title=f.reason, href=f"{page.file}#failures"))
                else:
                    cells.append(MatrixCell(status="not run"))
        rows.append(MatrixRow(model, role_of[model], "measured", cells, means[model]))
    offsets, width = {}, 0
    for page in pages:
        offsets[page.file] = width
        width += len(page.table.headline_columns)
    reported: dict[str, list[MatrixCell]] = {}
    for page in pages:  # one row per published model, its figures under each dataset it reports
        for rep in page.table.reported:
            cells = reported.setdefault(rep.model, [MatrixCell() for _ in range(width)])
            for j, col in enumerate(page.table.headline_columns):
                cells[offsets[page.file] + j] = MatrixCell(rep.values.get(col.key), title=rep.citation)
    rows += [MatrixRow(model, "reported", "reported", cells) for model, cells in reported.items()]
    return rows


def fingerprints(board: Board) -> list[tuple[str, str, str, str, str]]:
    """(run id, dataset, status, short fingerprint, full fingerprint) of every dataset record of every run."""
    return [
        (run.id, ds.name, ds.status, short_hash(ds.fingerprint), ds.fingerprint or "")
        for run in board.runs
        for ds in run.results.datasets
    ]
