"""Exports (Markdown, CSV, LaTeX booktabs, JSON), merging several runs, and the ``report`` command."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from demo_runs import demo_run

from mulcot_bench.cli import cli
from mulcot_bench.errors import UserError
from mulcot_bench.report import parse_formats, render_runs
from mulcot_bench.report.exports import LONG_HEAD, _csv_text, tex_escape
from mulcot_bench.results import RunResults

ALL = ("html", "md", "csv", "tex", "json")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    old = demo_run(root / "a", models=4, datasets=2, n=12, seed=1, run_id="old", started_at="2026-01-01T00:00:00+00:00")
    new = demo_run(root / "b", models=6, datasets=1, n=12, seed=2, run_id="new", started_at="2026-02-01T00:00:00+00:00")
    return old, new


def test_formats_parsed_and_checked() -> None:
    assert parse_formats("html, MD,csv,md") == ["html", "md", "csv"]
    with pytest.raises(UserError, match="unknown report format 'pdf'"):
        parse_formats("html,pdf")


def test_every_format_of_one_run(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=5, datasets=2, n=20)
    written = render_runs([run_dir], tmp_path / "out", ALL)
    assert set(written) == {*ALL, "csv-long", "csv-overview"} and all(p.is_file() for p in written.values())
    results = RunResults.read(run_dir)
    measured = [e for e in results.entries if e.split == "test"]

    text = written["csv"].read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(measured) + len(results.reported)
    head = text.splitlines()[0].split(",")
    assert all(re.fullmatch(r"[a-z0-9_]+", h) for h in head), head  # machine-friendly column ids
    student = next(
        r for r in rows if r["model"] == "demo-student" and r["dataset"] == "twitter2015" and not r["variant"]
    )
    entry = next(e for e in measured if e.model == "demo-student" and e.dataset == "twitter2015" and not e.variant)
    assert float(student["accuracy"]) == pytest.approx(entry.scores["accuracy"] * 100, abs=1e-4)
    assert float(student["accuracy_low"]) == pytest.approx(entry.intervals["accuracy"][0] * 100, abs=1e-4)
    assert float(student["bleu4"]) == pytest.approx(entry.scores["bleu4"], abs=1e-4)
    assert student["test_set"] == results.datasets[0].fingerprint
    reported = [r for r in rows if r["kind"] == "reported"]
    assert reported and all(r["rank"] == "" and r["citation"] for r in reported)

    # the long, tidy CSV: one line per (dataset, model, variant, metric output) with a value
    long = list(csv.DictReader(io.StringIO(written["csv-long"].read_text())))
    assert list(long[0]) == list(LONG_HEAD)
    want = sum(v is not None for e in measured for v in e.scores.values())
    want += sum(len(r.scores) for r in results.reported)
    assert len(long) == want
    acc = next(
        r for r in long if r["model"] == "demo-student" and r["dataset"] == "twitter2015" and not r["variant"]
        and r["metric"] == "accuracy"
    )
    assert float(acc["value"]) == pytest.approx(entry.scores["accuracy"] * 100, abs=1e-4)
    assert float(acc["high"]) == pytest.approx(entry.intervals["accuracy"][1] * 100, abs=1e-4)
    assert acc["n"] == str(entry.n) and acc["metric_name"] == "accuracy"
    assert {r["metric_name"] for r in long if r["metric"] == "bleu4"} == {"BLEU-4 (corpus, sacrebleu)"}

    md = written["md"].read_text()
    assert "## Twitter-2015 (`twitter2015`)" in md and "| rank | model | role | params | accuracy |" in md
    for table in re.findall(r"(?m)^\| rank \|.*(?:\n\|.*)+", md):  # no column is empty in every row
        lines = [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()]
        body = lines[2:]
        assert all(any(row[i] != "\u2014" for row in body) for i in range(len(lines[0]))), lines[0]
    assert f"| demo-student | student | 480k | {entry.scores['accuracy'] * 100:.1f} [" in md
    assert "Reported in the literature (not reproduced):" in md and "TomBERT (IJCAI 2019)" in md
    assert "## Datasets not run" in md and "demo_missing" in md
    assert "model failure: broken-model: RuntimeError: demo failure" in md

    tex = written["tex"].read_text()
    # two dataset tables (a rule before their reported rows) and the overview table (the same)
    assert tex.count("\\toprule") == tex.count("\\midrule") - 3 == tex.count("\\bottomrule") == 3
    assert "demo-student (text-only)" in tex and "\\textit{TomBERT}\\dag" in tex
    assert "\\textbf{" in tex and "mvsa\\_single" not in tex.split("\\label")[0]  # escaped where shown

    doc = json.loads(written["json"].read_text())
    assert [d["name"] for d in doc["datasets"]] == ["twitter2015", "mvsa_single"]
    assert doc["datasets"][1]["headline"] == ["accuracy", "weighted_f1"]
    assert doc["not_run"][0]["name"] == "demo_missing"
    assert sum(len(d["rows"]) for d in doc["datasets"]) == len(measured)


def test_csv_text_is_never_a_formula() -> None:
    assert [_csv_text(t) for t in ("=1+1", "@x", "+a", "-b", "ok")] == ["'=1+1", "'@x", "'+a", "'-b", "ok"]


def test_tex_escape() -> None:
    assert tex_escape("a_b & 100% #1 {x} ~ ^ \\") == (
        "a\\_b \\& 100\\% \\#1 \\{x\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}"
    )


def _same_data(new: Path, old: Path, tmp_path: Path) -> Path:
    """A copy of run ``new`` that records the same dataset fingerprints as ``old`` (the same test sets)."""
    copy = tmp_path / "same" / new.name
    shutil.copytree(new, copy)
    prints = {d.name: d.fingerprint for d in RunResults.read(old).datasets}
    results = RunResults.read(copy)
    for d in results.datasets:
        d.fingerprint = prints.get(d.name, d.fingerprint)
    results.write(copy)
    return copy


def test_merge_newest_wins_and_superseded_listed(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = two_runs
    new = _same_data(new, old, tmp_path)
    # name the newer run first: the start time decides, not the order
    written = render_runs([new, old], tmp_path / "merged", ("html", "json"))
    doc = json.loads(written["json"].read_text())
    assert [d["name"] for d in doc["datasets"]] == ["twitter2015", "mvsa_single"]  # one section each
    t15 = next(d for d in doc["datasets"] if d["name"] == "twitter2015")
    runs = {(r["model"], r["variant"]): r["run"] for r in t15["rows"]}
    assert runs[("demo-teacher", None)] == "new" and runs[("demo-student", "text-only")] == "new"
    assert runs[("majority", None)] == "new"  # only in the new run
    mvsa = next(d for d in doc["datasets"] if d["name"] == "mvsa_single")
    assert {r["run"] for r in mvsa["rows"]} == {"old"}  # only the old run has it: kept
    superseded = {(s["dataset"], s["model"]) for s in doc["superseded"]}
    assert ("twitter2015", "demo-teacher") in superseded and ("twitter2015", "demo-student (image-only)") in superseded
    assert all(s["run"] == "old" and s["replaced_by"] == "new" for s in doc["superseded"])
    assert len(doc["failures"]) == 2  # one per run, both kept
    new_teacher = next(
        e for e in RunResults.read(new).entries if e.model == "demo-teacher" and e.dataset == "twitter2015"
    )
    assert next(r for r in t15["rows"] if r["model"] == "demo-teacher")["scores"]["accuracy"] == pytest.approx(
        new_teacher.scores["accuracy"] * 100
    )
    index = written["html"].read_text(encoding="utf-8")
    assert "merged from 2 runs" in index and "Superseded rows (" in index
    page = (tmp_path / "merged" / "dataset-twitter2015.html").read_text()
    assert "not the same samples, not tested" not in page  # every shown twitter2015 row is from the new run


def test_merge_keeps_different_test_sets_apart_in_every_format(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """Two runs of twitter2015 on different data (fingerprints differ): never merged, ranked, highlighted or
    superseded together; each export holds one section per test set."""
    old, new = two_runs
    prints = {r: next(d.fingerprint for d in RunResults.read(r).datasets if d.name == "twitter2015") for r in two_runs}
    assert prints[old] != prints[new]
    entries = {r: [e for e in RunResults.read(r).entries if e.dataset == "twitter2015"] for r in two_runs}
    written = render_runs([old, new], tmp_path / "apart", ALL)

    doc = json.loads(written["json"].read_text())
    sections = [d for d in doc["datasets"] if d["name"] == "twitter2015"]
    assert [d["test_set"] for d in sections] == [prints[old], prints[new]]
    for d, run_dir in zip(sections, (old, new), strict=True):
        assert {r["run"] for r in d["rows"]} == {run_dir.name} and len(d["rows"]) == len(entries[run_dir])
        ranks = sorted(r["rank"] for r in d["rows"] if r["rank"] is not None)
        assert ranks[0] == 1 and d["section"] == f"test set {prints[run_dir][:12]}"

    wide = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    long = list(csv.DictReader(io.StringIO(written["csv-long"].read_text())))
    for rows in (wide, long):
        for run_dir in (old, new):
            mine = [r for r in rows if r["dataset"] == "twitter2015" and r["kind"] == "measured"
                    and r["test_set"] == prints[run_dir]]
            assert mine and {r["run"] for r in mine} == {run_dir.name}
    for run_dir in (old, new):  # ranks restart within each section
        ranked = [int(r["rank"]) for r in wide if r["test_set"] == prints[run_dir] and r["rank"]]
        assert min(ranked) == 1

    md = written["md"].read_text()
    heads = re.findall(r"(?m)^## Twitter-2015 \(test set ([0-9a-f]{12})\) \(`twitter2015`\)$", md)
    assert heads == [prints[old][:12], prints[new][:12]]
    for run_dir, other in ((old, new), (new, old)):
        part = md.split(f"## Twitter-2015 (test set {prints[run_dir][:12]})")[1].split("\n## ")[0]
        assert f"| {run_dir.name} |" in part and f"| {other.name} |" not in part

    tex = written["tex"].read_text()
    for run_dir in (old, new):
        assert f"\\caption{{Twitter-2015 (test set {prints[run_dir][:12]}) (test split)}}" in tex

    html = written["html"].parent
    pages = sorted(p.name for p in html.glob("dataset-twitter2015*.html"))
    assert pages == sorted(f"dataset-twitter2015--{prints[r][:12]}.html" for r in (old, new))
    for run_dir in (old, new):
        page = (html / f"dataset-twitter2015--{prints[run_dir][:12]}.html").read_text(encoding="utf-8")
        measured = page[page.index('<tbody class="measured">') :].split("</tbody>")[0]
        assert measured.count('<tr id="row-') == len(entries[run_dir])
        other = new if run_dir == old else old
        assert f'<td class="sec">{other.name}</td>' not in measured
        assert f'<td class="sec">{run_dir.name}</td>' in measured
        assert "not the same samples, not tested" not in page
    assert "2 different test sets for this dataset" in page
    assert doc["superseded"] == [] and "Superseded rows (" not in (html / "index.html").read_text(encoding="utf-8")


def test_merge_rejects_the_same_run_twice(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    old, _ = two_runs
    with pytest.raises(UserError, match="run id 'old' is given twice"):
        render_runs([old, old], tmp_path / "x")


def test_report_command(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = two_runs
    runner = CliRunner()
    out = tmp_path / "board"
    result = runner.invoke(cli, ["report", str(old), str(new), "--out", str(out), "--format", "html,md,csv,tex,json"])
    assert result.exit_code == 0, result.output
    for name in ("index.html", "leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.json"):
        assert (out / name).is_file() and str(out / name) in result.output
    result = runner.invoke(
        cli, ["report", str(new), "--out", str(tmp_path / "one"), "--reference", "majority"], standalone_mode=False
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "one" / "dataset-twitter2015.html").read_text()
    assert "selected>majority</option>" in page
    result = runner.invoke(
        cli, ["report", str(new), "--out", str(tmp_path / "y"), "--reference", "majorty"], standalone_mode=False
    )
    assert isinstance(result.exception, UserError) and "Did you mean 'majority'?" in str(result.exception)
    result = runner.invoke(cli, ["report", str(old), str(new)], standalone_mode=False)
    assert isinstance(result.exception, UserError) and "need --out" in str(result.exception)
    result = runner.invoke(cli, ["report", str(tmp_path)], standalone_mode=False)
    assert isinstance(result.exception, UserError) and "has no results.json" in str(result.exception)
    result = runner.invoke(
        cli, ["report", str(new), "--out", str(tmp_path / "z"), "--format", "pdf"], standalone_mode=False
    )
    assert isinstance(result.exception, UserError) and "unknown report format" in str(result.exception)


def test_nothing_ran_still_reports_failures_and_missing(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=2, datasets=1, n=3)
    results = RunResults.read(run_dir)
    results.entries, results.reported = [], []
    results.datasets = [d for d in results.datasets if d.status == "missing"]
    results.write(run_dir)
    written = render_runs([run_dir], tmp_path / "out", ALL)
    html = written["html"].read_text(encoding="utf-8")
    assert "No dataset ran." in html and "Failures (1)" in html and "demo_missing" in html
    md = written["md"].read_text()
    assert "model failure on twitter2015: broken-model: RuntimeError: demo failure (run demo-run)" in md
    assert "## Datasets not run" in md
    doc = json.loads(written["json"].read_text())
    assert doc["datasets"] == [] and len(doc["failures"]) == 1 and doc["not_run"][0]["status"] == "missing"
