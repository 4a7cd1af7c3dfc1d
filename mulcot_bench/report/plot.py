"""Draw the charts of :mod:`mulcot_bench.report.charts` as inline SVG with matplotlib's SVG backend.

matplotlib is imported here only, when a report is rendered (:mod:`.drawing` runs it in a second process
for a report with many charts). Layout is matplotlib's constrained layout, run once per figure with the SVG
renderer's text metrics and then frozen, so saving draws the figure once; legends are placed outside the
axes, long names are wrapped, and figures grow with their rows and legend entries, so labels neither collide
nor leave the figure (``tests/test_report_charts.py`` checks this on the SVG's own geometry). Text is drawn as
glyph paths, so the page shows exactly the measured layout whatever fonts the viewer has, and nothing is
fetched at view time.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from markupsafe import escape

from mulcot_bench.report.charts import Chart, Point, from_json, log_span
from mulcot_bench.report.format import format_params

ROLE_COLOURS = {
    "teacher": "#6b7280",
    "assistant": "#d97706",
    "student": "#2563eb",
    "baseline": "#059669",
}
CLASS_COLOURS = ("#2f9e58", "#9aa3b5", "#d6453d")  # positive, neutral, negative (LABELS order)
MARKERS = "osD^vPX*<>ph"
WIDTH = 6.4  # inches; the SVG's user unit is the point (72 per inch)
WRAP = 26  # characters per legend or axis label line
LINE = 0.15  # inches per label line
RC = {
    "font.size": 8,
    "text.parse_math": False,  # a model name with "$" is a name, not TeX
    "svg.fonttype": "path",
    "savefig.format": "svg",  # the layout measures text with the SVG renderer, the one that draws it
    "svg.hashsalt": "mulcot-bench",  # stable ids, so the same results give the same page
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e7eaf0",
    "legend.frameon": False,
}


def wrap(label: str, width: int = WRAP) -> str:
    """A label broken into lines of at most ``width`` characters (at hyphens and spaces where it can)."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=True, break_on_hyphens=True)) or label


def _lines(labels: Sequence[str]) -> int:
    return sum(wrap(label).count("\n") + 1 for label in labels)


def _colour(p: Point) -> str:
    return ROLE_COLOURS.get(p.role, "#3a3f4b")


def _err(value: float | None, pair: tuple[float, float] | None) -> Any:
    if value is None or pair is None:
        return None
    return [[max(0.0, value - pair[0])], [max(0.0, pair[1] - value)]]


def _scatter(chart: Chart) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullLocator

    height = max(3.0, 0.6 + LINE * 1.45 * _lines([p.label for p in chart.points]))
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    ax = fig.add_subplot()
    handles = []
    for i, p in enumerate(chart.points):
        colour = _colour(p)
        style = {"marker": MARKERS[i % len(MARKERS)], "color": colour, "mfc": "white" if p.variant else colour, "ms": 6}
        handles.append(Line2D([], [], linestyle="none", **style))  # a plain marker in the legend: fewer artists
        ax.errorbar(
            [p.x],
            [p.y],
            xerr=_err(p.x, p.x_err),
            yerr=_err(p.y, p.y_err),
            fmt=style["marker"],
            color=colour,
            mfc=style["mfc"],
            ms=6,
            capsize=2,
            elinewidth=0.8,
        )
    if chart.front:
        on = [chart.points[i] for i in chart.front]
        ax.plot([p.x for p in on], [p.y for p in on], ls="--", lw=0.8, color="#3a3f4b", zorder=0)
        ax.scatter([p.x for p in on], [p.y for p in on], s=170, facecolors="none", edgecolors="#3a3f4b", lw=1.0)
    if chart.log_x:
        ax.set_xscale("log")
        ax.set_xlim(*log_span([p.x for p in chart.points if p.x]))
        ticks = (lambda v, _: f"{v:g}") if chart.x_unit == "ms" else (lambda v, _: format_params(round(v)))
        ax.xaxis.set_major_formatter(FuncFormatter(ticks))
        ax.xaxis.set_minor_locator(NullLocator())  # decades only: minor ticks cost a third of the chart
    ax.set_xlabel(chart.xlabel)
    ax.set_ylabel(chart.ylabel)
    labels = [wrap(p.label) for p in chart.points]
    if chart.front:
        handles.append(Line2D([], [], ls="--", lw=0.8, color="#3a3f4b"))
        labels.append("quality-cost front")
    hollow = "another machine" if chart.x_unit == "ms" else "ablation"
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        title=f"model (hollow: {hollow})",
    )
    return fig


