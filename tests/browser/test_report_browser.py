"""Drive a generated report in headless Chromium (Debian packages chromium + chromium-driver, via Selenium).

At 1,280 px wide: no page scrolls sideways (nor any box inside it), the first row of every leaderboard is
rank 1, chart labels do not overlap as the browser lays them out. Sorts a column, switches the
significance reference row, opens a drill-down page, follows filters and pages, opens the comparison view
and checks its disagreement filter against the discordant samples counted from the predictions JSONL,
loads a thumbnail of the embedded set, checks that a hostile sample fires no alert and leaves no live
element, asserts the browser logged no console error on any page visited, and saves screenshots of the
overview, a dataset page, a drill-down and the comparison view in ``tests/browser/artifacts/``.

Where the shared data holds Twitter-2015, every page of a synthetic + Twitter-2015 report (40 test samples)
is opened at 1,280 and 1,024 px: no sideways scroll, no cell's content wider than its cell, model names at
most two lines, every image loaded, no console error; a screenshot of each page goes to the test's tmp folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from demo_runs import XSS_TEXT, demo_run

from mulcot_bench.report import render_report
from mulcot_bench.report.predictions import correctness
from mulcot_bench.results import RunResults

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDTH = 1280
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # the shared read-only data, beside the repository


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if found:
            return found
    return None


CHROMIUM = _binary("chromium", "chromium-browser")
DRIVER = _binary("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian package 'chromium'; .ci/run installs it)"),
    pytest.mark.skipif(
        DRIVER is None, reason="no chromedriver (Debian package 'chromium-driver'; .ci/run installs it)"
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    run_dir = demo_run(root, models=6, datasets=2, n=130, images=True, xss=True, synthetic=True)
    return render_report(run_dir, root / "report").parent


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of synthetic plus 40 Twitter-2015 test samples: majority, text-tfidf-lr and replay (the released
    chains: BLEU-4 and BERTScore columns, a comparison page with chains), with real thumbnails and reported rows."""
    if not (DATA / "twitter2015").is_dir():
        pytest.skip(f"real data not found at {DATA} (the shared read-only data folder); this test needs Twitter-2015")
    from mulcot_bench.plugin.registry import build_registry
    from mulcot_bench.runner import RunOptions, run

    root = tmp_path_factory.mktemp("real")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("MULCOT_BENCH_JOBS", "1")):
            mp.setenv(name, value)
        mp.delenv("MULCOT_BENCH_PLUGINS_DIR", raising=False)
        options = RunOptions(
            run_id="pages",
            datasets=["synthetic", "twitter2015"],
            models=["majority", "text-tfidf-lr", "replay"],
            data_root=DATA,
            runs_dir=root / "runs",
            reports_dir=root / "reports",
            cache_dir=root / "cache",
            dataset_options={"synthetic": {"train": 120, "dev": 40, "test": 40}},
            limits=(300, 100, 40),
            bootstrap=100,
        )
        outcome = run(build_registry([], strict=False), options)
    assert outcome.report is not None
    return outcome.report.parent


@pytest.fixture(scope="module")
def driver():  # noqa: ANN201 - a selenium WebDriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _console_errors(driver) -> list[dict]:  # noqa: ANN001
    return [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _no_alert(driver) -> None:  # noqa: ANN001
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises when no alert is open


def _chains_loaded(driver) -> None:  # noqa: ANN001
    """Wait until the comparison view has loaded the chain files of the cards it shows."""
    from selenium.webdriver.support.ui import WebDriverWait

    ready = "return document.getElementById('pairs').dataset.state === 'ready'"
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(ready))


def _accuracy_column(driver) -> list[float | None]:  # noqa: ANN001
    return driver.execute_script(
        """
        const th = [...document.querySelectorAll('table.sortable thead th')].find(t => t.dataset.key === 'accuracy');
        return [...document.querySelectorAll('tbody.measured tr')].map(tr => {
            const v = tr.cells[th.cellIndex].getAttribute('data-v');
            return v === '' ? null : parseFloat(v);
        });
        """
    )


