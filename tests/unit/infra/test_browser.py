"""infra.browser without a browser: the flags, the install rule, and Selenium Manager kept out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.exceptions import PrerequisiteError
from infra import browser

# What the machine's notes say a headless Chromium needs on this closed network (polyglot.md).
REQUIRED = [
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_flags_hold_what_this_machine_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "running_as_root", lambda: True)
    flags = browser.chromium_flags(tmp_path, (1024, 768), extra=["--lang=en-US"])
    assert set(REQUIRED) <= set(flags)
    assert f"--user-data-dir={tmp_path}" in flags
    assert "--window-size=1024,768" in flags
    assert "--no-sandbox" in flags
    assert flags[-1] == "--lang=en-US"


def test_only_local_hosts_resolve(tmp_path: Path) -> None:
    rules = [f for f in browser.chromium_flags(tmp_path) if f.startswith("--host-resolver-rules=")]
    assert rules == [
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"
    ]


def test_the_sandbox_stays_on_when_not_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "running_as_root", lambda: False)
    assert "--no-sandbox" not in browser.chromium_flags(tmp_path)


def test_missing_chromium_without_root_names_the_apt_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(browser, "CHROMEDRIVER", tmp_path / "chromedriver")
    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr(browser, "apt_install", lambda *packages: asked.append(packages) or False)
    with pytest.raises(PrerequisiteError, match=r"apt-get install -y chromium chromium-driver"):
        browser.ensure_chromium()
    assert asked == [("chromium", "chromium-driver")]


def test_present_chromium_is_not_installed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("chromium", "chromedriver"):
        (tmp_path / name).write_text("")
        monkeypatch.setattr(browser, name.upper(), tmp_path / name)
    monkeypatch.setattr(
        browser, "apt_install", lambda *_: pytest.fail("apt-get ran for an installed browser")
    )
    assert browser.ensure_chromium() == (tmp_path / "chromium", tmp_path / "chromedriver")


def test_selenium_manager_is_never_asked_for_a_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.driver_finder import DriverFinder
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    driver = tmp_path / "chromedriver"
    driver.write_text("")
    monkeypatch.setattr(browser, "CHROMEDRIVER", driver)

    def no_manager(*_: object) -> dict[str, str]:
        raise AssertionError("Selenium Manager was run: it would look for (and download) a driver")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_manager)
    finder = DriverFinder(browser.chromedriver_service(), browser.chromium_options(tmp_path / "profile"))
    assert finder.get_driver_path() == str(driver)


def test_importing_infra_does_not_need_selenium() -> None:
    code = "import sys, infra.browser, infra.superset_page; print('selenium' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
