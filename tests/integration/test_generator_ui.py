"""The generator's web page in a real browser: configure, run into Iceberg, count through Trino.

Headless Debian Chromium drives the page served by ``lakehouse ui`` (UiServer) against the test
stack. The run lands in a namespace of its own, so the exact counts other tests check in
``raw`` are untouched.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from app.ui import runs
from app.ui.server import UiServer
from core import clients, prometheus_api
from core.settings import LakehouseSettings
from infra.browser import chromium_session

pytestmark = pytest.mark.integration

NAMESPACE = "ui_browser_raw"
FINISHED = re.compile(r"Run finished: batch (gen-[0-9a-f]{16}), ([0-9,]+) events")


@pytest.fixture(scope="module")
def page_url(settings: LakehouseSettings) -> Iterator[str]:
    server = UiServer(settings)
    url = server.start(timeout=120)
    yield url
    server.stop()


def _alerts(driver: WebDriver) -> list[str]:
    # One script reads every alert's text at once: Streamlit replaces elements on each rerun, so
    # finding them and then reading each one's .text can meet an element already gone (stale).
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('div[data-testid=\"stAlert\"]'), e => e.innerText);"
    )
    return [str(t) for t in texts or []]


def _wait_alert(driver: WebDriver, needle: str, timeout: float = 60) -> str:
    def found(d: WebDriver) -> str | bool:
        return next((text for text in _alerts(d) if needle in text), False)

    return str(_wait(driver, timeout).until(found))


def _wait(driver: WebDriver, timeout: float) -> WebDriverWait:
    """A wait that polls again when a rerun replaced the element it was looking at."""
    return WebDriverWait(
        driver, timeout, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,)
    )


def _type(driver: WebDriver, label: str, value: str) -> None:
    def typed(d: WebDriver) -> bool:
        field = d.find_element(By.CSS_SELECTOR, f'input[aria-label="{label}"]')
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value, Keys.ENTER)
        return True

    _wait(driver, 30).until(typed)


def _click(driver: WebDriver, xpath: str) -> None:
    def clicked(d: WebDriver) -> bool:
        element = d.find_element(By.XPATH, xpath)
        if not element.is_displayed():
            return False
        element.click()
        return True

    _wait(driver, 30).until(clicked)


def test_the_page_configures_and_runs_a_generation_into_iceberg(
    settings: LakehouseSettings, page_url: str, tmp_path: Path
) -> None:
    seed = secrets.randbelow(10**6)
    with chromium_session() as driver:
        driver.get(page_url)
        _wait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, 'input[aria-label="Subscribers"]'))
        _type(driver, "Subscribers", "5")  # below the model's minimum: shown beside the field
        error = _wait_alert(driver, "subscribers:")
        assert "greater than or equal to 10" in error
        _type(driver, "Subscribers", "300")
        _type(driver, "Days", "1")
        _type(driver, "Seed", str(seed))
        # Streamlit leaves the last run's elements on screen until the rerun replaces them.
        _wait(driver, 60).until(
            lambda d: (
                any("Scenario valid" in t for t in _alerts(d))
                and not any(t.startswith("subscribers:") for t in _alerts(d))
            )
        )

        _click(driver, "//*[@role='tab'][.//p[text()='Run']]")
        _type(driver, "Iceberg namespace", NAMESPACE)
        before = {run.run_id for run in runs.list_runs(settings)}
        # The run directory appears once the page has spawned the generation (slower on a loaded
        # machine). A click that lands while Streamlit reruns for the field above is dropped (CI
        # saw it): click again; the page runs one generation at a time, so a second click that
        # did get through starts nothing more.
        for _ in range(3):
            _click(driver, "//button[contains(., 'Start run')]")
            try:
                _wait(driver, 45).until(lambda d: {r.run_id for r in runs.list_runs(settings)} - before)
                break
            except TimeoutException:
                continue
        assert {r.run_id for r in runs.list_runs(settings)} - before, (
            "three clicks on Start run started nothing"
        )
        (new,) = [r for r in runs.list_runs(settings) if r.run_id not in before]
        finished = _wait_alert(driver, "Run finished", timeout=240)
        match = FINISHED.search(finished)
        assert match, finished
        batch_id, events = match[1], int(match[2].replace(",", ""))
        run = runs.read_run(new.directory)
        assert run.state == "finished" and run.report is not None
        assert (batch_id, events) == (run.report["batch_id"], run.report["rows"])
        shots = Path(os.environ.get("LAKEHOUSE_SCREENSHOTS_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shots / "generator-ui.png"))

        # The page reconnects to its runs: a fresh load shows the same finished run.
        driver.get(page_url)
        _click(driver, "//*[@role='tab'][.//p[text()='Run']]")
        assert batch_id in _wait_alert(driver, "Run finished")

    ((landed,),) = clients.trino_query(
        settings, f"SELECT count(*) FROM cdr WHERE batch_id = '{batch_id}'", schema=NAMESPACE
    )
    assert landed == events > 0


def _metric(driver: WebDriver, label: str) -> str | bool:
    for metric in driver.find_elements(By.CSS_SELECTOR, 'div[data-testid="stMetric"]'):
        if metric.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text == label:
            return str(metric.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text)
    return False


def test_the_operations_tab_shows_the_health_prometheus_sees(
    settings: LakehouseSettings, page_url: str, tmp_path: Path
) -> None:
    up = prometheus_api.query(settings, "up")
    assert up, "Prometheus scrapes nothing"
    with chromium_session() as driver:
        driver.get(page_url)
        _click(driver, "//*[@role='tab'][.//p[text()='Operations']]")
        shown = _wait(driver, 60).until(lambda d: _metric(d, "Targets up"))
        healthy = sum(1 for t in prometheus_api.query(settings, "up") if t.value == 1)
        assert shown == f"{healthy}/{len(up)}", shown
        assert not any("did not answer" in text for text in _alerts(driver))
        firing = prometheus_api.query(settings, 'ALERTS{alertstate="firing"}')
        _wait_alert(driver, "Firing:" if firing else "No alert firing")
        for label in ("Ingest (rows/s)", "Lag (records)", "Last commit (s ago)", "Quarantined (5 min)"):
            assert _metric(driver, label) is not False, label
        shots = Path(os.environ.get("LAKEHOUSE_SCREENSHOTS_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1400, 1800)
        driver.save_screenshot(str(shots / "operations.png"))
