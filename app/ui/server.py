"""The generator's web page as a background process: ``make ui`` starts it, ``make down`` stops it.

Streamlit serves ``app/ui/page.py`` on ``ui.host:ui.port`` (127.0.0.1 by default), headless,
without usage statistics and without watching files. The page's own runs are processes of their
own (:mod:`app.ui.runs`), so stopping or restarting the page never stops a generation.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from core.exceptions import PortInUseError, ServiceStartError
from core.settings import LakehouseSettings
from infra.process import ManagedProcess, port_is_free

NAME = "ui"
PAGE = Path(__file__).with_name("page.py")


class UiServer:
    """The Streamlit process serving the page."""

    def __init__(self, settings: LakehouseSettings) -> None:
        self.settings = settings
        self.process = ManagedProcess(
            NAME, settings.run_dir / f"{NAME}.pid", settings.logs_dir / f"{NAME}.log"
        )

    @property
    def url(self) -> str:
        return f"http://{self.settings.ui.host}:{self.settings.ui.port}"

    def argv(self) -> list[str]:
        ui = self.settings.ui
        return [
            sys.executable, "-m", "streamlit", "run", str(PAGE),
            "--server.address", ui.host,
            "--server.port", str(ui.port),
            "--server.headless", "true",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
            "--global.developmentMode", "false",
            "--client.toolbarMode", "minimal",
        ]  # fmt: skip

    def healthy(self) -> bool:
        try:
            # http on our own loopback address, never a user-given scheme.
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def start(self, timeout: float = 120) -> str:
        """Start the page unless it runs, wait until it answers; returns its address."""
        if self.process.is_running() and self.healthy():
            return self.url
        if not self.process.is_running() and not port_is_free(self.settings.ui.host, self.settings.ui.port):
            raise PortInUseError(self.settings.ui.port, "LAKEHOUSE_UI__PORT", "the generator's web page")
        if not self.process.is_running():
            self.process.start(self.argv(), env=self.settings.to_env(), cwd=PAGE.parents[2])

        def probe() -> bool:
            if not self.process.is_running():
                raise ServiceStartError(
                    NAME, "the process exited", self.process.log_file, self.process.tail()
                )
            return self.healthy()

        try:
            Retrying(
                stop=stop_after_delay(timeout), wait=wait_fixed(0.5), retry=retry_if_result(lambda r: not r)
            )(probe)
        except RetryError:
            raise ServiceStartError(
                NAME, f"no answer within {timeout:.0f}s", self.process.log_file, self.process.tail()
            ) from None
        return self.url

    def stop(self) -> bool:
        """Stop the page (its runs go on). True when it was running."""
        return self.process.stop(timeout=20)