SIDEWAYS = """
const doc = document.documentElement;
const out = [];
if (doc.scrollWidth > doc.clientWidth) { out.push('page ' + doc.scrollWidth + ' > ' + doc.clientWidth); }
for (const e of document.querySelectorAll('body *')) {
  if (arguments[0] && e.closest('.fit')) { continue; }  // a wide table scrolls inside its own box
  const style = getComputedStyle(e);
  if (['auto', 'scroll'].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1) {
    out.push(e.tagName + '.' + e.className + ' scrolls ' + e.scrollWidth + ' > ' + e.clientWidth);
  }
  const r = e.getBoundingClientRect();
  if (r.width && r.right > doc.clientWidth + 1 && style.position !== 'absolute') {
    out.push(e.tagName + '.' + e.className + ' ends at ' + Math.round(r.right));
  }
}
return out.slice(0, 5);
"""

CHART_TEXT = """
const out = [];
for (const svg of document.querySelectorAll('svg.plot')) {
  const frame = svg.getBoundingClientRect();
  const boxes = [...svg.querySelectorAll('g[id*="-text_"]')].map(g => [g.id, g.getBoundingClientRect()]);
  if (boxes.length < 5) { out.push(svg.parentNode.id + ': only ' + boxes.length + ' labels'); }
  for (const [id, b] of boxes) {
    if (b.left < frame.left - 1 || b.right > frame.right + 1 || b.top < frame.top - 1 || b.bottom > frame.bottom + 1) {
      out.push(id + ' leaves its chart');
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i][1], b = boxes[j][1];
      if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
          Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5) {
        out.push(boxes[i][0] + ' overlaps ' + boxes[j][0]);
      }
    }
  }
}
return out.slice(0, 5);
"""


