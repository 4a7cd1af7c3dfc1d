"""Tests of the static HTML leaderboard rendered from a hand-built ``results.json``.

The overview is ``index.html``; each dataset's table, lineage and stage reports are on ``dataset-<name>.html``.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mulcot_bench.report import render_report
from mulcot_bench.report.format import format_params, format_score, is_percent_native
from mulcot_bench.results import (
    DatasetRecord,
    Entry,
    Failure,
    MetricRecord,
    PluginRecord,
    Provenance,
    RunResults,
)

EVIL = "<script>alert(1)</script>"
FINGERPRINT = "sha256:0123456789abcdef0123456789abcdef"


def _entry(model: str, role: str, dataset: str, scores: dict[str, float | None], **kw: object) -> Entry:
    fields: dict = dict(
        model=model,
        role=role,
        plugin="mulcot-tiny",
        plugin_version="0.1.0",
        params=None,
        dataset=dataset,
        split="test",
        n=50,
        invalid=0,
        scores=scores,
        predictions_file=f"predictions/{dataset}/{role}.jsonl",
        identity=f"{model}-{dataset}",
    )
    fields.update(kw)
    return Entry(**fields)


def _results() -> RunResults:
    full = {"accuracy": 0.813, "macro_f1": 0.7, "weighted_f1": 0.75, "bleu4": 23.46, "bertscore_f1": 0.88}
    return RunResults(
        run_id="run-2024-demo",
        provenance=Provenance(
            mulcot_bench_version="0.1.0",
            python="3.11.9",
            platform="Linux-6.1-x86_64",
            packages={"torch": "2.13.0", "sacrebleu": "2.4.3", "bert-score": None},
            plugins=[
                PluginRecord(
                    name="tiny",
                    source="entry-point",
                    distribution="mulcot-tiny",
                    version="0.1.0",
                    registered={"model": ["tiny-teacher"]},
                ),
                PluginRecord(name="broken", source="entry-point", error="ImportError: no module named zzz"),
            ],
            git_commit="b497349deadbeef",
            seed=1234,
            command="mulcot-bench run --datasets toy,mvsa",
            started_at="2024-05-01T10:00:00Z",
            finished_at="2024-05-01T10:05:00Z",
        ),
        metrics=[
            MetricRecord(
                id="classification",
                kind="label",
                outputs={"accuracy": "accuracy", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"},
                signature="sklearn-1.4|labels=neg,neu,pos",
            ),
            MetricRecord(
                id="bleu",
                kind="rationale",
                outputs={"bleu4": "BLEU-4 (corpus, sacrebleu)"},
                signature="nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.3",
            ),
            MetricRecord(
                id="bertscore",
                kind="rationale",
                outputs={"bertscore_f1": "BERTScore-F1"},
                signature="roberta-large_L17_no-idf",
            ),
        ],
        datasets=[
            DatasetRecord(
                name="toy",
                title="Toy sentiment",
                level="post",
                status="embedded",
                fingerprint=FINGERPRINT,
                counts={"train": 100, "test": 50},
                headline=["accuracy", "macro_f1"],
            ),
            DatasetRecord(
                name="mvsa",
                title="MVSA-Single",
                level="post",
                status="present",
                fingerprint="sha256:fedcba9876543210fedcba",
                counts={"test": 40},
                headline=["accuracy"],
            ),
            DatasetRecord(
                name="twitter15",
                title="Twitter-2015",
                level="aspect",
                status="missing",
                how_to_get="Download Twitter-2015 from the IJCAI-19 release into data/twitter15.",
            ),
        ],
        entries=[
            _entry(
                "tiny-teacher", "teacher", "toy", full, params=7_000_000_000, stage={"epochs": 0, "prompt": "cot-v1"}
            ),
            _entry(
                "tiny-assistant",
                "assistant",
                "toy",
                {**full, "accuracy": 0.75},
                params=1_234_567,
                stage={"epochs": 3, "losses": [1.5, 0.9, 0.4], "optim": {"lr": 0.001}},
            ),
            _entry(
                "tiny-student",
                "student",
                "toy",
                {**full, "accuracy": 0.78125, "bleu4": 12.5},
                params=35_000,
                assistant="tiny-assistant",
            ),
            _entry(
                "majority",
                "baseline",
                "toy",
                {**full, "accuracy": 0.5, "bleu4": None, "bertscore_f1": None},
                plugin="mulcot-baselines",
                invalid=2,
            ),
            _entry("tiny-teacher", "teacher", "toy", full, split="val", predictions_file="predictions/val.jsonl"),
            _entry("mvsa-student", "student", "mvsa", {"accuracy": 0.6, "macro_f1": 0.55}, assistant="tiny-assistant"),
            _entry(EVIL, "baseline", "mvsa", {"accuracy": 0.4, "macro_f1": None}, predictions_file="../../etc/passwd"),
        ],
        failures=[Failure(what="train", dataset="mvsa", model="tiny-assistant", reason="CUDA out of memory")],
        skipped={"cached": 3},
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("report")
    run_dir = root / "runs" / "run-2024-demo"
    run_dir.mkdir(parents=True)
    _results().write(run_dir)
    (run_dir / "predictions" / "toy").mkdir(parents=True)
    (run_dir / "predictions" / "toy" / "student.jsonl").write_text("{}\n")
    out = render_report(run_dir, root / "reports" / "demo")
    return out, out.read_text(encoding="utf-8")


def _page(out: Path, dataset: str) -> str:
    return (out.parent / f"dataset-{dataset}.html").read_text(encoding="utf-8")


def _section(html: str, dataset: str) -> str:
    match = re.search(rf'<section class="dataset" id="ds-{dataset}">(.*?)</section>\s*<footer', html, re.S)
    assert match, dataset
    return match.group(1)


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script> element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_file_written(rendered: tuple[Path, str]) -> None:
    path, html = rendered
    assert path.name == "index.html" and path.is_file()
    assert html.startswith("<!DOCTYPE html>")
    assert "run-2024-demo" in html
    assert "<script" not in html  # the overview has no JS at all (the hostile model name included)
    from mulcot_bench.report.site import SCRIPT

    for page in sorted(path.parent.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, page  # self-contained: no CDN
        # the only script anywhere is the sorter of the dataset pages, exactly as shipped
        scripts = _tags(text).scripts
        assert scripts == ([SCRIPT] if page.name.startswith("dataset-") else []), page


def test_models_in_right_tables(rendered: tuple[Path, str]) -> None:
    out, _ = rendered
    toy, mvsa = _section(_page(out, "toy"), "toy"), _section(_page(out, "mvsa"), "mvsa")
    for name in ("tiny-teacher", "tiny-assistant", "tiny-student", "majority"):
        assert name in toy
    assert "mvsa-student" in mvsa and "mvsa-student" not in toy
    assert "majority" not in mvsa
    # rank order (the rank column reads 1, 2, ...), the unranked teacher after the ranked rows
    board = toy[toy.index('<tbody class="measured">') :].split("</tbody>")[0]
    ranks = re.findall(r'<tr id="row-r\d+"[^>]*>\s*<td class="num" data-v="(\d*)">', board)
    assert ranks[0] == "1" and [int(r) for r in ranks if r] == sorted(int(r) for r in ranks if r)
    assert ranks[-1] == "" and board.rindex('<td class="model">tiny-teacher') > board.rindex('data-v="1"')
    assert "tiny-teacher &rarr; tiny-assistant &rarr; tiny-student" in toy
    assert "1 entry on other splits not shown" in toy


def test_display_names_and_headline(rendered: tuple[Path, str]) -> None:
    out, html = rendered
    toy = _section(_page(out, "toy"), "toy")
    for display in ("accuracy", "macro-F1", "weighted-F1", "BLEU-4 (corpus, sacrebleu)", "BERTScore-F1"):
        assert f">{display}</th>" in toy
    assert re.search(r'<th class="num headline"[^>]*>accuracy</th>', toy)
    assert re.search(r'<th class="num headline"[^>]*>macro-F1</th>', toy)
    assert re.search(r'<th class="num sec"[^>]*>weighted-F1</th>', toy)  # not a headline: behind the toggle
    mvsa = _section(_page(out, "mvsa"), "mvsa")
    assert "BLEU-4" not in mvsa  # only score keys that appear
    assert re.search(r'<th class="num sec"[^>]*>macro-F1</th>', mvsa)  # not this dataset's headline


def test_values_scale_and_none(rendered: tuple[Path, str]) -> None:
    out, _ = rendered
    toy = _section(_page(out, "toy"), "toy")
    assert ">81.3<" in toy  # accuracy 0.813 x100
    assert ">23.5<" in toy  # BLEU 23.46 as is
    shown = re.sub(r'(title|data-[a-z]+)=(\'[^\']*\'|"[^"]*")', "", toy)  # raw values live only in attributes
    shown = re.sub(r"<svg .*?</svg>", "", shown, flags=re.S)  # and chart geometry is not a value
    assert "2346" not in shown and "0.8" not in shown
    majority_row = toy[toy.index('<td class="model">majority') :].split("</tr>")[0]
    assert majority_row.count("\u2014") >= 2  # no BLEU, no BERTScore (and params unknown)


def test_best_among_non_teacher(rendered: tuple[Path, str]) -> None:
    out, _ = rendered
    toy = _section(_page(out, "toy"), "toy")
    # teacher has 0.813, best non-teacher accuracy is the student's 0.78125 -> 78.1
    assert re.search(r'<td class="num best" data-v="0.78125" title="0.78125"><strong>78.1</strong>', toy)
    assert "<strong>81.3</strong>" not in toy


def test_params_and_stage(rendered: tuple[Path, str]) -> None:
    out, _ = rendered
    toy = _section(_page(out, "toy"), "toy")
    assert ">7B<" in toy and ">1.2M<" in toy and ">35k<" in toy
    assert "<summary>stage &mdash; tiny-assistant" in toy
    # stage reports as small tables: a list as read, a mapping as a nested table (never raw JSON)
    assert "<th>losses</th><td><span>[1.5, 0.9, 0.4]</span>" in toy
    assert re.search(r'<th>optim</th><td>\s*<table class="kv">\s*<tbody>\s*<tr><th>lr</th><td><span>0.001</span>', toy)
    assert "&#34;lr&#34;" not in toy


def test_missing_failures_skipped(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    assert "Download Twitter-2015 from the IJCAI-19 release into data/twitter15." in html
    assert 'id="ds-twitter15"' not in html
    assert "CUDA out of memory" in html
    assert "Failures (1)" in html
    assert "cached: 3" in html
    assert "1 failure" in html


def test_escaping(rendered: tuple[Path, str]) -> None:
    out, html = rendered
    for page in sorted(out.parent.rglob("*.html")):
        assert EVIL not in page.read_text(encoding="utf-8"), page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(_page(out, "mvsa"), "mvsa")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the overview names it too


def test_links_relative_and_confined(rendered: tuple[Path, str]) -> None:
    out, _ = rendered
    site = out.parent
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 3  # overview, two dataset pages, drill-down pages
    for page in pages:
        for _tag, attrs in _tags(page.read_text(encoding="utf-8")).tags:
            for name in ("href", "src"):
                link = attrs.get(name)
                if link is None or link.startswith("#"):
                    continue
                assert not link.startswith("/") and ":" not in link, (page, link)
                target = (page.parent / unescape(link).partition("#")[0]).resolve()
                assert target.is_relative_to(site.resolve()), (page, link)  # never outside the report
                assert target.is_file(), (page, link)
    toy = _page(out, "toy")
    assert 'href="samples/toy/tiny-student/all-1.html"' in toy
    # the student's predictions file holds one line that is not a prediction record: reported, not hidden
    assert "1 line(s) of predictions/toy/student.jsonl are not prediction records" in toy
    mvsa = _page(out, "mvsa")
    assert "is outside the run folder; not read" in mvsa  # a predictions file outside the run is not read
    assert "passwd" not in "".join(re.findall(r'href="([^"]*)"', mvsa))


def test_provenance(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    footer = html[html.index('<footer id="provenance">') :]
    for text in (
        "0.1.0",
        "3.11.9",
        "Linux-6.1-x86_64",
        "torch 2.13.0",
        "b497349deadbeef",
        "1234",
        "mulcot-bench run --datasets toy,mvsa",
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:05:00Z",
        "ImportError: no module named zzz",
        "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.3",
        "roberta-large_L17_no-idf",
        "mulcot-tiny",
    ):
        assert text in footer, text
    assert f'<code title="{FINGERPRINT}">0123456789ab</code>' in footer


def test_formatters() -> None:
    assert is_percent_native("bleu") and is_percent_native("BLEU4") and not is_percent_native("bertscore")
    assert format_score(0.5, "classification", "accuracy") == "50.0"
    assert format_score(23.46, "bleu", "bleu4") == "23.5"
    assert format_score(0.5, "rationale", "bleu4") == "0.5"
    assert format_score(None, "bleu") == "\u2014"
    assert [format_params(n) for n in (None, 812, 35_000, 35_400, 999_999, 1_234_567, 124_000_000, 7_000_000_000)] == [
        "\u2014",
        "812",
        "35k",
        "35k",
        "1M",
        "1.2M",
        "124M",
        "7B",
    ]


def test_summary_outputs_in_main_table_rest_under_all_scores(tmp_path: Path) -> None:
    results = _results()
    results.metrics[0].summary = ["accuracy"]  # macro-F1 is a headline of toy: it stays in the main table
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results.write(run_dir)
    out = render_report(run_dir, tmp_path / "out")
    main, _, rest = _section(_page(out, "toy"), "toy").partition('<details class="all-scores">')
    assert ">accuracy<" in main and ">macro-F1<" in main and ">weighted-F1<" not in main
    assert ">macro-F1<" in rest and ">weighted-F1<" in rest
