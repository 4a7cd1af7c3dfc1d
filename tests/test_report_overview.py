"""The overview table, shaped like the field's papers: headline metrics per test set, BLEU-4 where references
exist, published rows beside measured ones, and the average accuracy over the four benchmarks, the same in HTML,
Markdown, CSV, LaTeX and JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from demo_runs import demo_run

from mulcot_bench.report import render_runs
from mulcot_bench.report.board import merge, read_run
from mulcot_bench.report.overview import PAPER_SETS, average_accuracy, overview_of
from mulcot_bench.report.tables import Value, build_tables
from mulcot_bench.results import RunResults

ALL = ("html", "md", "csv", "tex", "json")


def _accuracy(results: RunResults, model: str, dataset: str) -> float:
    wanted = (model, dataset, None, "test")
    entry = next(e for e in results.entries if (e.model, e.dataset, e.variant, e.split) == wanted)
    return entry.scores["accuracy"] * 100  # type: ignore[operator]


def test_average_accuracy_is_the_mean_over_the_four_benchmarks_or_blank_with_the_reason() -> None:
    four = {name: [Value(0.0, float(i))] for i, name in enumerate(PAPER_SETS)}
    value, note = average_accuracy(four)
    assert value is not None and value.shown == pytest.approx(1.5) and "mean of the accuracy" in note
    value, note = average_accuracy({k: v for k, v in four.items() if k != "mvsa_single"})
    assert value is None and note == "not run on mvsa_single"
    value, note = average_accuracy({**four, "twitter2015": [Value(0.0, 1.0), Value(0.0, 2.0)]})
    assert value is None and "several test sets of twitter2015" in note


def test_the_overview_in_every_format(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=5, datasets=5, n=20)
    results = RunResults.read(run_dir)
    board = merge([read_run(run_dir)])
    tables, _ = build_tables(board)
    ov = overview_of(board, tables)
    assert ov.average
    assert [g.table.dataset.name for g in ov.groups] == [
        "twitter2015", "mvsa_single", "twitter2017", "mvsa_multiple", "synthetic"]  # fmt: skip
    heads = {g.table.dataset.name: [c.key for c in g.columns] for g in ov.groups}
    assert heads["twitter2015"][:2] == ["accuracy", "macro_f1"]
    assert heads["mvsa_single"][:2] == ["accuracy", "weighted_f1"]
    assert "bleu4" in heads["twitter2015"]  # the demo run's chain models have BLEU-4 there
    student = next(r for r in ov.rows if r.label == "demo-student")
    want = sum(_accuracy(results, "demo-student", name) for name in PAPER_SETS) / 4
    assert student.average is not None and student.average.shown == pytest.approx(want)
    reported = [r for r in ov.rows if r.kind == "reported"]
    assert reported and all(r.average is None and r.average_note.startswith("not run on") for r in reported)

    written = render_runs([run_dir], tmp_path / "out", ALL)
    rows = list(csv.DictReader(written["csv-overview"].open()))
    by_model = {r["model"]: r for r in rows}
    assert float(by_model["demo-student"]["average accuracy"]) == pytest.approx(want, abs=0.05)
    assert by_model["MultiSentiNet"]["kind"] == "reported" and by_model["MultiSentiNet"]["average_accuracy_note"]
    md = written["md"].read_text()
    assert "## Overview" in md and "| model | role | Twitter-2015: accuracy |" in md
    assert f"| {student.average_text} |" in md
    assert "\\label{tab:overview}" in written["tex"].read_text()
    doc = json.loads(written["json"].read_text())["overview"]
    assert doc["columns"][-1] == "average accuracy" and len(doc["rows"]) == len(ov.rows)
    index = (tmp_path / "out" / "index.html").read_text()
    assert "avg. accuracy</th>" in index and f">{student.average_text}</td>" in index
