"""The HTML report in a real browser: Debian's headless Chromium driven by selenium, from file://.

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


def _site(tmp_path: Path) -> Path:
    store = Store(tmp_path / "bench.db")
    lvis = make_test_set(120, ["person", "dog", "cat", "car"], unannotated=0.3, seed=11)
    for i, (method, quality) in enumerate((("asl", 1.6), ("ignore", 0.4), ("negative", 1.1), ("wce", 2.2))):
        for seed in (0, 1):
            add_run(store, lvis, method, "lvis", seed, quality, index=2 * i + seed)
    return build_report(store, fmt="html", out=tmp_path / "site", test_sets=Loader({"lvis": lvis}), n_boot=100)


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
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if os.environ.get("BENCH_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["BENCH_KEEP_SCREENSHOT"])