def _bars(chart: Chart) -> Any:
    from matplotlib.figure import Figure

    labels = [wrap(p.label) for p in chart.rows]
    per_row = max(0.42, LINE * max(label.count("\n") + 1 for label in labels) + 0.12)
    fig = Figure(figsize=(WIDTH, 1.1 + per_row * len(labels)), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(chart.series)
    for j, ((name, values), colour) in enumerate(zip(chart.series, CLASS_COLOURS, strict=False)):
        ys = [i - 0.4 + width * (j + 0.5) for i in range(len(values))]
        ax.barh(ys, values, height=width * 0.92, color=colour, label=name)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(chart.xlabel)
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside upper center", ncols=len(chart.series))
    return fig


def _dots(chart: Chart) -> Any:
    from matplotlib.figure import Figure

    labels = [wrap(p.label) for p in chart.rows]
    per_row = max(0.3, LINE * max(label.count("\n") + 1 for label in labels) + 0.06)
    fig = Figure(figsize=(WIDTH, 0.8 + per_row * len(labels)), layout="constrained")
    axes = fig.subplots(1, len(chart.panels), sharey=True, squeeze=False)[0]
    for ax, panel in zip(axes, chart.panels, strict=True):
        groups: dict[tuple[str, bool], list[tuple[int, float, Any]]] = {}  # one errorbar call per colour
        for i, (p, v) in enumerate(zip(chart.rows, panel.values, strict=True)):
            if v is None or v.shown is None:
                continue
            pair = (v.low, v.high) if v.low is not None and v.high is not None else None
            groups.setdefault((_colour(p), pair is not None), []).append((i, v.shown, _err(v.shown, pair)))
        for (colour, bars), marks in groups.items():
            xerr = [[m[2][0][0] for m in marks], [m[2][1][0] for m in marks]] if bars else None
            ax.errorbar([m[1] for m in marks], [m[0] for m in marks], xerr=xerr, fmt="o", color=colour, ms=5, capsize=2)
        ax.set_xlabel(panel.title)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(range(len(labels)), labels)
    axes[0].set_ylim(len(labels) - 0.5, -0.5)
    return fig


DRAW = {"scatter": _scatter, "bars": _bars, "dots": _dots}


def _inline(svg: str, chart: Chart) -> str:
    """matplotlib's SVG document as an element for an HTML page: no XML prolog, metadata or comments, every id
    prefixed with the chart's id (several charts share a page), labelled for screen readers."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->\s*|<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)  # implied inside an HTML page
    prefix = chart.id + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return svg.replace("<svg ", f'<svg class="plot" role="img" aria-label="{escape(chart.title)}" ', 1)


def render(charts: list[Chart]) -> list[Chart]:
    """Fill each non-empty chart's ``svg``; returns the same list."""
    import matplotlib

    with matplotlib.rc_context(RC):
        for chart in charts:
            if chart.empty:
                continue
            fig = DRAW[chart.kind](chart)
            # laid out once, then frozen: savefig with a layout engine draws twice and lays out on each draw
            fig.get_layout_engine().execute(fig)
            fig.set_layout_engine(None)  # no engine (rc figure.autolayout and constrained_layout.use are off)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
            chart.svg = _inline(buf.getvalue(), chart)
    return charts


def main() -> None:
    """The worker of :mod:`.drawing`: charts as JSON on stdin, their SVG as a JSON list on stdout."""
    import json
    import sys

    charts = [from_json(c) for c in json.loads(sys.stdin.buffer.read())]
    render(charts)
    sys.stdout.write(json.dumps([c.svg for c in charts]))


if __name__ == "__main__":
    main()
