"""Drive a generated report in headless Chromium (Debian packages chromium + chromium-driver, via Selenium).

Sorts a column, switches the significance reference row, opens a drill-down page, follows filters and
pages, checks that a hostile sample fires no alert and leaves no live element, asserts the browser logged
no console error on any page visited, and saves a screenshot of the overview as a test artifact.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from demo_runs import XSS_TEXT, demo_run

from mulcot_bench.report import render_report

ARTIFACTS = Path(__file__).parent / "artifacts"


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
    run_dir = demo_run(root, models=6, datasets=2, n=130, images=True, xss=True)
    return render_report(run_dir, root / "report").parent


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
        "--window-size=1400,1000",
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

    # overview: screenshot as a test artifact
    visit((report / "index.html").as_uri())
    assert "mulcot-bench leaderboard" in driver.title
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "overview.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"overview screenshot: {shot}")

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
