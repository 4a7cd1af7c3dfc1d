"""Charts with long model names: no two text boxes overlap and none leaves the figure, measured on the SVG.

Text is drawn as glyph paths (``svg.fonttype = path``), so each label's box is computed from the SVG alone:
the control points of its glyph outlines (a superset of the drawn outline) through every transform above
them. A hand-made figure with two labels on top of each other proves the check can fail.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest
from demo_runs import LONG, demo_run

from mulcot_bench.report.board import merge, read_run
from mulcot_bench.report.charts import Chart, Point, charts, from_json, overview_charts, to_json
from mulcot_bench.report.plot import RC, _inline, render
from mulcot_bench.report.tables import build_tables

Matrix = tuple[float, float, float, float, float, float]  # SVG matrix(a b c d e f)
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
Box = tuple[float, float, float, float]


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def _transform(text: str | None) -> Matrix:
    m = IDENTITY
    for name, args in re.findall(r"(\w+)\(([^)]*)\)", text or ""):
        v = [float(x) for x in re.split(r"[\s,]+", args.strip()) if x]
        if name == "translate":
            step = (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale":
            step = (v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0], 0.0, 0.0)
        elif name == "rotate":
            r = math.radians(v[0])
            step = (math.cos(r), math.sin(r), -math.sin(r), math.cos(r), 0.0, 0.0)
        elif name == "matrix":
            step = tuple(v)  # type: ignore[assignment]
        else:
            raise AssertionError(f"unexpected SVG transform {name}")
        m = _mul(m, step)
    return m


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def text_boxes(svg: str) -> tuple[dict[str, Box], Box]:
    """Each drawn text's box (by its group id) in the SVG's user units, and the viewBox."""
    root = ET.fromstring(svg.replace("xlink:href", "href"))
    glyphs = {p.get("id"): p for p in root.iter("path") if p.get("id")}
    boxes: dict[str, Box] = {}

    def walk(node: ET.Element, m: Matrix, owner: str | None) -> None:
        m = _mul(m, _transform(node.get("transform")))
        ident = node.get("id") or ""
        if re.search(r"-text_\d+$", ident):
            owner = ident
        if node.tag == "use" and owner and (node.get("href") or "").lstrip("#") in glyphs:
            path = glyphs[node.get("href", "").lstrip("#")]
            numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", path.get("d") or "")]
            g = _mul(
                _mul(m, _transform(f"translate({node.get('x', 0)} {node.get('y', 0)})")),
                _transform(path.get("transform")),
            )
            pts = [_apply(g, x, y) for x, y in zip(numbers[::2], numbers[1::2], strict=False)]
            if pts:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                old = boxes.get(owner)
                new = (min(xs), min(ys), max(xs), max(ys))
                boxes[owner] = (
                    new
                    if old is None
                    else (min(old[0], new[0]), min(old[1], new[1]), max(old[2], new[2]), max(old[3], new[3]))
                )
        for child in node:
            if child.tag != "defs":
                walk(child, m, owner)

    walk(root, IDENTITY, None)
    x0, y0, w, h = (float(v) for v in (root.get("viewBox") or "").split())
    return boxes, (x0, y0, x0 + w, y0 + h)


def problems(svg: str, slack: float = 0.25) -> list[str]:
    """Pairs of text boxes that overlap, and boxes that leave the figure."""
    boxes, (fx0, fy0, fx1, fy1) = text_boxes(svg)
    out = [
        f"{k} leaves the figure: {b}"
        for k, b in boxes.items()
        if b[0] < fx0 - slack or b[1] < fy0 - slack or b[2] > fx1 + slack or b[3] > fy1 + slack
    ]
    for (k1, a), (k2, b) in combinations(boxes.items(), 2):
        if min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack:
            out.append(f"{k1} overlaps {k2}")
    return out


@pytest.fixture(scope="module")
def long_tables(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("charts")
    run_dir = demo_run(root, models=12, datasets=2, n=40, long_names=True)
    tables, _ = build_tables(merge([read_run(run_dir)]))
    return tables


def test_dataset_charts_with_long_names_have_no_overlap(long_tables) -> None:
    drawn = render([c for i, t in enumerate(long_tables) for c in charts(t, i)])
    assert {c.kind for c in drawn} == {"scatter", "bars"} and len(drawn) == 6
    for chart in drawn:
        assert chart.svg.startswith("<svg ") and "<script" not in chart.svg and "http" not in chart.svg
        boxes, _ = text_boxes(chart.svg)
        rows = len(chart.points) or len(chart.rows)
        assert rows >= 8 and len(boxes) > rows + 5, chart.id  # every name and tick label was measured
        assert problems(chart.svg) == [], chart.id
    params = next(c for c in drawn if c.id == "chart-0-params")
    assert any(LONG in p.label for p in params.points)
    assert "majority" + LONG + ": 0 parameters (not on a log axis)" in params.omitted


def test_overview_chart_with_long_names_has_no_overlap(long_tables) -> None:
    drawn = render(overview_charts(long_tables))
    assert [c.title for c in drawn] == [t.title for t in long_tables]
    for chart in drawn:
        assert [p.label for p in chart.rows] == [
            r.label for r in long_tables[drawn.index(chart)].rows if r.variant is None
        ]
        assert [p.title for p in chart.panels] == ["accuracy (%)", "BLEU-4 (0-100)"]
        assert problems(chart.svg) == [], chart.id
        assert "text-tfidf-lr" + LONG + ": no BLEU-4" in chart.omitted


def test_overlap_check_can_fail() -> None:
    """A figure with two labels at one spot and one past the edge: the check reports both."""
    import io

    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3, 2))
        fig.text(0.5, 0.5, "first label")
        fig.text(0.52, 0.5, "second label")
        fig.text(0.9, 0.1, "cut off at the right edge")
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    svg = _inline(buf.getvalue(), Chart("neg", "negative control", "scatter"))
    found = problems(svg)
    assert any("overlaps" in p for p in found) and any("leaves the figure" in p for p in found)


def test_charts_are_deterministic_and_ids_are_prefixed(tmp_path: Path) -> None:
    chart = Chart("c-1", "t", "scatter", "x", "y", points=[Point("a", "student", False, 1.0, 2.0)])
    other = Chart("c-2", "t", "scatter", "x", "y", points=[Point("a", "student", False, 1.0, 2.0)])
    first, second = render([chart, other])
    assert first.svg == render([Chart("c-1", "t", "scatter", "x", "y", points=list(chart.points))])[0].svg
    ids = re.findall(r'\bid="([^"]+)"', first.svg)
    assert ids and all(i.startswith("c-1-") for i in ids)
    assert not set(ids) & set(re.findall(r'\bid="([^"]+)"', second.svg))  # two charts on one page never clash


def test_second_process_draws_the_same_svg(long_tables, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker process draws byte-for-byte what the in-process path draws; a failing worker is reported on
    stderr and its charts drawn in process."""
    from mulcot_bench.report import drawing

    def fresh() -> list[Chart]:
        return [c for i, t in enumerate(long_tables) for c in charts(t, i)] + overview_charts(long_tables)

    here = render(fresh())
    assert [to_json(c) for c in here] == [to_json(from_json(to_json(c))) for c in here]
    monkeypatch.setattr(drawing, "WORKER_MIN", 1)
    job = drawing.start(fresh())
    assert job.proc is not None  # drawn in a second process
    assert [c.svg for c in job.wait()] == [c.svg for c in here]
    assert job.proc.returncode == 0 and job.error is None


def test_failing_worker_falls_back(long_tables, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    from mulcot_bench.report import drawing

    monkeypatch.setattr(drawing, "WORKER_MIN", 1)
    monkeypatch.setattr(drawing.sys, "executable", "/bin/false")
    chart_list = charts(long_tables[0], 0)
    job = drawing.start(chart_list)
    drawn = job.wait()
    assert all(c.svg.startswith("<svg ") for c in drawn)
    assert "drawing the charts in a second process failed (exit 1: no message); drawing them here" in (
        capsys.readouterr().err
    )
