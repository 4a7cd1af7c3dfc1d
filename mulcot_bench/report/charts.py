"""The leaderboard's charts: what each plots (pure data, here); :mod:`.plot` draws their SVG (matplotlib).

Every chart lists the rows it could not plot and why (no parameter count, no BLEU...), never dropping one
silently. Values are on the display scale (percent; BLEU 0-100), with the run's bootstrap interval where
recorded. Model names never sit next to points: scatter plots name their points in a legend, bar and dot
plots on one axis row per model, so no two labels can collide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mulcot_bench.efficiency.front import front
from mulcot_bench.labels import LABELS
from mulcot_bench.report.tables import LeaderTable, TableRow, Value


@dataclass
class Point:
    """One row's mark: its label, role (colour) and whether it is an ablation (hollow)."""

    label: str
    role: str
    variant: bool
    x: float | None = None
    y: float | None = None
    x_err: tuple[float, float] | None = None  # (low, high) on the display scale
    y_err: tuple[float, float] | None = None


@dataclass
class Panel:
    """One axis of a dot plot: a metric of every row, with intervals."""

    title: str
    values: list[Value | None]


@dataclass
class Chart:
    """A chart's data (``kind``: scatter, bars or dots) and, once rendered, its inline SVG."""

    id: str
    title: str
    kind: str
    xlabel: str = ""
    ylabel: str = ""
    log_x: bool = False
    points: list[Point] = field(default_factory=list)  # scatter
    rows: list[Point] = field(default_factory=list)  # bars and dots: one axis row per model
    series: list[tuple[str, list[float]]] = field(default_factory=list)  # bars: (legend, value per row)
    panels: list[Panel] = field(default_factory=list)  # dots
    omitted: list[str] = field(default_factory=list)
    svg: str = ""
    front: list[int] = field(default_factory=list)  # scatter: indices of the points on the quality-cost front
    x_unit: str = "params"  # how a log x axis labels its ticks: "params" (1.2M) or "ms"
    note: str = ""  # what the chart's marks mean beyond the legend

    @property
    def empty(self) -> bool:
        return not self.points and not self.rows


def _pair(v: Value | None) -> tuple[float, float] | None:
    return None if v is None or v.low is None or v.high is None else (v.low, v.high)


def _point(r: TableRow) -> Point:
    return Point(r.label, r.role, r.variant is not None)


def accuracy_vs_params(table: LeaderTable, chart_id: str) -> Chart:
    """Accuracy (y, percent) against parameter count (x, log scale) of every measured row."""
    chart = Chart(chart_id, "accuracy vs parameters", "scatter", "parameters (log scale)", "accuracy (%)", True)
    for r in table.rows:
        acc = r.values.get("accuracy")
        if acc is None or acc.shown is None:
            chart.omitted.append(f"{r.label}: no accuracy")
        elif r.params is None:
            chart.omitted.append(f"{r.label}: parameter count unknown")
        elif r.params <= 0:
            chart.omitted.append(f"{r.label}: {r.params} parameters (not on a log axis)")
        else:
            p = _point(r)
            p.x, p.y, p.y_err = float(r.params), acc.shown, _pair(acc)
            chart.points.append(p)
    return chart


def bleu_vs_accuracy(table: LeaderTable, chart_id: str) -> Chart:
    """BLEU-4 (y) against accuracy (x) of every measured row that writes rationales."""
    chart = Chart(chart_id, "BLEU-4 vs accuracy", "scatter", "accuracy (%)", "BLEU-4 (corpus, sacrebleu, 0-100)")
    for r in table.rows:
        acc, bleu = r.values.get("accuracy"), r.values.get("bleu4")
        if acc is None or acc.shown is None:
            chart.omitted.append(f"{r.label}: no accuracy")
        elif bleu is None or bleu.shown is None:
            chart.omitted.append(f"{r.label}: no BLEU-4 (writes no rationale)")
        else:
            p = _point(r)
            p.x, p.y, p.x_err, p.y_err = acc.shown, bleu.shown, _pair(acc), _pair(bleu)
            chart.points.append(p)
    return chart


def quality_vs_cost(table: LeaderTable, chart_id: str) -> Chart | None:
    """The headline score (y) against ms/sample at batch size 1 (x, log scale) of each ranked row (full input, no
    teacher), with the quality-cost front ringed (None: no headline metric).

    Only figures measured on one machine are compared: the machine most rows were measured on (ties: the first
    row's); a row measured elsewhere is drawn hollow and left off the front."""
    col = next(iter(table.headline_columns), None)
    if col is None:
        return None
    chart = Chart(chart_id, f"{col.display} vs ms/sample", "scatter", "ms/sample at batch size 1 (log scale)",
                  f"{col.display} (%)", True, x_unit="ms")  # fmt: skip
    placed: list[TableRow] = []
    for r in table.rows:
        v, cost = r.values.get(col.key), r.cost
        if r.variant is not None:
            continue
        if not r.rankable:
            chart.omitted.append(f"{r.label}: the {r.role}, the upper reference, is not compared")
        elif v is None or v.shown is None:
            chart.omitted.append(f"{r.label}: no {col.display}")
        elif cost is None or cost.ms is None:
            chart.omitted.append(f"{r.label}: latency not measured")
        elif cost.ms <= 0:
            chart.omitted.append(f"{r.label}: {cost.ms} ms (not on a log axis)")
        else:
            placed.append(r)
    machines = [r.cost.machine_id for r in placed if r.cost is not None]
    here = max(dict.fromkeys(machines), key=machines.count) if machines else ""
    same: list[int] = []
    for r in placed:
        p = _point(r)
        assert r.cost is not None and r.cost.ms is not None
        v = r.values[col.key]
        p.x, p.y, p.y_err = r.cost.ms, v.shown, _pair(v)
        p.variant = r.cost.machine_id != here  # hollow: measured on another machine
        if not p.variant:
            same.append(len(chart.points))
        chart.points.append(p)
    on = front([(chart.points[i].x or 0.0, chart.points[i].y or 0.0) for i in same])
    chart.front = [same[i] for i in on]
    chart.note = "Ringed: on the quality-cost front (no other model is both faster and better)"
    if len(same) < len(chart.points):
        chart.note += "; hollow: measured on another machine, not compared (not on the front)"
    return chart


