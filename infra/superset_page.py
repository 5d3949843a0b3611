"""A Superset 6.1 page driver for a real browser: log in, open a dashboard, wait for every chart.

Chart states are read off the DOM that Superset's own frontend renders (the markers are listed in
:mod:`infra.superset_dom`). Every wait is an explicit wait on that DOM, polled by Selenium; no fixed sleeps.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from core.exceptions import LakehouseError
from infra import superset_dom as dom

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

ChartState = Literal["rendered", "error", "no_results"]
TERMINAL_STATES: frozenset[str] = frozenset({"rendered", "error", "no_results"})


class SupersetPageError(LakehouseError):
    """The page did not do what the driver waited for (login refused, dashboard not loading)."""


@dataclass(frozen=True)
class ChartResult:
    """One chart of a dashboard once it settled."""

    chart_id: int
    title: str
    viz_type: str
    state: ChartState
    error: str  # what the error or the empty state says; "" when rendered
    text: str  # the chart's visible text (a big number's value, a table's cells; the first 2000 chars)
    done_s: float  # from navigation start until this chart settled in its state


@dataclass(frozen=True)
class DashboardLoad:
    """A dashboard opened until every chart settled."""

    url: str
    charts: list[ChartResult]
    elapsed_s: float  # from navigation start (performance.timeOrigin) until the last chart settled
    tabs_opened: int = 0

    def by_title(self) -> dict[str, ChartResult]:
        return {chart.title: chart for chart in self.charts}


class DashboardTimeoutError(SupersetPageError, TimeoutError):
    """Some chart did not settle in time; ``pending`` says which and in what state."""

    def __init__(self, message: str, pending: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.pending = pending


@dataclass
class _Progress:
    """What the polls saw: each chart's latest look (kept when its tab is left), when it entered
    its state, and since when the visible page has looked the same."""

    charts: dict[int, dict[str, Any]] = field(default_factory=dict)
    since: dict[int, float] = field(default_factory=dict)
    visible: dict[int, str] = field(default_factory=dict)
    stable_since: float | None = None
    last: dict[str, Any] = field(default_factory=dict)

    def observe(self, snap: dict[str, Any]) -> None:
        now = snap["now"] / 1000
        visible = {c["id"]: c["state"] for c in snap["charts"] if c["visible"]}
        for chart in snap["charts"]:
            if not chart["visible"]:
                continue  # a chart in a tab not shown: what it looked like when shown stands
            if self.charts.get(chart["id"], {}).get("state") != chart["state"]:
                self.since[chart["id"]] = now
            self.charts[chart["id"]] = chart
        if visible != self.visible or self.stable_since is None:
            self.stable_since = now
        self.visible, self.last = visible, snap

    def settled(self) -> dict[int, dict[str, Any]]:
        return {i: c for i, c in self.charts.items() if c["state"] in TERMINAL_STATES}


def charts_in_layout(position_json: str | None, dashboard_charts: list[int]) -> dict[int, list[str]]:
    """Chart id -> the tabs it sits in (outermost first), from a dashboard's ``position_json``.

    Without a saved layout Superset lays out every chart of the dashboard itself, in no tab.
    """
    position = json.loads(position_json) if position_json else {}
    placed = {
        int(node["meta"]["chartId"]): [p for p in node.get("parents", []) if p.startswith("TAB-")]
        for node in position.values()
        if isinstance(node, dict) and node.get("type") == "CHART" and node.get("meta", {}).get("chartId")
    }
    return placed or {int(chart_id): [] for chart_id in dashboard_charts}


def _login_form_or_elsewhere(driver: WebDriver) -> Any:
    """The login form's button once shown; True when the browser was sent away from /login."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, '[data-test="login-button"]')
    if found:
        return found[0]
    page = driver.execute_script("return [location.pathname, document.readyState]")
    return page[1] == "complete" and not page[0].startswith("/login")


def _held_steadily(condition: Callable[[WebDriver], bool], polls: int) -> Callable[[WebDriver], bool]:
    """A wait condition true once ``condition`` has held on ``polls`` consecutive polls."""
    held = 0

    def check(driver: WebDriver) -> bool:
        nonlocal held
        held = held + 1 if condition(driver) else 0
        return held >= polls

    return check


