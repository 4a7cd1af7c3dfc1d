"""The leaderboard tables: one per dataset, shared by the HTML pages and every export format.

Nothing here recomputes a metric: values are the run's recorded scores and bootstrap intervals, put on the
display scale (fractions x100; BLEU is already 0-100). A table holds the rows of one *test set* (dataset
name and content fingerprint, see :mod:`mulcot_bench.report.board`): a dataset that runs used with
different data gets one table per test set. Rows come in rank order (unranked rows after). Reported
(published) rows are kept apart from measured rows: they get no rank and never take a "best" mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mulcot_bench.report.board import Board, Row, set_label
from mulcot_bench.report.costs import RowCost, row_cost
from mulcot_bench.report.format import DASH, format_params, is_percent_native
from mulcot_bench.results import DatasetRecord, Entry, Failure, ReportedEntry

ROLE_ORDER = ("teacher", "assistant", "student", "baseline")
TABLE_SPLIT = "test"
DEFAULT_HEADLINE = ("accuracy", "macro_f1")
PRIMARY = ("bleu4", "bertscore_f1")  # shown beside the headline metrics; every other column is secondary


@dataclass
class Column:
    key: str
    display: str
    metric_id: str
    headline: bool
    lower_is_better: bool = False

    @property
    def percent_native(self) -> bool:
        return is_percent_native(self.metric_id, self.key)

    @property
    def primary(self) -> bool:
        """In the dataset page's first view (the headline metrics, BLEU-4, BERTScore-F1); else behind the toggle."""
        return self.headline or self.key in PRIMARY


@dataclass
class Value:
    """One score on the display scale, with its bootstrap interval when the run recorded one."""

    raw: float | None
    shown: float | None
    low: float | None = None
    high: float | None = None
    sd: float | None = None  # ``--seeds``: standard deviation over seeds, on the display scale
    per_seed: dict[int, float | None] = field(default_factory=dict)  # seed -> value on the display scale

    @property
    def text(self) -> str:
        if self.shown is None:
            return DASH
        return f"{self.shown:.1f} ± {self.sd:.1f}" if self.sd is not None else f"{self.shown:.1f}"

    @property
    def title(self) -> str:
        """The hover text: the recorded value, and each seed's value for a mean over seeds."""
        seeds = ", ".join(f"seed {s}: {DASH if v is None else f'{v:.1f}'}" for s, v in self.per_seed.items())
        return f"mean over seeds ({seeds}); sd {self.sd:.2f}" if seeds and self.sd is not None else str(self.raw)

    @property
    def ci_text(self) -> str:
        return "" if self.low is None or self.high is None else f"[{self.low:.1f}, {self.high:.1f}]"


@dataclass
class TableRow:
    """A measured or a reported row of a dataset's table."""

    kind: str  # "measured" or "reported"
    key: str
    model: str
    variant: str | None
    role: str
    values: dict[str, Value]
    params: int | None = None
    n: int | None = None
    invalid: int | None = None
    run_id: str = ""
    plugin: str = ""
    cached: bool = False
    inputs: list[str] | None = None  # what the model read when less than its card says (["text"]: no images here)
    assistant: str | None = None
    rank: int | None = None
    best: set[str] = field(default_factory=set)
    citation: str = ""
    note: str = ""
    source: Row | None = None
    cost: RowCost | None = None  # parameters, ms/sample, peak memory (measured rows with an efficiency record)

    @property
    def label(self) -> str:
        return f"{self.model} ({self.variant})" if self.variant else self.model

    @property
    def params_text(self) -> str:
        return format_params(self.params)

    @property
    def rankable(self) -> bool:
        """Measured, full input, not the teacher (the teacher is the upper reference, not a contestant)."""
        return self.kind == "measured" and self.variant is None and self.role != "teacher"


@dataclass
class LeaderTable:
    dataset: DatasetRecord
    columns: list[Column]  # the main table: each metric's summary outputs
    all_columns: list[Column]  # every recorded output
    rows: list[TableRow]  # measured, test split, role order
    reported: list[TableRow]
    headline: list[str]
    other_splits: int = 0
    listed: bool = True
    notes: list[str] = field(default_factory=list)
    failures: list[tuple[Failure, str]] = field(default_factory=list)  # (failure, run id)
    test_set: str = ""  # the fingerprint, or "run:<id>" (board.test_set_key)
    section: str = ""  # "test set 1a2b3c4d5e6f" when the dataset has several test sets, else ""
    ceiling: TableRow | None = None  # the test references scored by the reasoning-health metrics (never ranked)

    @property
    def text_only(self) -> bool:
        """True for a text-only copy of the dataset (no images): never ranked beside a multimodal copy."""
        return self.dataset.modality == "text"

    @property
    def title(self) -> str:
        """The dataset title, marked when the copy is text-only, with its test set when the dataset has several."""
        marks = [m for m in ("text only" if self.text_only else "", self.section) if m]
        return f"{self.dataset.title} ({', '.join(marks)})" if marks else self.dataset.title

    @property
    def rank_key(self) -> str | None:
        return self.headline[0] if self.headline else None

    @property
    def headline_columns(self) -> list[Column]:
        by_key = {c.key: c for c in self.all_columns}
        return [by_key[k] for k in self.headline if k in by_key]


