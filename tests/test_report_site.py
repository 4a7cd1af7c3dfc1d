"""The static site on a demo run: drill-down pages and filters, safety (XSS, links, images), significance
marks, lineage, charts, and how an output folder is replaced."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from demo_runs import XSS_TEXT, demo_run

from mulcot_bench.errors import UserError
from mulcot_bench.labels import LABELS
from mulcot_bench.report import render_report, render_runs
from mulcot_bench.report.predictions import chain_label, flags
from mulcot_bench.report.samples import PAGE_SIZE
from mulcot_bench.report.site import CHUNK
from mulcot_bench.results import RunResults
from mulcot_bench.scoring.stats import mcnemar


class Elements(HTMLParser):
    """Start tags with attributes, and the text of the page (outside tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("site")
    run_dir = demo_run(root, models=6, datasets=2, n=230, images=True, xss=True)
    return run_dir, render_report(run_dir, root / "report").parent


def _records(run_dir: Path, rel: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / rel).read_text().splitlines() if line.strip()]


def _entry(run_dir: Path, dataset: str, model: str, variant: str | None = None):
    results = RunResults.read(run_dir)
    return next(e for e in results.entries if e.dataset == dataset and e.model == model and e.variant == variant)


def test_drill_down_filters_and_pages(site: tuple[Path, Path]) -> None:
    run_dir, out = site
    entry = _entry(run_dir, "twitter2015", "demo-student")
    records = _records(run_dir, entry.predictions_file)
    folder = out / "samples" / "twitter2015" / "demo-student"
    expected = {
        "all": records,
        "wrong": [r for r in records if flags(r).wrong],
        "inconsistent": [r for r in records if flags(r).inconsistent],
        "invalid": [r for r in records if r["label"] not in LABELS],
    }
    # the demo data holds some of each, and wrong matches the recorded accuracy and invalid count
    assert all(expected[f] for f in expected)
    assert len(expected["wrong"]) == round(len(records) * (1 - entry.scores["accuracy"]))
    assert len(expected["invalid"]) == entry.invalid
    for flt, want in expected.items():
        pages = sorted(folder.glob(f"{flt}-*.html"))
        assert len(pages) == -(-len(want) // PAGE_SIZE), flt  # paginated: 230 samples -> 3 pages of all
        ids = []
        for page in pages:
            html = page.read_text(encoding="utf-8")
            assert html.count('<article class="sample"') <= PAGE_SIZE
            ids += re.findall(r"<span>#\d+ <code>([^<]+)</code>", html)
        assert ids == [r["id"] for r in want], flt
    dataset_page = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    assert f"wrong&nbsp;{len(expected['wrong'])}" in dataset_page
    assert f"incons.&nbsp;{len(expected['inconsistent'])}" in dataset_page


def test_sample_shows_rationale_reference_scores(site: tuple[Path, Path]) -> None:
    run_dir, out = site
    entry = _entry(run_dir, "mvsa_single", "demo-student")
    first = _records(run_dir, entry.predictions_file)[0]
    html = (out / "samples" / "mvsa_single" / "demo-student" / "all-1.html").read_text(encoding="utf-8")
    block = html[html.index('<article class="sample" id="s1">') :].split("</article>")[0]
    assert first["id"] in block and first["gold"] in block
    assert "generated rationale" in block and "reference rationale" in block
    assert first["rationale"].splitlines()[0].replace('"', "&#34;") in block
    assert first["reference"].splitlines()[0].replace('"', "&#34;") in block
    score = first["scores"]["bleu4_sentence"]
    assert f"BLEU-4 (sentence avg, effective order): {score:.1f}" in block  # display name, 0-100 as is
    # a model without per-sample scores (the demo's label-only baselines) shows none
    tfidf = (out / "samples" / "mvsa_single" / "text-tfidf-lr" / "all-1.html").read_text(encoding="utf-8")
    assert "BLEU-4 (sentence avg" not in tfidf and "probs: positive" in tfidf


def test_comparison_chains_in_script_files(site: tuple[Path, Path]) -> None:
    """The comparison page holds answers, not chains: each row's chains and the references are JSON literals in
    script files of CHUNK samples beside it, one per 100 samples, equal to the predictions file's; its policy
    lets only its own script add them."""
    run_dir, out = site
    html = (out / "compare-mvsa_single.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="compare-data">(.*?)</script>', html, re.S).group(1))
    assert data["chunk"] == CHUNK == 100 and "strict-dynamic" in html
    key = next(r["key"] for r in data["rows"] if r["label"] == "demo-student")
    records = _records(run_dir, _entry(run_dir, "mvsa_single", "demo-student").predictions_file)
    assert len(data["chains"][key]) == len(data["chains"]["reference"]) == 3  # 230 samples
    assert records[0]["rationale"].splitlines()[0] not in html
    chains: dict[int, str | None] = {}
    for file in data["chains"][key]:
        text = (out / file).read_text(encoding="utf-8")
        call = re.fullmatch(r'mulcotChains\("(\w+)",(\d+),(.*)\);\n', text, re.S)
        assert call and call.group(1) == key, file
        chains.update(enumerate(json.loads(call.group(3)), start=int(call.group(2))))
    ids = [s["id"] for s in data["samples"]]
    assert {ids[i]: c for i, c in chains.items()} == {r["id"]: r["rationale"] for r in records}
    assert all(a is None or len(a) == 2 for a in data["answers"][key])
    tfidf = next(r["key"] for r in data["rows"] if r["label"] == "text-tfidf-lr")
    assert data["chains"][tfidf] == ["", "", ""]  # no chains: no files


def test_xss_sample_has_no_live_element(site: tuple[Path, Path]) -> None:
    _, out = site
    page = out / "samples" / "twitter2015" / "demo-student" / "all-1.html"
    html = page.read_text(encoding="utf-8")
    parsed = elements(html)
    assert not [t for t, _ in parsed.tags if t in ("script", "iframe", "object", "embed")]
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)  # no event handler anywhere
        if tag == "img":
            src = attrs.get("src") or ""
            assert src != "x" and src.startswith("../../../img/twitter2015/"), src
            assert (page.parent / src).resolve().is_file()
    # the payload is there as text, once per page that shows the sample
    assert XSS_TEXT in "".join(parsed.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt;" in html


def test_thumbnails_inside_report_and_bad_image_refs(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=3, datasets=1, n=5, images=True)
    rel = _entry(run_dir, "twitter2015", "demo-teacher").predictions_file
    records = _records(run_dir, rel)
    records[0]["image"] = "../../../../etc/passwd"  # leaves the dataset folder
    records[1]["image"] = "images/none.png"  # missing
    (tmp_path / "data" / "twitter2015" / "images" / "bad.png").write_text("not an image")
    records[2]["image"] = "images/bad.png"  # unreadable
    records[3]["image"] = "twitter2015/" + records[3]["image"]  # relative to the data root, as the runner writes
    (run_dir / rel).write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = render_report(run_dir, tmp_path / "report").parent
    html = (out / "samples" / "twitter2015" / "demo-teacher" / "all-1.html").read_text(encoding="utf-8")
    srcs = [a["src"] for t, a in elements(html).tags if t == "img"]
    assert len(srcs) == 2  # samples 4 and 5 only
    for src in srcs:
        target = (out / "samples" / "twitter2015" / "demo-teacher" / src).resolve()
        assert target.is_relative_to(out.resolve()) and target.suffix == ".jpg" and target.stat().st_size > 0
    assert html.count('<div class="noimg">no image</div>') == 3
    page = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    assert "images without a thumbnail: 1 outside the dataset folder, 1 missing, 1 unreadable" in page


def test_significance_marks_match_mcnemar(site: tuple[Path, Path]) -> None:
    run_dir, out = site
    html = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    rows = dict(re.findall(r'<tr id="row-(r\d+)"[^>]*>\s*<td[^>]*>[^<]*</td>\s*<td class="model">([^<]+)', html))
    key = {model.strip(): k for k, model in rows.items()}
    ref_key = re.search(r'<option value="(r\d+)" selected>', html).group(1)
    assert rows[ref_key].strip() == "demo-student"  # default reference: the first student
    sig = {
        k: json.loads(v.replace("&#39;", "'")) for k, v in re.findall(r'data-key="(r\d+)" data-sig=\'([^\']*)\'', html)
    }

    def right(model: str) -> dict[str, bool]:
        rel = _entry(run_dir, "twitter2015", model).predictions_file
        return {r["id"]: r["label"] == r["gold"] for r in _records(run_dir, rel)}

    ref = right("demo-student")
    for model in ("majority", "demo-teacher", "text-tfidf-lr"):
        row = right(model)
        want = mcnemar([row[i] for i in ref], [ref[i] for i in ref])
        symbol, css, title = sig[key[model]][ref_key]
        assert f"{want.b} right only here, {want.c} right only in the reference" in title
        if want.p < 0.05:
            assert symbol == ("\u25b2" if want.b > want.c else "\u25bc")
        else:
            assert symbol == "" and css == "sig-ns"
    assert sig[ref_key][ref_key][0] == "ref"
    assert sig[key["majority"]][key["majority"]][0] == "ref"


def test_lineage_keeps_share_of_teacher(site: tuple[Path, Path]) -> None:
    run_dir, out = site
    html = (out / "dataset-mvsa_single.html").read_text(encoding="utf-8")
    teacher = _entry(run_dir, "mvsa_single", "demo-teacher").scores
    student = _entry(run_dir, "mvsa_single", "demo-student").scores
    lineage = html[html.index('<h3 id="lineage">') : html.index('<h3 id="charts">')]
    assert "demo-teacher &rarr; demo-assistant &rarr; demo-student" in lineage
    row = lineage[lineage.index('<td class="model">demo-student</td>') :].split("</tr>")[0]
    assert f"{100 * student['accuracy'] / teacher['accuracy']:.1f}%" in row
    assert f"{100 * student['bleu4'] / teacher['bleu4']:.1f}%" in row
    assert "n_train: 1150" in row and "selected_epoch: 3" in row  # data counts and selection
    key = re.search(r'href="#stage-(r\d+)">full report</a>', row).group(1)
    details = html[html.index(f'<details class="stage" id="stage-{key}">') :].split("</details>")[0]
    assert "demo-student" in details and "[2.0, 1.0, 0.667]" in details  # the whole stage report


def test_charts_are_inline_svg_with_omissions(site: tuple[Path, Path]) -> None:
    _, out = site
    html = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    for chart in ("params", "bleu", "perclass"):
        block = html[html.index(f'id="chart-0-{chart}"') :].split("</figure>")[0]
        assert "<svg " in block and ("<circle" in block or "<rect" in block)
    assert "majority: 0 parameters (not on a log axis)" in html
    assert "demo-teacher: parameter count unknown" in html
    assert "text-tfidf-lr: no BLEU-4 (writes no rationale)" in html
    assert "<img" not in html and "<script src" not in html  # charts are drawn, not fetched


def test_reported_rows_apart_and_unranked(site: tuple[Path, Path]) -> None:
    _, out = site
    html = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    measured = html[html.index('<tbody class="measured">') : html.index('<tbody class="reported">')]
    reported = html[html.index('<tbody class="reported">') :].split("</tbody>")[0]
    assert "TomBERT" not in measured and "TomBERT" in reported and "TomBERT (IJCAI 2019)" in reported
    assert re.search(r'<td class="num">\u2014</td>\s*<td class="model">TomBERT', reported)  # no rank
    assert "77.2" in reported
    ranks = [int(r) for r in re.findall(r'<td class="num" data-v="(\d+)">\d+</td>\s*<td class="model">', measured)]
    assert sorted(ranks)[0] == 1 and len(ranks) == 5  # assistant, student, nokd, majority, tf-idf; not teacher
    assert measured.count('<span class="badge variant"') == 2  # text-only and image-only rows, marked


def test_overview_failures_missing_and_headline(site: tuple[Path, Path]) -> None:
    _, out = site
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Failures (1)" in html and "RuntimeError: demo failure" in html
    assert 'href="dataset-twitter2015.html#failures">failed</a>' in html
    assert "Missing demo set" in html and "it never exists" in html
    head = html[html.index('<table class="matrix">') :].split("</thead>")[0]
    # Twitter: accuracy + macro-F1; MVSA: accuracy + weighted-F1, averaging named in the header
    assert re.findall(r'headline"[^>]*>([^<]+)</th>', head) == ["accuracy", "macro-F1", "accuracy", "weighted-F1"]


def test_output_folder_replaced_or_refused(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=3, datasets=1, n=4)
    out = tmp_path / "report"
    render_report(run_dir, out)
    stale = out / "samples" / "twitter2015" / "gone" / "all-1.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    render_report(run_dir, out)
    assert not stale.exists() and (out / "index.html").is_file()  # the whole site is replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]  # no staging left behind
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a mulcot-bench report folder"):
        render_report(run_dir, other)
    assert (other / "notes.txt").read_text() == "keep me"


def test_missing_predictions_file_is_shown(tmp_path: Path) -> None:
    run_dir = demo_run(tmp_path, models=3, datasets=1, n=4)
    (run_dir / _entry(run_dir, "twitter2015", "demo-assistant").predictions_file).unlink()
    out = render_runs([run_dir], tmp_path / "report")["html"].parent
    html = (out / "dataset-twitter2015.html").read_text(encoding="utf-8")
    assert "predictions file predictions/twitter2015/demo-assistant.jsonl is missing from run folder" in html
    assert "no per-sample predictions to test" in html


def test_chain_label_uses_the_prediction_field() -> None:
    chain = '"Text_analysis": "negative words"\n\n"Prediction": "positive"'
    assert chain_label(chain) == "positive"  # the field, not the first label named
    assert chain_label("no fields, but it ends negative") == "negative"  # no Prediction field: answer parser
    assert chain_label(None) is None
    record = {"gold": "positive", "label": "neutral", "rationale": chain}
    f = flags(record)
    assert f.wrong and f.inconsistent and not f.invalid
    assert flags({"gold": "neutral", "label": None, "rationale": None}).invalid
    assert not flags({"gold": "neutral", "label": "neutral", "rationale": None}).inconsistent


def test_sweep_removes_only_abandoned_staging_folders(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    from mulcot_bench.report.site import OWNER, sweep

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(done.stdout)  # a pid that has exited (its number is not reused this quickly)
    host = socket.gethostname()
    owners = {".site.a.tmp": f"{host} {dead}", ".site.b.old": f"{host} {dead}", ".site.c.tmp": f"{host} {os.getpid()}",
              ".site.d.tmp": f"elsewhere {dead}", ".other.e.tmp": f"{host} {dead}"}
    for name, owner in owners.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / OWNER).write_text(owner)
    (tmp_path / ".site.f.tmp").mkdir()  # no owner file yet: a render that has only just started
    assert sweep(tmp_path / "site") == [".site.a.tmp", ".site.b.old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.e.tmp", ".site.c.tmp", ".site.d.tmp", ".site.f.tmp"]
