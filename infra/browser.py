"""Headless Chromium for tests and benchmarks: Debian's chromium and chromium-driver, never a download.

Selenium is a dev dependency: it is imported inside the functions that need it, so importing
``infra`` never needs it. The Superset page driver built on these sessions is
:mod:`infra.superset_page`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.exceptions import PrerequisiteError
from infra.process import apt_install, running_as_root

if TYPE_CHECKING:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_PACKAGES = ("chromium", "chromium-driver")
DEFAULT_VIEWPORT = (1600, 1200)
# The hosts a session may resolve; every other name fails inside Chromium (see chromium_flags).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# Chromium's shared memory goes to /dev/shm; a small one (a container's 64 MB) crashes renderers.
# Debian's /etc/chromium.d/dev-shm means to add --disable-dev-shm-usage then, but its check breaks
# when /dev/shm is mounted twice (as on this machine), so we decide ourselves.
_MIN_DEV_SHM = 1 << 30
_DEV_SHM = Path("/dev/shm")  # noqa: S108 - only its free space is read


def _dev_shm_is_small() -> bool:
    try:
        return shutil.disk_usage(_DEV_SHM).free < _MIN_DEV_SHM
    except OSError:
        return True


# Selenium Manager (a binary in the selenium wheel) downloads drivers and browsers and reports
# usage. We always name the driver, which skips it; these make it inert should anything reach it.
_SELENIUM_MANAGER_OFF = {"SE_AVOID_STATS": "true", "SE_OFFLINE": "true"}


def _installed() -> bool:
    return CHROMIUM.is_file() and CHROMEDRIVER.is_file()


def ensure_chromium() -> tuple[Path, Path]:
    """Debian's Chromium and ChromeDriver, as ``(chromium, chromedriver)``.

    Installed with apt when missing and we run as root; otherwise a PrerequisiteError names the
    command to run. Never a browser download: a test tool's own browser does not run here.
    """
    if not _installed():
        apt_install(*CHROMIUM_PACKAGES)
    if not _installed():
        raise PrerequisiteError(
            f"browser tests need Debian's Chromium and ChromeDriver ({CHROMIUM}, {CHROMEDRIVER}): "
            f"install them with `sudo apt-get install -y {' '.join(CHROMIUM_PACKAGES)}`"
        )
    return CHROMIUM, CHROMEDRIVER


def chromium_flags(
    user_data_dir: Path,
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
    extra: Sequence[str] = (),
    allow_hosts: Sequence[str] = LOCAL_HOSTS,
) -> list[str]:
    """The command-line flags of a headless session on this kind of machine.

    The network is closed here: without the background-networking, component-update and sync
    flags Chromium keeps trying Google's hosts (refused, many at a time, at every start). Even
    with them it still looks up a dozen (accounts, autofill, update and time servers, the default
    search engine) and Superset's pages load a telemetry pixel (apachesuperset.gateway.scarf.sh):
    the host resolver rule answers "not found" inside the browser for every host but
    ``allow_hosts``, so no lookup leaves the machine and nothing waits on one.
    """
    width, height = viewport
    flags = [
        "--headless=new",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--password-store=basic",  # no keyring daemon to ask on a headless machine
        f"--user-data-dir={user_data_dir}",
        f"--window-size={width},{height}",
        "--host-resolver-rules=" + ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {h}" for h in allow_hosts)]),
    ]
    if running_as_root():
        flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    if _dev_shm_is_small():
        flags.append("--disable-dev-shm-usage")
    return [*flags, *extra]


def chromium_options(
    user_data_dir: Path,
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
    extra: Sequence[str] = (),
    allow_hosts: Sequence[str] = LOCAL_HOSTS,
) -> Options:
    """Selenium options for Debian's Chromium with :func:`chromium_flags`."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in chromium_flags(user_data_dir, viewport, extra, allow_hosts):
        options.add_argument(flag)
    # Sessions type passwords into login forms: the password manager would offer to save them
    # and send a hash prefix of each to Google's leak check.
    options.add_experimental_option(
        "prefs",
        {
            "credentials_enable_service": False,
            "profile.password_manager_enabled": False,
            "profile.password_manager_leak_detection": False,
        },
    )
    return options


def chromedriver_service(log_file: Path | None = None) -> Service:
    """A ChromeDriver service with the driver's path given, so Selenium Manager never runs."""
    from selenium.webdriver.chrome.service import Service

    return Service(executable_path=str(CHROMEDRIVER), log_output=str(log_file) if log_file else None)


@contextlib.contextmanager
def chromium_session(
    viewport: tuple[int, int] = DEFAULT_VIEWPORT,
    page_load_timeout: float = 120.0,
    extra_flags: Sequence[str] = (),
    allow_hosts: Sequence[str] = LOCAL_HOSTS,
) -> Iterator[WebDriver]:
    """A fresh headless Chromium, driven by Selenium, quit (and its profile removed) on exit.

    ``viewport`` is the size of the page area (not of the window), so what is "above the fold"
    is the same on every run. ``extra_flags`` go after the standard ones; ``allow_hosts`` are
    the only host names the browser resolves (IP literals count as names here).
    """
    ensure_chromium()
    for name, value in _SELENIUM_MANAGER_OFF.items():
        os.environ.setdefault(name, value)
    from selenium.webdriver.chrome.webdriver import WebDriver

    workdir = Path(tempfile.mkdtemp(prefix="lakehouse-chromium-"))  # profile and driver log
    try:
        driver = WebDriver(
            options=chromium_options(workdir / "profile", viewport, extra_flags, allow_hosts),
            service=chromedriver_service(workdir / "chromedriver.log"),
        )
        try:
            driver.set_page_load_timeout(page_load_timeout)
            _fit_viewport(driver, viewport)
            yield driver
        finally:
            with contextlib.suppress(Exception):  # a crashed browser must not hide the test's error
                driver.quit()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fit_viewport(driver: WebDriver, viewport: tuple[int, int]) -> None:
    """Grow the window until its page area is ``viewport`` (the window's frame takes some)."""
    width, height = viewport
    inner_w, inner_h = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if (inner_w, inner_h) != (width, height):
        size = driver.get_window_size()
        driver.set_window_size(size["width"] + width - inner_w, size["height"] + height - inner_h)