def _role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def _columns(board: Board, keys_in_order: list[str], headline: list[str], summary_only: bool) -> list[Column]:
    """Score keys that occur (only each metric's summary outputs if ``summary_only``), in metric-registration
    order, with their exact display names; keys no metric declares come last, by first appearance."""
    known: dict[str, tuple[str, str]] = {}
    order: dict[str, int] = {}
    hidden: set[str] = set()
    lower = {key for metric in board.metrics for key in metric.lower_is_better}
    for metric in board.metrics:
        if summary_only and metric.summary is not None:
            hidden |= set(metric.outputs) - set(metric.summary)
        for key, display in metric.outputs.items():
            known.setdefault(key, (display, metric.id))
            order.setdefault(key, len(order))
    seen = [k for k in dict.fromkeys(keys_in_order) if k not in hidden or k in headline]
    first = {key: i for i, key in enumerate(seen)}
    seen.sort(key=lambda k: (order.get(k, len(order)), first[k]))
    heads = set(headline)
    out = []
    for key in seen:
        display, metric_id = known.get(key, (key, key))
        out.append(Column(key, display, metric_id, key in heads or metric_id in heads, key in lower))
    return out


def _value(raw: float | None, interval: list[float] | None, percent: bool) -> Value:
    scale = 1.0 if percent else 100.0
    shown = None if raw is None else raw * scale
    if interval and len(interval) == 2 and None not in interval:
        return Value(raw, shown, interval[0] * scale, interval[1] * scale)
    return Value(raw, shown)


def _entry_value(e: Entry, key: str, percent: bool) -> Value:
    """An entry's score; for a mean over seeds also its sd and each seed's value (on the display scale)."""
    value = _value(e.scores.get(key), e.intervals.get(key), percent)
    scale = 1.0 if percent else 100.0
    if e.seeds and e.sd.get(key) is not None:
        value.sd = e.sd[key] * scale
    if e.seeds:
        per_seed = {s.seed: s.scores.get(key) for s in e.seeds if s.seed is not None}
        value.per_seed = {seed: None if v is None else v * scale for seed, v in per_seed.items()}
    return value


def measured_row(row: Row, columns: list[Column]) -> TableRow:
    e = row.entry
    values = {c.key: _entry_value(e, c.key, c.percent_native) for c in columns}
    return TableRow(
        kind="measured",
        key=row.key,
        model=e.model,
        variant=e.variant,
        role=e.role,
        values=values,
        params=e.params,
        n=e.n,
        invalid=e.invalid,
        run_id=row.run.id,
        plugin=e.plugin + (f" {e.plugin_version}" if e.plugin_version else ""),
        cached=e.cached,
        inputs=e.inputs,
        assistant=e.assistant,
        source=row,
        cost=row_cost(e, row.run.results),
    )


def reported_row(rep: ReportedEntry, index: int, columns: list[Column], run_id: str) -> TableRow:
    """A published row; its scores are already percentages (BLEU on 0-100 too)."""
    values = {c.key: Value(rep.scores.get(c.key), rep.scores.get(c.key)) for c in columns}
    return TableRow(
        kind="reported",
        key=f"p{index}",
        model=rep.model,
        variant=None,
        role="reported",
        values=values,
        run_id=run_id,
        citation=rep.citation,
        note=rep.note,
    )


def _mark_best(rows: list[TableRow], columns: list[Column]) -> None:
    """The best value of each column among rankable rows, the highest (the lowest where lower is better; ties
    all marked); nothing is marked in a column where those rows do not differ (every baseline at BLEU 0.0)."""
    for col in columns:
        present = [r.values[col.key].raw for r in rows if r.rankable and r.values[col.key].raw is not None]
        if len(set(present)) < 2:
            continue
        top = min(present) if col.lower_is_better else max(present)
        for r in rows:
            if r.rankable and r.values[col.key].raw == top:
                r.best.add(col.key)


def _rank(rows: list[TableRow], key: str | None) -> None:
    """Competition ranking (1, 2, 2, 4) by ``key``, highest first, among rankable rows with a value."""
    if key is None:
        return
    scored = sorted(
        (r for r in rows if r.rankable and key in r.values and r.values[key].raw is not None),
        key=lambda r: -(r.values[key].raw or 0.0),
    )
    for i, r in enumerate(scored):
        prev = scored[i - 1] if i else None
        r.rank = prev.rank if prev is not None and prev.values[key].raw == r.values[key].raw else i + 1