def _fits(driver, tables_scroll: bool = False) -> None:  # noqa: ANN001
    """No sideways scrolling at 1,280 px, with every collapsed section (stage reports, all scores) open;
    ``tables_scroll``: a table may scroll inside its own box (every secondary column shown)."""
    assert driver.execute_script("return window.innerWidth") == WIDTH
    driver.execute_script("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert driver.execute_script(SIDEWAYS, tables_scroll) == [], driver.current_url


def _shot(driver, name: str) -> None:  # noqa: ANN001
    """A full-page screenshot (the window grown to the page's height) saved as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, min(height + 140, 8000))
    shot = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    driver.set_window_size(WIDTH, 1000)
    print(f"{name} screenshot: {shot}")


LAYOUT = """
const doc = document.documentElement, out = [];
const line = parseFloat(getComputedStyle(document.body).lineHeight);
const height = e => {
  const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect().height;
};
if (doc.scrollWidth > window.innerWidth) { out.push('page ' + doc.scrollWidth + ' > ' + window.innerWidth); }
for (const c of document.querySelectorAll('td, th')) {
  if (c.offsetParent && c.scrollWidth > c.clientWidth + 1) {
    out.push(c.tagName + ' "' + c.textContent.trim().slice(0, 30) + '" ' + c.scrollWidth + ' > ' + c.clientWidth);
  }
}
for (const c of document.querySelectorAll('table.board td.model')) {
  if (height(c) > 2 * line + 1) { out.push('model cell "' + c.textContent.trim() + '" ' + height(c) + 'px high'); }
}
for (const r of document.querySelectorAll('table.board tr.reported')) {
  for (const c of r.cells) {
    if (c.offsetParent && height(c) > line + 1) { out.push('reported row ' + r.id + ' ' + height(c) + 'px high'); }
  }
}
const extra = [...document.querySelectorAll('table.board th[data-key]')].filter(
  th => th.offsetParent && !th.classList.contains('headline') && !['bleu4', 'bertscore_f1'].includes(th.dataset.key));
if (extra.length) { out.push('primary view shows ' + extra.map(th => th.dataset.key).join(', ')); }
return out.slice(0, 8);
"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_dataset_pages_read_at_width(report: Path, driver, width: int) -> None:  # noqa: ANN001
    """At 1,280 and 1,024 px: no page-level sideways scroll, no cell overflows, model names at most two lines,
    reported rows one line, only the headline metrics, BLEU-4 and BERTScore-F1 before the toggle."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(width, 2400)
    try:
        assert driver.execute_script("return window.innerWidth") == width
        pages = sorted(report.glob("dataset-*.html"))
        assert pages
        for page in pages:
            driver.get(page.as_uri())
            assert driver.execute_script(LAYOUT) == [], (width, page.name)
            assert driver.find_elements(By.CSS_SELECTOR, "table.board td.model")
        names = driver.execute_script(
            "return [...document.querySelectorAll('table.board td.model')].map(c => getComputedStyle(c).whiteSpace)"
        )
        assert set(names) == {"nowrap"}
    finally:
        driver.set_window_size(WIDTH, 1000)


def test_report_in_browser(report: Path, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    visited = []

    def visit(url: str) -> None:
        driver.get(url)
        visited.append(url)
        _no_alert(driver)
        errors = _console_errors(driver)
        assert not errors, (url, errors)

    # overview: fits 1,280 px, rows by mean rank, chart labels apart; screenshot as a test artifact
    visit((report / "index.html").as_uri())
    assert "mulcot-bench leaderboard" in driver.title
    _fits(driver)
    means = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "table.matrix tbody tr td:nth-child(3)")]
    ranked = [float(m) for m in means if m != "\u2014"]
    assert ranked and ranked == sorted(ranked) and means[: len(ranked)] == [m for m in means if m != "\u2014"]
    assert driver.find_elements(By.CSS_SELECTOR, "#overview-charts ~ .charts svg.plot")
    assert driver.execute_script(CHART_TEXT) == []
    _shot(driver, "overview")

    # every dataset page: fits (secondary columns shown too), the first row is rank 1, chart labels apart
    pages = sorted(report.glob("dataset-*.html"))
    assert len(pages) == 3
    for page in pages:
        visit(page.as_uri())
        _fits(driver)
        first = driver.find_element(By.CSS_SELECTOR, "table.board tbody.measured tr:first-child td:first-child")
        assert first.text == "1", page.name
        assert driver.execute_script(CHART_TEXT) == [], page.name
        driver.find_element(By.CSS_SELECTOR, "label[for='more-cols']").click()
        assert driver.find_element(By.CSS_SELECTOR, "table.board th.sec").is_displayed()
        _fits(driver, tables_scroll=True)
    visit((report / "dataset-twitter2015.html").as_uri())
    _shot(driver, "dataset")
    visit((report / "index.html").as_uri())

    # dataset page: sort by accuracy (first click: highest first), then again (lowest first)
    driver.find_element(By.LINK_TEXT, "Twitter-2015").click()
    visited.append(driver.current_url)
    assert driver.current_url.endswith("dataset-twitter2015.html")
    before = _accuracy_column(driver)
    header = driver.find_element(By.CSS_SELECTOR, "table.sortable th[data-key='accuracy']")
    header.click()
    after = _accuracy_column(driver)
    assert after != before and sorted(after) == sorted(before)
    assert after == sorted(after, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert _accuracy_column(driver) == sorted(before)
    assert header.get_attribute("aria-sort") == "ascending"
    # sort by model name; the reported rows stay in their own section, after the measured rows
    driver.find_element(By.XPATH, "//table[contains(@class,'sortable')]//th[normalize-space()='model']").click()
    names = [e.text.split("\n")[0] for e in driver.find_elements(By.CSS_SELECTOR, "tbody.measured td.model")]
    assert names == sorted(names, key=str.lower)
    assert "TomBERT" not in " ".join(names)
    assert driver.find_elements(By.CSS_SELECTOR, "tbody.reported td.model")[0].text.startswith("TomBERT")

    # switch the significance reference row: the marks are recomputed from the precomputed table
    select = Select(driver.find_element(By.ID, "ref-select"))
    select.select_by_visible_text("majority")
    ref_row = driver.find_element(By.CSS_SELECTOR, "tbody.measured tr.is-ref")
    assert ref_row.find_element(By.CSS_SELECTOR, "td.model").text.startswith("majority")
    assert ref_row.find_element(By.CSS_SELECTOR, "span.sig").text == "ref"
    assert not _console_errors(driver)

    # drill-down: the student's wrong samples, then the inconsistent filter, then page 2 of all
    row = driver.find_element(By.XPATH, "//tbody[@class='measured']/tr[td[@class='model' and text()='demo-student']]")
    row.find_element(By.PARTIAL_LINK_TEXT, "wrong").click()
    visited.append(driver.current_url)
    assert driver.current_url.endswith("samples/twitter2015/demo-student/wrong-1.html")
    articles = driver.find_elements(By.CSS_SELECTOR, "article.sample")
    assert articles and all(a.find_elements(By.CSS_SELECTOR, ".flag-wrong") for a in articles)
    driver.find_element(By.CSS_SELECTOR, "nav.filters a.filter-inconsistent").click()
    assert driver.current_url.endswith("inconsistent-1.html")
    articles = driver.find_elements(By.CSS_SELECTOR, "article.sample")
    assert articles and all(a.find_elements(By.CSS_SELECTOR, ".flag-inconsistent") for a in articles)
    driver.find_element(By.CSS_SELECTOR, "nav.filters a.filter-all").click()
    driver.find_element(By.CSS_SELECTOR, "nav.pager a[rel='next']").click()
    assert driver.current_url.endswith("all-2.html")
    assert driver.find_element(By.CSS_SELECTOR, "article.sample").get_attribute("id") == "s101"
    assert not _console_errors(driver)
    _fits(driver)
    _shot(driver, "drill-down")

    # the comparison view: pick two models, keep the samples where exactly one is right (McNemar's b + c)
    visit((report / "dataset-twitter2015.html").as_uri())
    driver.find_element(By.CSS_SELECTOR, "a.compare-link").click()
    visited.append(driver.current_url)
    assert "compare-twitter2015.html" in driver.current_url
    results = RunResults.read(report.parent / "demo-run")
    right = {}
    for model in ("demo-student", "demo-assistant"):
        entry = next(e for e in results.entries if e.dataset == "twitter2015" and e.model == model and not e.variant)
        lines = (report.parent / "demo-run" / entry.predictions_file).read_text(encoding="utf-8").splitlines()
        right[model] = correctness([json.loads(line) for line in lines if line.strip()])
    discordant = [i for i in right["demo-student"] if right["demo-student"][i] != right["demo-assistant"][i]]
    assert 0 < len(discordant) < 100  # one page of them
    Select(driver.find_element(By.ID, "model-a")).select_by_visible_text("demo-student")
    Select(driver.find_element(By.ID, "model-b")).select_by_visible_text("demo-assistant")
    _chains_loaded(driver)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#pairs article.compared")) == 100  # all, first page
    Select(driver.find_element(By.ID, "filter")).select_by_value("discordant")
    _chains_loaded(driver)
    shown = [a.get_attribute("data-id") for a in driver.find_elements(By.CSS_SELECTOR, "#pairs article.compared")]
    assert shown == discordant
    first = driver.find_element(By.CSS_SELECTOR, "#pairs article.compared")
    sides = first.find_elements(By.CSS_SELECTOR, ".three .side")
    assert [s.find_element(By.TAG_NAME, "h4").text for s in sides] == [
        "A: demo-student", "B: demo-assistant", "reference chain"
    ]
    texts = [s.find_element(By.TAG_NAME, "pre").text for s in sides]
    assert all(texts) and "loading" not in " ".join(texts) and "could not load" not in " ".join(texts), texts
    assert len(first.find_elements(By.CSS_SELECTOR, ".badge.ok")) == 1  # exactly one of the two is right
    assert f"({len(discordant)})" in Select(driver.find_element(By.ID, "filter")).first_selected_option.text
    _fits(driver)
    assert not _console_errors(driver)
    _shot(driver, "compare")

    # a thumbnail of the embedded set (its images drawn again for the report) loads
    visit((report / "samples" / "synthetic" / "demo-student" / "all-1.html").as_uri())
    img = driver.find_element(By.CSS_SELECTOR, "article#s1 img")
    assert "img/synthetic/" in img.get_attribute("src")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth > 0", img))
    assert not driver.find_elements(By.CSS_SELECTOR, ".noimg")

    # the hostile sample: shown as text, no alert, no element made from it, thumbnails load
    visit((report / "samples" / "twitter2015" / "demo-student" / "all-1.html").as_uri())
    first = driver.find_element(By.CSS_SELECTOR, "article#s1 .post")
    assert first.text == XSS_TEXT
    assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"], script').length") == 0
    from selenium.webdriver.support.ui import WebDriverWait

    loaded = "const i = document.querySelector('article#s1 img'); return i.complete && i.naturalWidth > 0"
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(loaded))  # its thumbnail, from inside the report
    _no_alert(driver)
    assert not _console_errors(driver)
    print(f"console checked after {len(visited)} page loads and 4 in-page navigations: no errors")


EVERY_PAGE = """
const doc = document.documentElement, out = [];
const line = parseFloat(getComputedStyle(document.body).lineHeight);
const height = e => {
  const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect().height;
};
if (doc.scrollWidth > window.innerWidth) { out.push('page ' + doc.scrollWidth + ' > ' + window.innerWidth); }
for (const c of document.querySelectorAll('td, th')) {
  if (c.scrollWidth > c.clientWidth + 1) {
    out.push(c.tagName + ' "' + c.textContent.trim().slice(0, 30) + '" ' + c.scrollWidth + ' > ' + c.clientWidth);
  }
}
for (const c of document.querySelectorAll('td.model')) {
  if (height(c) > 2 * line + 1) { out.push('model cell "' + c.textContent.trim() + '" ' + height(c) + 'px high'); }
}
return out.slice(0, 8);
"""
BREAK = """
const cell = document.querySelector('td');
cell.textContent = 'unbreakable'.repeat(20);
Object.assign(cell.style, {maxWidth: '60px', overflow: 'hidden', whiteSpace: 'nowrap'});
const table = document.createElement('table');
table.innerHTML = '<tr><td class="model" style="white-space: normal">a b c d e f g h</td></tr>';
table.style.width = '2em';
document.body.appendChild(table);
document.body.appendChild(Object.assign(document.createElement('div'), {style: 'width:5000px;height:1px'}));
"""
IMAGES = """
const imgs = [...document.images];
imgs.forEach(i => { i.loading = 'eager'; });
return imgs.every(i => i.complete) ? imgs.filter(i => !i.naturalWidth).map(i => i.getAttribute('src')) : null;
"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_every_page_of_a_real_report_reads_at_width(real_report: Path, driver, tmp_path: Path, width: int) -> None:  # noqa: ANN001
    """Every page of a synthetic + Twitter-2015 report at 1,280 and 1,024 px: no sideways scroll, no cell's
    content wider than the cell, model names at most two lines, every image loaded, no console error; the
    comparison pages with their chains loaded. A screenshot of each page is saved in the test's tmp folder."""
    from selenium.webdriver.support.ui import WebDriverWait

    pages = sorted(p for p in real_report.rglob("*.html"))
    names = {p.relative_to(real_report).as_posix() for p in pages}
    assert {"index.html", "dataset-twitter2015.html", "compare-twitter2015.html"} <= names
    assert any(n.startswith("samples/twitter2015/replay/") for n in names), sorted(names)
    driver.get_log("browser")  # start from an empty console log
    driver.set_window_size(width, 1400)
    try:
        assert driver.execute_script("return window.innerWidth") == width
        for page in pages:
            rel = page.relative_to(real_report).as_posix()
            driver.get(page.as_uri())
            if rel.startswith("compare-"):
                _chains_loaded(driver)
                assert "loading" not in driver.find_element("id", "pairs").text[:20000], rel
            WebDriverWait(driver, 60).until(lambda d: d.execute_script(IMAGES) is not None)
            assert driver.execute_script(IMAGES) == [], (width, rel, "images not loaded")
            assert driver.execute_script(EVERY_PAGE) == [], (width, rel)
            assert not _console_errors(driver), (width, rel)
            shot = tmp_path / f"{width}-{rel.replace('/', '--')}.png"
            assert driver.save_screenshot(str(shot)), rel
        twitter = (real_report / "dataset-twitter2015.html").read_text(encoding="utf-8")
        assert "replay" in twitter and "TomBERT" in twitter and "BERTScore" in twitter  # a realistic table
        assert list((real_report / "img" / "twitter2015").glob("*.jpg"))  # real thumbnails were drawn
        # the checks can fail: a cell too narrow for its text, a model name over three lines, a page too wide
        driver.execute_script(BREAK)
        found = " | ".join(driver.execute_script(EVERY_PAGE))
        assert "page " in found and 'TD "unbreakable' in found and 'model cell "a b c' in found, found
    finally:
        driver.set_window_size(WIDTH, 1000)
    print(f"{len(pages)} pages at {width} px checked; screenshots in {tmp_path}")