class SupersetPage:
    """Drives Superset's own pages in ``driver`` (a :func:`infra.browser.chromium_session`)."""

    def __init__(self, driver: WebDriver, poll_s: float = 0.05) -> None:
        self.driver = driver
        self.poll_s = poll_s
        self.base_url = ""

    def _wait(self, timeout: float) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=self.poll_s)

    def login(self, base_url: str, user: str, password: str, timeout: float = 60.0) -> None:
        """Sign in through Superset's login form, as a person would.

        Raises SupersetPageError with Superset's message when the login is refused.
        """
        from selenium.common.exceptions import TimeoutException

        self.base_url = base_url.rstrip("/")
        try:
            for attempt in range(2):
                self.driver.get(f"{self.base_url}/login/")
                # Someone already signed in is sent on from /login/: sign them out, then log in.
                button = self._wait(timeout).until(_login_form_or_elsewhere)
                if button is not True:
                    break
                if attempt == 0:
                    self.driver.get(f"{self.base_url}/logout/")
            else:
                raise SupersetPageError("still signed in after /logout/: cannot log in as another user")
        except TimeoutException as exc:
            raise SupersetPageError(f"no login form at {self.base_url}/login/ in {timeout:.0f}s") from exc
        self._fill_login_form_and_submit(user, password)

        def outcome(driver: WebDriver) -> str | bool:
            # Refused: Superset reloads the form with a danger toast. Accepted: it leaves /login.
            page = driver.execute_script(
                "const t = document.querySelector('[data-test=\"toast-container\"].toast--danger');"
                "return {path: location.pathname, ready: document.readyState === 'complete',"
                " refused: t ? t.innerText : null};"
            )
            if page["refused"]:
                return str(page["refused"])
            return bool(page["ready"] and not page["path"].startswith("/login")) and "ok"

        try:
            result = self._wait(timeout).until(outcome)
        except TimeoutException as exc:
            raise SupersetPageError(f"no answer to the login form in {timeout:.0f}s") from exc
        if result != "ok":
            raise SupersetPageError(f"Superset refused the login of {user!r}: {result}")

    def _fill_login_form_and_submit(self, user: str, password: str, attempts: int = 3) -> None:
        """Type both fields, make sure the form holds exactly that, and submit it.

        Keys sent while the page's React tree is still settling can be dropped or land in an
        input that is then replaced (CI once saw a correct password refused that way), so each
        attempt re-finds the inputs, clears them, types, and reads the values back.
        """
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.common.by import By

        wanted = {"username-input": user, "password-input": password}

        def holds_wanted(driver: WebDriver) -> bool:
            for test_id, text in wanted.items():
                found = driver.find_elements(By.CSS_SELECTOR, f'[data-test="{test_id}"]')
                if not found or found[0].get_attribute("value") != text:
                    return False
            return True

        for _ in range(attempts):
            try:
                for test_id, text in wanted.items():
                    field_ = self.driver.find_element(By.CSS_SELECTOR, f'[data-test="{test_id}"]')
                    field_.clear()
                    field_.send_keys(text)
                # Held over consecutive polls, not at one instant: a re-render right after
                # typing would otherwise empty the form between the check and the click.
                self._wait(3.0).until(_held_steadily(holds_wanted, polls=4))
                self.driver.find_element(By.CSS_SELECTOR, '[data-test="login-button"]').click()
                return
            except (StaleElementReferenceException, TimeoutException):
                continue
        raise SupersetPageError(f"the login form did not keep what was typed after {attempts} attempts")

    def dashboard_url(self, url_or_slug: str | int, force: bool = False) -> str:
        """The dashboard's address: a full URL as given, else ``/superset/dashboard/<slug or id>/``."""
        text = str(url_or_slug)
        url = text if "://" in text else f"{self.base_url}/superset/dashboard/{text}/"
        # force=true: Superset's charts bypass its result cache (a cold query on every chart).
        return f"{url}{'&' if '?' in url else '?'}force=true" if force else url

    def open_dashboard(
        self, url_or_slug: str | int, timeout: float = 180.0, settle_s: float = 0.5, force: bool = False
    ) -> DashboardLoad:
        """Open a dashboard and wait until every chart of its layout has settled: rendered, error
        or no results.

        Charts below the fold count (a chart still loading is scrolled into view, for Superset's
        dashboard virtualization), and so do charts in other tabs (each such tab is opened in
        turn). A state counts once the visible page has looked the same for ``settle_s``. Raises
        DashboardTimeoutError naming the charts not settled after ``timeout``.
        """
        from selenium.common.exceptions import TimeoutException

        url = self.dashboard_url(url_or_slug, force)
        # The layout is read before the dashboard loads, so its requests do not slow the load.
        expected = self._expected_charts(url)
        self.driver.get(url)
        progress = _Progress()
        tabs_opened, first_tabs = 0, None
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = max(deadline - time.monotonic(), self.poll_s)
                self._wait(left).until(lambda _: self._settled(progress, settle_s, bool(expected)))
                missing = [chart_id for chart_id in expected if chart_id not in progress.settled()]
                if not missing:
                    break
                first_tabs = first_tabs or self.active_tabs()
                tabs_opened += self._reveal(expected[missing[0]], missing)
        except TimeoutException as exc:
            seen = progress.charts
            pending = [seen.get(i, {"id": i, "state": "not on the page"}) for i in expected]
            pending = [c for c in pending if c["state"] not in TERMINAL_STATES]
            raise DashboardTimeoutError(
                f"{url}: charts not settled in {timeout:.0f}s (page at {progress.last.get('url')}): "
                + json.dumps(pending)[:2000],
                pending,
            ) from exc
        for tab in first_tabs or []:  # back to the tabs the dashboard opened on, for a screenshot
            self.show_tab(tab)
        self.driver.execute_script("window.scrollTo(0, 0)")
        settled = progress.settled()
        results = [
            ChartResult(
                chart_id=chart_id,
                title=c["title"] or "",
                viz_type=c["viz"] or "",
                state=c["state"],
                error=c["message"],
                text=c["text"],
                done_s=progress.since[chart_id],
            )
            for chart_id, c in settled.items()
            if chart_id in expected or not expected
        ]
        return DashboardLoad(url, results, max((r.done_s for r in results), default=0.0), tabs_opened)

    def _settled(self, progress: _Progress, settle_s: float, charts_expected: bool = True) -> bool:
        """One poll: True once every chart in view is in a final state and the page stopped changing."""
        snap = self.driver.execute_script(dom.SNAPSHOT_JS)
        progress.observe(snap)
        waiting = [c["id"] for c in snap["charts"] if c["visible"] and c["state"] not in TERMINAL_STATES]
        if waiting:
            # Out of view, a chart may wait for the viewport (virtualization): bring one into view.
            self.driver.execute_script(dom.SCROLL_TO_CHART_JS, waiting[0])
            return False
        if not (snap["ready"] and snap["grid"] and not snap["pageLoading"]):
            return False
        if charts_expected and not progress.visible:
            return False  # the grid is up but its charts are not mounted yet
        assert progress.stable_since is not None  # observe() set it
        return snap["now"] / 1000 - progress.stable_since >= settle_s

    def _expected_charts(self, url: str) -> dict[int, list[str]]:
        """Chart id -> the tabs it sits in (outermost first), from the dashboard's saved layout."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if not self.driver.current_url.startswith(origin + "/"):
            self.driver.get(f"{origin}/health")  # any page of the origin, for the session's cookies
        key = parts.path.rstrip("/").rsplit("/", 1)[-1]
        layout = self.driver.execute_async_script(dom.LAYOUT_JS, key)
        if layout.get("error") or layout.get("missing"):
            raise SupersetPageError(f"no dashboard {key!r} at {origin}: {layout}")
        return charts_in_layout(layout.get("position"), layout.get("charts", []))

    def _reveal(self, tabs: list[str], missing: list[int]) -> int:
        """Show charts of the layout not seen yet: open their tabs (outermost first), or scroll
        down a screen when they sit in no tab. Returns how many tabs it opened."""
        if not tabs:
            if not self.driver.execute_script(dom.SCROLL_DOWN_JS):
                raise SupersetPageError(f"charts {missing} are in the dashboard's layout but not on the page")
            return 0
        for tab in tabs:
            self.show_tab(tab)
        return len(tabs)

    def active_tabs(self) -> list[str]:
        """The layout ids of the dashboard tabs shown now (``TAB-...``), outermost first."""
        return list(self.driver.execute_script(dom.ACTIVE_TABS_JS))

    def show_tab(self, tab: str) -> None:
        """Click the dashboard tab with layout id ``tab`` (antd renders it as ``data-node-key``)."""
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, f'[data-node-key="{tab}"]')
        if not found:
            raise SupersetPageError(f"no tab {tab} on the page")
        found[0].click()

    def screenshot(self, path: Path, timeout: float = 60.0) -> Path:
        """A PNG of the whole dashboard, below the fold included, once it has stopped moving.

        The viewport is stretched to the page's full height first (Superset re-lays out its charts
        for it, so we wait for them to settle again), and the capture is repeated until two
        captures in a row are the same picture: chart animations (ECharts draws in over about a
        second) are over by then.
        """
        from selenium.common.exceptions import TimeoutException

        width, height = self.driver.execute_script(
            "return [window.innerWidth, Math.max(document.documentElement.scrollHeight,"
            " document.body ? document.body.scrollHeight : 0)]"
        )
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        shots: list[str] = []  # base64 PNGs

        def still(_: WebDriver) -> bool:
            shots.append(self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"])
            return len(shots) > 1 and shots[-1] == shots[-2]

        try:
            if self.driver.execute_script("return !!document.querySelector('[data-test=\"grid-content\"]')"):
                progress = _Progress()
                self._wait(timeout).until(lambda _: self._settled(progress, 0.3, charts_expected=False))
            self._wait(timeout).until(still)
        except TimeoutException as exc:
            raise SupersetPageError(f"the page did not stop changing in {timeout:.0f}s") from exc
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shots[-1]))
        return path