def headline_of(ds: DatasetRecord) -> list[str]:
    return list(ds.headline) or list(DEFAULT_HEADLINE)


def _in_rank_order(rows: list[TableRow]) -> list[TableRow]:
    """Ranked rows by rank (ties by label), then the unranked ones (teacher, ablations) in role order."""
    return sorted(
        rows,
        key=lambda r: (r.rank is None, r.rank or 0, _role_rank(r.role), r.model, r.variant or ""),
    )


def build_table(
    board: Board, ds: DatasetRecord, rows: list[Row], listed: bool = True, test_set: str = "", section: str = ""
) -> LeaderTable:
    """The table of one test set: measured test-split rows in rank order, unranked rows after."""
    test = [r for r in rows if r.entry.split == TABLE_SPLIT]
    full_order = {r.entry.model: i for i, r in enumerate(r for r in test if r.entry.variant is None)}
    test.sort(
        key=lambda r: (
            _role_rank(r.entry.role),
            r.entry.role,
            r.entry.model,
            full_order.get(r.entry.model, 0),
            r.entry.variant or "",
        )
    )
    reported = [(rep, run) for rep, run in board.reported if rep.dataset == ds.name]
    notes = list(ds.notes) + board.dataset_notes.get(ds.name, [])
    if reported and ds.modality == "text":  # the published rows are multimodal results: another test set
        notes.append(f"{len(reported)} published multimodal result(s) not shown beside this text-only copy")
        reported = []
    headline = headline_of(ds)
    keys = [k for r in test for k in r.entry.scores] + [k for rep, _ in reported for k in rep.scores]
    columns = _columns(board, keys, headline, summary_only=True)
    all_columns = _columns(board, keys, headline, summary_only=False)
    measured = [measured_row(r, all_columns) for r in test]
    _mark_best(measured, all_columns)
    present = {c.key for c in all_columns}
    table = LeaderTable(
        dataset=ds,
        columns=columns,
        all_columns=all_columns,
        rows=measured,
        reported=[reported_row(rep, i, all_columns, run.id) for i, (rep, run) in enumerate(reported)],
        headline=[k for k in headline if k in present] or headline,
        other_splits=len(rows) - len(test),
        listed=listed,
        notes=notes,
        failures=[(f, run.id) for f, run in board.failures if f.dataset == ds.name],
        test_set=test_set,
        section=section,
    )
    table.ceiling = ceiling_row(ds, all_columns)
    _rank(measured, table.rank_key)
    table.rows = _in_rank_order(measured)
    return table


def ceiling_row(ds: DatasetRecord, columns: list[Column]) -> TableRow | None:
    """The references' own reasoning-health scores as a row (None when the run recorded none or no column of
    the table shows them): what a chain as good as the references scores, not a contestant."""
    health = ds.references.get("health") or {}
    scores, intervals = health.get("scores") or {}, health.get("intervals") or {}
    shown = [c for c in columns if c.key in scores]
    if not shown:
        return None
    values = {c.key: _value(scores.get(c.key), intervals.get(c.key), c.percent_native) for c in columns}
    return TableRow(kind="references", key="references", model="references (ceiling)", variant=None,
                    role="references", values=values, n=health.get("n"))  # fmt: skip


def build_tables(board: Board) -> tuple[list[LeaderTable], list[DatasetRecord]]:
    """One table per test set of the datasets that ran (plus tables for entries whose dataset no run listed
    as run), and the datasets that did not run (missing, missing images...)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in board.rows:
        groups.setdefault((row.entry.dataset, row.test_set), []).append(row)
    known = {ds.name: ds for ds in board.datasets}
    wanted: list[tuple[DatasetRecord, str, bool]] = []  # (record, test set, listed)
    for ds in board.datasets:
        wanted += [(ts.record, ts.key, True) for ts in board.test_sets.get(ds.name, [])]
    taken = {(record.name, key) for record, key, _ in wanted}
    for name, key in sorted(set(groups) - taken):  # entries no run's dataset list accounts for: still shown
        record = known.get(name) or DatasetRecord(name=name, title=name, level="?", status="unlisted")
        wanted.append((record, key, name in known))
    counts: dict[str, int] = {}
    for record, _, _ in wanted:
        counts[record.name] = counts.get(record.name, 0) + 1
    tables = [
        build_table(
            board,
            record,
            groups.get((record.name, key), []),
            listed=listed,
            test_set=key,
            section=f"test set {set_label(key)}" if counts[record.name] > 1 else "",
        )
        for record, key, listed in wanted
    ]
    shown = {t.dataset.name for t in tables}
    missing = [ds for ds in board.datasets if ds.name not in shown]
    return tables, missing