def per_class_f1(table: LeaderTable, chart_id: str) -> Chart:
    """Grouped bars: F1 of each class (one-vs-rest, scikit-learn ``average=None``) per full-input row."""
    keys = [f"f1_{label}" for label in LABELS]
    chart = Chart(chart_id, "per-class F1", "bars", "F1 (%)")
    values: list[list[float]] = [[] for _ in keys]
    for r in table.rows:
        if r.variant is not None:
            continue
        if all(k in r.values and r.values[k].shown is not None for k in keys):
            chart.rows.append(_point(r))
            for column, k in zip(values, keys, strict=True):
                column.append(r.values[k].shown or 0.0)
        else:
            chart.omitted.append(f"{r.label}: per-class F1 not recorded")
    chart.series = [(f"F1 ({label})", column) for label, column in zip(LABELS, values, strict=True)]
    return chart


def headline_dots(table: LeaderTable, chart_id: str) -> Chart:
    """The overview's chart of one test set: accuracy and BLEU-4 of each model (one row each, in the
    table's order) with their intervals; a panel only for a metric some row has."""
    chart = Chart(chart_id, table.title, "dots")
    rows = [r for r in table.rows if r.variant is None]
    chart.rows = [_point(r) for r in rows]
    for key, title in (("accuracy", "accuracy (%)"), ("bleu4", "BLEU-4 (0-100)")):
        values = [r.values.get(key) for r in rows]
        if any(v is not None and v.shown is not None for v in values):
            chart.panels.append(Panel(title, values))
            chart.omitted += [f"{r.label}: no {title.split(' ')[0]}" for r, v in zip(rows, values, strict=True)
                              if v is None or v.shown is None]
    if not chart.panels:
        chart.rows = []
    return chart


def charts(table: LeaderTable, index: int) -> list[Chart]:
    """The charts of a dataset page whose scores the table records (no BLEU chart where no row has BLEU-4...);
    :func:`mulcot_bench.report.plot.render` draws them."""
    keys = {c.key for c in table.all_columns}
    out = []
    if "accuracy" in keys:
        out.append(accuracy_vs_params(table, f"chart-{index}-params"))
    if {"accuracy", "bleu4"} <= keys:
        out.append(bleu_vs_accuracy(table, f"chart-{index}-bleu"))
    if {f"f1_{label}" for label in LABELS} <= keys:
        out.append(per_class_f1(table, f"chart-{index}-perclass"))
    if any(r.cost is not None for r in table.rows):
        cost = quality_vs_cost(table, f"chart-{index}-cost")
        out += [cost] if cost is not None else []
    return out


def overview_charts(tables: Sequence[LeaderTable]) -> list[Chart]:
    """One dot chart per test set for the overview page."""
    return [headline_dots(t, f"overview-{i}") for i, t in enumerate(tables)]


def log_span(values: Sequence[float]) -> tuple[float, float]:
    """Whole decades around positive values, for a log axis (at least one decade wide)."""
    lo = math.floor(math.log10(min(values)))
    hi = max(math.ceil(math.log10(max(values))), lo + 1)
    return 10.0**lo, 10.0**hi


def to_json(chart: Chart) -> dict[str, Any]:
    """A chart's data as JSON-ready values (a panel value keeps only what is drawn)."""
    data = asdict(chart)
    data["panels"] = [
        {"title": p.title, "values": [None if v is None else [v.shown, v.low, v.high] for v in p.values]}
        for p in chart.panels
    ]
    return data


def from_json(data: dict[str, Any]) -> Chart:
    """The chart :func:`to_json` wrote."""

    def point(p: dict[str, Any]) -> Point:
        pairs = {k: None if p[k] is None else tuple(p[k]) for k in ("x_err", "y_err")}
        return Point(**{**p, **pairs})

    return Chart(
        **{
            **data,
            "points": [point(p) for p in data["points"]],
            "rows": [point(p) for p in data["rows"]],
            "series": [(name, list(values)) for name, values in data["series"]],
            "panels": [
                Panel(p["title"], [None if v is None else Value(None, v[0], v[1], v[2]) for v in p["values"]])
                for p in data["panels"]
            ],
        }
    )
