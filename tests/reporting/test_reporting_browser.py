"""The HTML report in a real browser: Debian's headless Chromium driven by selenium, from file://.

Checks sorting and filtering, that the main leaderboard, the collapsed ``<details>`` settings and the
run page's plots render, and saves screenshots (PNG) of the main leaderboard and of one run page
under the test's temporary folder (also copied to ``$BENCH_SCREENSHOTS`` when set).
Skips with a reason when Chromium, chromedriver or selenium is absent, except under CI=true (where
.ci/run installs the Debian packages), where it fails instead.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from test_reporting_factory import Loader, add_run, make_test_set

from bench.reporting import build_report
from bench.store import Store

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000")


def _missing() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "needs selenium (pip install selenium)"
    return None


@pytest.fixture
def browser(tmp_path):
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser test cannot run: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + (f"--user-data-dir={tmp_path / 'chromium-profile'}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


HISTORY = [{"epoch": e, "loss": 30.0 / (e + 1) + 2, "val_map_c": 60.0 + 10 * (1 - 0.7 ** e)} for e in range(1, 13)]


def _site(tmp_path: Path) -> Path:
    store = Store(tmp_path / "bench.db")
    lvis = make_test_set(120, ["person", "dog", "cat", "car"], unannotated=0.3, seed=11)
    for i, (method, quality) in enumerate((("asl", 1.6), ("ignore", 0.4), ("negative", 1.1), ("wce", 2.2))):
        for seed in (0, 1):
            add_run(store, lvis, method, "lvis", seed, quality, index=2 * i + seed)
    scene = make_test_set(100, ["Beach", "Sunset", "FallFoliage", "Field", "Mountain", "Urban"], seed=12)
    for j, dataset in enumerate(("scene+rpa[p=0.1]", "scene+rpa[p=0.5]", "scene+single-positive")):
        for i, (method, quality) in enumerate((("ignore", 0.6), ("negative", 1.2), ("selective", 1.4))):
            for seed in (0, 1, 2):
                add_run(store, scene, method, dataset, seed, quality + 0.2 * j, index=100 + 10 * (3 * j + i) + seed,
                        extra={"history": HISTORY, "notes": ["backbone resnet50 started from random weights"]}
                        if method == "selective" else {"history": HISTORY})
    add_run(store, scene, "negative", "scene+rpa[p=0.5]", 0, 2.5, select_on="test", index=300)
    return build_report(store, fmt="html", out=tmp_path / "site", test_sets=Loader({"lvis": lvis, "scene": scene}),
                        n_boot=100)


def _keep(shot: Path) -> None:
    """Copy a screenshot to ``$BENCH_SCREENSHOTS`` (when set) for a person to look at."""
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("BENCH_SCREENSHOTS"):
        folder = Path(os.environ["BENCH_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, folder / shot.name)


def _labels(table) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_element(By.CSS_SELECTOR, "td.label .name").text
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr") if row.is_displayed()]


def _values(table, column: int) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.CSS_SELECTOR, "td")[column].get_attribute("data-value")
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def test_sort_filter_and_screenshot(browser, tmp_path):
    from selenium.webdriver.common.by import By

    index = _site(tmp_path)
    browser.get(index.as_uri())
    assert browser.title == "bench leaderboard"
    table = browser.find_element(By.ID, "t-lvis")
    before = _labels(table)
    assert before[:4] == ["asl", "ignore", "negative", "wce"]  # our rows first, by name

    header = table.find_elements(By.CSS_SELECTOR, "thead th")[1]
    assert header.text == "mAP(C)"
    header.click()
    after = _labels(table)
    assert after != before and sorted(after) == sorted(before)
    values = [float(v) for v in _values(table, 1) if v]
    assert values == sorted(values, reverse=True)  # first click: best first for a higher-is-better metric
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert [float(v) for v in _values(table, 1) if v] == sorted(values)
    assert header.get_attribute("aria-sort") == "ascending"

    box = browser.find_element(By.CSS_SELECTOR, "input[data-table='t-lvis']")
    box.send_keys("ignore")
    # ours + CE/WCE (Ignore)
    assert all("ignore" in label.lower() for label in _labels(table)) and len(_labels(table)) == 3

    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    _keep(shot)


def test_main_leaderboard_details_and_run_page_plots_render(browser, tmp_path):
    from selenium.webdriver.common.by import By

    index = _site(tmp_path)
    browser.get(index.as_uri())
    board = browser.find_element(By.ID, "board-scene")
    assert board.is_displayed() and board.find_element(By.TAG_NAME, "h2").text == "scene: main leaderboard"
    table = board.find_element(By.TAG_NAME, "table")
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers == ["Method", "rpa[p=0.1]", "rpa[p=0.5]", "single-positive", "Notes"]
    assert _labels(table) == ["ignore", "negative", "negative ⟨select_on=test⟩", "selective"]
    bold = table.find_elements(By.CSS_SELECTOR, "td.best")
    assert len(bold) == 3 and all(cell.value_of_css_property("font-weight") == "700" for cell in bold)
    assert all(c.is_displayed() and c.size["height"] > 0 for c in table.find_elements(By.CSS_SELECTOR, "tbody td"))
    nav = browser.find_element(By.CSS_SELECTOR, "nav a[href='#board-scene']")
    assert nav.text == "scene: main leaderboard"
    shot = tmp_path / "main-leaderboard.png"
    assert board.screenshot(str(shot))
    _keep(shot)

    details = browser.find_element(By.CSS_SELECTOR, "#scene-rpa-p-0-5 details.setting")
    line = details.find_element(By.CSS_SELECTOR, "li code")
    assert details.get_attribute("open") is None and not line.is_displayed()  # collapsed by default
    summary = details.find_element(By.TAG_NAME, "summary")
    browser.execute_script("arguments[0].scrollIntoView()", summary)
    summary.click()
    assert details.get_attribute("open") is not None and line.is_displayed()
    assert line.text.startswith("evaluator = partial")

    link = board.find_element(By.CSS_SELECTOR, "tbody tr td.label .runs a")
    browser.get(link.get_attribute("href"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("ignore on scene+")
    curves = browser.find_elements(By.CSS_SELECTOR, "figure.curve svg")
    assert len(curves) == 2
    for svg in curves:
        assert svg.is_displayed() and svg.size["width"] > 300 and svg.size["height"] > 150
        assert svg.find_element(By.TAG_NAME, "polyline").size["width"] > 100  # the line was laid out
    bars = browser.find_elements(By.CSS_SELECTOR, "figure.classes rect.bar")
    assert len(bars) == 6 and all(bar.size["height"] > 0 for bar in bars)
    reproduce = browser.find_element(By.CSS_SELECTOR, "pre.reproduce").text
    assert reproduce.startswith("bench run --method ignore --dataset 'scene+rpa[p=0.1]'")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 120, 4000))  # the whole page in one screenshot
    shot = tmp_path / "run-page.png"
    assert browser.save_screenshot(str(shot))
    _keep(shot)
