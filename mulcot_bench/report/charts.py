"""Inline SVG charts as plain geometry: the templates draw circles, bars, ticks and labels from these.

Every chart lists the rows it could not plot and why (no parameter count, no BLEU...), never dropping one
silently. Values are on the display scale (percent; BLEU 0-100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mulcot_bench.labels import LABELS
from mulcot_bench.report.format import format_params
from mulcot_bench.report.tables import LeaderTable, TableRow

W, H = 520, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 130, 14, 46


@dataclass
class Tick:
    pos: float
    text: str


@dataclass
class Dot:
    x: float
    y: float
    label: str
    title: str
    css: str


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass
class Chart:
    id: str
    title: str
    xlabel: str
    ylabel: str
    width: int = W
    height: int = H
    left: float = LEFT
    top: float = TOP
    right: float = W - RIGHT
    bottom: float = H - BOTTOM
    xticks: list[Tick] = field(default_factory=list)
    yticks: list[Tick] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    groups: list[Tick] = field(default_factory=list)  # bar-group labels (x position)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, text)
    omitted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.dots and not self.bars


def _scale(v: float, lo: float, hi: float, a: float, b: float) -> float:
    return a if hi == lo else a + (v - lo) * (b - a) / (hi - lo)


def _percent_range(values: list[float]) -> tuple[float, float]:
    lo = max(0.0, math.floor((min(values) - 5) / 10) * 10)
    hi = min(100.0, math.ceil((max(values) + 5) / 10) * 10)
    if hi <= lo:
        lo, hi = max(0.0, hi - 10), max(hi, 10.0)
    return lo, hi


def _linear_ticks(lo: float, hi: float, pos_lo: float, pos_hi: float) -> list[Tick]:
    step = 10 if hi - lo <= 60 else 20
    first = math.ceil(lo / step) * step
    return [Tick(_scale(v, lo, hi, pos_lo, pos_hi), f"{v:g}") for v in range(int(first), int(hi) + 1, step)]


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _css(row: TableRow) -> str:
    return f"role-{row.role}" + (" variant" if row.variant else "")


def accuracy_vs_params(table: LeaderTable, index: int) -> Chart:
    """Accuracy (y, percent) against parameter count (x, log scale) of every full-input measured row."""
    chart = Chart(f"chart-{index}-params", "accuracy vs parameters", "parameters (log scale)", "accuracy (%)")
    pts: list[tuple[float, float, TableRow]] = []
    for r in table.rows:
        acc = r.values.get("accuracy")
        if acc is None or acc.shown is None:
            chart.omitted.append(f"{r.label}: no accuracy")
        elif r.params is None:
            chart.omitted.append(f"{r.label}: parameter count unknown")
        elif r.params <= 0:
            chart.omitted.append(f"{r.label}: {r.params} parameters (not on a log axis)")
        else:
            pts.append((math.log10(r.params), acc.shown, r))
    if not pts:
        return chart
    xlo = math.floor(min(p[0] for p in pts))
    xhi = max(math.ceil(max(p[0] for p in pts)), xlo + 1)
    ylo, yhi = _percent_range([p[1] for p in pts])
    chart.xticks = [
        Tick(_scale(e, xlo, xhi, chart.left, chart.right), format_params(10**e)) for e in range(xlo, xhi + 1)
    ]
    chart.yticks = _linear_ticks(ylo, yhi, chart.bottom, chart.top)
    for lx, acc, r in pts:
        chart.dots.append(
            Dot(
                _scale(lx, xlo, xhi, chart.left, chart.right),
                _scale(acc, ylo, yhi, chart.bottom, chart.top),
                _short(r.label),
                f"{r.label}: accuracy {acc:.1f}%, {r.params:,} parameters",
                _css(r),
            )
        )
    return chart


def bleu_vs_accuracy(table: LeaderTable, index: int) -> Chart:
    """BLEU-4 (y) against accuracy (x) of every measured row that writes rationales."""
    chart = Chart(f"chart-{index}-bleu", "BLEU-4 vs accuracy", "accuracy (%)", "BLEU-4 (corpus, sacrebleu, 0-100)")
    pts = []
    for r in table.rows:
        acc, bleu = r.values.get("accuracy"), r.values.get("bleu4")
        if acc is None or acc.shown is None:
            chart.omitted.append(f"{r.label}: no accuracy")
        elif bleu is None or bleu.shown is None:
            chart.omitted.append(f"{r.label}: no BLEU-4 (writes no rationale)")
        else:
            pts.append((acc.shown, bleu.shown, r))
    if not pts:
        return chart
    xlo, xhi = _percent_range([p[0] for p in pts])
    ylo, yhi = _percent_range([p[1] for p in pts])
    chart.xticks = _linear_ticks(xlo, xhi, chart.left, chart.right)
    chart.yticks = _linear_ticks(ylo, yhi, chart.bottom, chart.top)
    for acc, bleu, r in pts:
        chart.dots.append(
            Dot(
                _scale(acc, xlo, xhi, chart.left, chart.right),
                _scale(bleu, ylo, yhi, chart.bottom, chart.top),
                _short(r.label),
                f"{r.label}: accuracy {acc:.1f}%, BLEU-4 {bleu:.1f}",
                _css(r),
            )
        )
    return chart


def per_class_f1(table: LeaderTable, index: int) -> Chart:
    """Grouped bars: F1 of each class (one-vs-rest, scikit-learn ``average=None``) per full-input row."""
    keys = [f"f1_{label}" for label in LABELS]
    chart = Chart(f"chart-{index}-perclass", "per-class F1", "", "F1 (%)")
    rows = []
    for r in table.rows:
        if r.variant is not None:
            continue
        if all(k in r.values and r.values[k].shown is not None for k in keys):
            rows.append(r)
        else:
            chart.omitted.append(f"{r.label}: per-class F1 not recorded")
    if not rows:
        return chart
    bar, gap = 9.0, 14.0
    chart.left, chart.top = 44.0, 14.0
    chart.right = chart.left + len(rows) * (len(keys) * bar + gap) + gap
    chart.width = max(int(chart.right + 16), 310)
    chart.bottom = H - 96.0
    chart.height = H
    chart.yticks = _linear_ticks(0, 100, chart.bottom, chart.top)
    chart.legend = [(f"cls-{label}", f"F1 ({label})") for label in LABELS]
    for i, r in enumerate(rows):
        x0 = chart.left + gap + i * (len(keys) * bar + gap)
        chart.groups.append(Tick(x0 + len(keys) * bar / 2, _short(r.label, 20)))
        for j, (label, key) in enumerate(zip(LABELS, keys, strict=True)):
            v = r.values[key].shown or 0.0
            y = _scale(v, 0, 100, chart.bottom, chart.top)
            chart.bars.append(
                Bar(x0 + j * bar, y, bar - 1, chart.bottom - y, f"cls-{label}", f"{r.label}: F1 ({label}) {v:.1f}")
            )
    return chart


def charts(table: LeaderTable, index: int) -> list[Chart]:
    """The charts whose scores the table records (no BLEU chart where no row has a BLEU-4 column...)."""
    keys = {c.key for c in table.all_columns}
    out = []
    if "accuracy" in keys:
        out.append(accuracy_vs_params(table, index))
    if {"accuracy", "bleu4"} <= keys:
        out.append(bleu_vs_accuracy(table, index))
    if {f"f1_{label}" for label in LABELS} <= keys:
        out.append(per_class_f1(table, index))
    return out
